"""Two processes racing 3,000 promote/rollback operations each on one model.

Every operation is one Lua script, so the history must stay a perfect chain and the production
pointer must equal the last audit entry at every instant an observer looks.
"""

from __future__ import annotations

import multiprocessing
import random
import time

import pytest

from registry import IllegalTransition, ModelRegistry, Stage

pytestmark = pytest.mark.services

VERSIONS = [f"1.{i}.0" for i in range(6)]
OPS_PER_WORKER = 3000


def _worker(url: str, prefix: str, seed: int, start, out) -> None:
    reg = ModelRegistry(url, prefix=prefix)
    rng = random.Random(seed)
    applied = refused = 0
    start.wait()
    for _ in range(OPS_PER_WORKER):
        try:
            if rng.random() < 0.55:
                reg.promote_to_production("race", rng.choice(VERSIONS), actor=f"w{seed}")
            else:
                reg.rollback_model("race", actor=f"w{seed}", reason="race")
            applied += 1
        except IllegalTransition:  # already production / nothing to roll back: refused whole
            refused += 1
    reg.close()
    out.put((applied, refused))


def test_two_processes_racing_promote_and_rollback(registry, redis_url, prefix, raw):
    for v in VERSIONS:
        registry.register_model("race", v)
        registry.transition("race", v, "staging")
    setup_entries = len(registry.history("race"))
    mk = registry.keys.model("race")

    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(redis_url, prefix, seed, start, out)) for seed in (1, 2)]
    for p in procs:
        p.start()
    start.set()

    # observe while they race: pointer and last audit entry read in one MULTI
    observations = mismatches = 0
    while any(p.is_alive() for p in procs):
        pipe = raw.pipeline(transaction=True)
        pipe.hget(mk.meta, "production")
        pipe.xrevrange(mk.history, count=1)
        pointer, last = pipe.execute()
        observations += 1
        if (pointer or "") != last[0][1]["production"]:
            mismatches += 1
        time.sleep(0.001)
    results = [out.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    applied = sum(a for a, _ in results)
    assert sum(a + r for a, r in results) == 2 * OPS_PER_WORKER
    assert applied > 1000  # the race actually happened
    assert observations > 10 and mismatches == 0

    hist = registry.history("race")
    race = hist[setup_entries:]
    assert len(race) == applied  # exactly one audit entry per applied operation
    broken = 0
    for i in range(max(setup_entries, 1), len(hist)):
        prev, cur = hist[i - 1], hist[i]
        broken += not (
            cur.previous_production == prev.production
            and cur.kind in ("promote", "rollback")
            and cur.to_stage is Stage.PRODUCTION
            and cur.production == cur.version
            and cur.version in VERSIONS
            and cur.previous_version == prev.production
            and cur.ts >= prev.ts
        )
    assert broken == 0
    assert registry.get_production_version("race") == hist[-1].production
    # the stage hash agrees with the pointer: exactly one production version
    stages = {mv.version: mv.stage for mv in registry.list_versions("race")}
    assert [v for v, s in stages.items() if s is Stage.PRODUCTION] == [hist[-1].production]
    assert set(stages.values()) <= {Stage.PRODUCTION, Stage.DEPRECATED, Stage.STAGING}
    # the rollback stack holds distinct earlier versions, never the current one
    stack = registry.previous_production_versions("race")
    assert len(stack) == len(set(stack)) and hist[-1].production not in stack
