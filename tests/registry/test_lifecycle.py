"""Stages, promotion, rollback, aliases and the audit history against a real Redis."""

from __future__ import annotations

import time
import uuid

import pytest

from registry import (
    ALLOWED_TRANSITIONS,
    AliasNotFound,
    IllegalTransition,
    ModelNotFound,
    NoPreviousVersion,
    Stage,
    VersionNotFound,
)

pytestmark = pytest.mark.services


def _stages(reg, name="tok"):
    return {mv.version: mv.stage.value for mv in reg.list_versions(name)}


def _to_stage(reg, name, version, stage):
    """Walk a fresh development version to ``stage`` along allowed moves."""
    path = {"development": [], "staging": ["staging"], "production": ["staging", "production"],
            "deprecated": ["staging", "deprecated"], "archived": ["archived"]}[stage]
    for s in path:
        reg.transition(name, version, s)


@pytest.mark.parametrize("src", list(Stage))
@pytest.mark.parametrize("dst", list(Stage))
def test_transition_matrix_enforced(registry, src, dst):
    registry.register_model("tok", "1.0.0")
    _to_stage(registry, "tok", "1.0.0", src.value)
    before = len(registry.history("tok"))
    if dst in ALLOWED_TRANSITIONS[src]:
        t = registry.transition("tok", "1.0.0", dst)
        assert (t.from_stage, t.to_stage) == (src, dst)
        assert registry.get("tok", "1.0.0").stage is dst
    else:
        with pytest.raises(IllegalTransition) as err:
            registry.transition("tok", "1.0.0", dst)
        assert (err.value.from_stage, err.value.to_stage) == (src.value, dst.value)
        assert f"{src.value} -> {dst.value} is not allowed" in str(err.value)
        assert registry.get("tok", "1.0.0").stage is src  # nothing half-written
        assert len(registry.history("tok")) == before


def test_unknown_stage_and_unknown_version(staged):
    accepted = "development, staging, production, deprecated, archived"
    with pytest.raises(ValueError, match=f"stage must be one of {accepted}; got 'live'"):
        staged.transition("tok", "1.0.0", "live")
    with pytest.raises(VersionNotFound):
        staged.transition("tok", "9.9.9", "production")
    with pytest.raises(ModelNotFound):
        staged.transition("nope", "1.0.0", "staging")


def test_promote_demotes_previous_production(staged):
    reg = staged
    t1 = reg.promote_to_production("tok", "1.0.0", actor="alice", reason="first release")
    assert (t1.kind, t1.production, t1.previous_production) == ("promote", "1.0.0", None)
    t2 = reg.promote_to_production("tok", "1.1.0", actor="bob", reason="better")
    assert (t2.production, t2.previous_production, t2.previous_version) == ("1.1.0", "1.0.0", "1.0.0")
    assert _stages(reg) == {"1.0.0": "deprecated", "1.1.0": "production", "2.0.0": "staging"}
    assert reg.get_production_version("tok") == "1.1.0"
    assert reg.previous_production_versions("tok") == ["1.0.0"]
    last = reg.history("tok")[-1]
    assert (last.actor, last.reason, last.entry_id) == ("bob", "better", t2.entry_id)
    with pytest.raises(IllegalTransition, match="production -> production"):
        reg.promote_to_production("tok", "1.1.0")


def test_rollback_walks_back_the_stack(staged):
    reg = staged
    for v in ("1.0.0", "1.1.0", "2.0.0"):
        reg.promote_to_production("tok", v)
    t = reg.rollback_model("tok", actor="oncall", reason="p95 latency", alert_id="alert-42")
    assert (t.kind, t.version, t.production, t.previous_production) == ("rollback", "1.1.0", "1.1.0", "2.0.0")
    assert (t.actor, t.reason, t.alert_id) == ("oncall", "p95 latency", "alert-42")
    assert _stages(reg) == {"1.0.0": "deprecated", "1.1.0": "production", "2.0.0": "deprecated"}
    assert reg.rollback_model("tok").version == "1.0.0"
    with pytest.raises(NoPreviousVersion) as err:
        reg.rollback_model("tok")
    assert isinstance(err.value, IllegalTransition) and "no previous production version" in str(err.value)
    assert reg.get_production_version("tok") == "1.0.0"


def test_rollback_with_nothing_ever_in_production(staged):
    with pytest.raises(NoPreviousVersion, match="current production: none"):
        staged.rollback_model("tok")
    with pytest.raises(ModelNotFound):
        staged.rollback_model("nope")


def test_rollback_to_target(staged):
    reg = staged
    for v in ("1.0.0", "1.1.0", "2.0.0"):
        reg.promote_to_production("tok", v)
    t = reg.rollback_model("tok", "1.0.0")
    assert (t.version, t.previous_production) == ("1.0.0", "2.0.0")
    # 1.0.0 and everything promoted after it left the stack
    assert reg.previous_production_versions("tok") == []
    with pytest.raises(IllegalTransition, match="current production version"):
        reg.rollback_model("tok", "1.0.0")
    with pytest.raises(IllegalTransition, match="not an earlier production version"):
        reg.rollback_model("tok", "2.0.0")  # deprecated but rolled past: promote it instead
    with pytest.raises(VersionNotFound):
        reg.rollback_model("tok", "7.0.0")
    with pytest.raises(ValueError, match="semantic version"):
        reg.rollback_model("tok", "latest")


def test_demoting_production_directly_then_rollback_restores_it(staged):
    reg = staged
    reg.promote_to_production("tok", "1.0.0")
    t = reg.transition("tok", "1.0.0", "deprecated", reason="retire")
    assert t.production is None and reg.get_production_version("tok") is None
    assert reg.rollback_model("tok").version == "1.0.0"


def test_archived_version_leaves_the_rollback_stack(staged):
    reg = staged
    reg.promote_to_production("tok", "1.0.0")
    reg.promote_to_production("tok", "1.1.0")
    reg.transition("tok", "1.0.0", "archived")
    with pytest.raises(NoPreviousVersion):
        reg.rollback_model("tok")
    with pytest.raises(IllegalTransition):
        reg.transition("tok", "1.0.0", "production")


def test_aliases_beside_stages(staged):
    reg = staged
    reg.promote_to_production("tok", "1.0.0")
    t = reg.set_alias("tok", "champion", "1.0.0", actor="alice")
    assert (t.kind, t.alias, t.version, t.previous_version) == ("alias", "champion", "1.0.0", None)
    reg.set_alias("tok", "challenger", "2.0.0")
    t = reg.set_alias("tok", "champion", "1.1.0")
    assert t.previous_version == "1.0.0"
    assert reg.get_alias("tok", "champion") == "1.1.0"
    assert reg.aliases("tok") == {"challenger": "2.0.0", "champion": "1.1.0"}
    assert reg.get("tok", "2.0.0").aliases == ("challenger",)
    assert reg.get_production_version("tok") == "1.0.0"  # aliases do not move stages
    reg.delete_alias("tok", "challenger")
    assert reg.get_alias("tok", "challenger") is None
    with pytest.raises(AliasNotFound) as err:
        reg.delete_alias("tok", "challenger")
    assert (err.value.model, err.value.alias) == ("tok", "challenger") and isinstance(err.value, KeyError)
    assert "its aliases: champion" in str(err.value)
    assert reg.resolve_version("tok", "champion") == "1.1.0"
    assert reg.resolve_version("tok", "production") == "1.0.0"
    assert reg.resolve_version("tok", "2.0.0") == "2.0.0"
    with pytest.raises(AliasNotFound):
        reg.resolve_version("tok", "challenger")
    with pytest.raises(ModelNotFound):
        reg.resolve_version("nope", "champion")
    with pytest.raises(ValueError, match="alias must not be a stage name"):
        reg.set_alias("tok", "production", "1.0.0")
    with pytest.raises(ValueError, match="alias must be 1-128 characters"):
        reg.set_alias("tok", "my champion", "1.0.0")
    with pytest.raises(VersionNotFound):
        reg.set_alias("tok", "champion", "5.0.0")
    reg.register_model("tok", "0.1.0")
    reg.transition("tok", "0.1.0", "archived")
    with pytest.raises(IllegalTransition, match="archived"):
        reg.set_alias("tok", "champion", "0.1.0")
    assert [t.kind for t in reg.history("tok")].count("alias") == 4


def test_history_is_a_consistent_chain(staged):
    reg = staged
    reg.promote_to_production("tok", "1.0.0")
    reg.promote_to_production("tok", "2.0.0")
    reg.set_alias("tok", "champion", "2.0.0")
    reg.rollback_model("tok")
    hist = reg.history("tok")
    assert [h.kind for h in hist] == ["register", "transition"] * 3 + ["promote", "promote", "alias", "rollback"]
    for prev, cur in zip(hist, hist[1:]):
        assert cur.previous_production == prev.production
        assert cur.ts >= prev.ts and cur.entry_id > prev.entry_id
    assert hist[-1].production == reg.get_production_version("tok") == "1.0.0"
    assert [h.kind for h in reg.history("tok", limit=2)] == ["alias", "rollback"]
    with pytest.raises(ValueError, match="limit must be a positive int"):
        reg.history("tok", limit=0)


def test_production_at(staged):
    reg = staged
    t0 = time.time()
    time.sleep(0.01)
    reg.promote_to_production("tok", "1.0.0")
    time.sleep(0.01)
    t1 = time.time()
    time.sleep(0.01)
    reg.promote_to_production("tok", "1.1.0")
    time.sleep(0.01)
    t2 = time.time()
    time.sleep(0.01)
    reg.rollback_model("tok")
    time.sleep(0.01)
    t3 = time.time()
    assert reg.production_at("tok", t0) is None
    assert reg.production_at("tok", t1) == "1.0.0"
    assert reg.production_at("tok", t2) == "1.1.0"
    assert reg.production_at("tok", t3) == "1.0.0"
    assert reg.production_at("tok", 0) is None
    # the answer agrees with the audit entries' own timestamps
    promote = [h for h in reg.history("tok") if h.kind == "promote"][1]
    assert reg.production_at("tok", promote.ts) == "1.1.0"
    with pytest.raises(ValueError, match="ts must be a finite epoch time"):
        reg.production_at("tok", float("nan"))


def test_retried_operation_is_applied_once(staged, raw):
    """A client retry after a lost reply carries the same op id: the script does not apply it twice."""
    reg = staged
    reg.promote_to_production("tok", "1.0.0")
    reg.promote_to_production("tok", "1.1.0")
    mk = list(reg.keys.model("tok"))
    op = uuid.uuid4().hex
    first = reg._rollback(keys=mk, args=[op, "retry-test", "", "", ""])
    again = reg._rollback(keys=mk, args=[op, "retry-test", "", "", ""])
    assert first[0] == "ok" and again == ["dup", first[1]]
    assert reg.get_production_version("tok") == "1.0.0"
    assert sum(h.kind == "rollback" for h in reg.history("tok")) == 1
    # another writer got in between: the retry is still recognised
    reg.promote_to_production("tok", "2.0.0")
    assert reg._rollback(keys=mk, args=[op, "retry-test", "", "", ""]) == ["dup", first[1]]
    assert reg.get_production_version("tok") == "2.0.0"
    assert reg._entry("tok", first[1]).op_id == op
    # only the last OPS_KEPT op ids are kept
    for i in range(70):
        reg.set_alias("tok", "a", "1.0.0" if i % 2 else "2.0.0")
    ops = reg.keys.model("tok").ops
    assert raw.hlen(ops) == raw.llen(reg.keys.model("tok").op_order) == 64


def test_actor_and_reason_validation(staged):
    with pytest.raises(ValueError, match="actor must be a string"):
        staged.transition("tok", "1.0.0", "production", actor=None)
    with pytest.raises(ValueError, match="reason must be a string"):
        staged.transition("tok", "1.0.0", "production", reason=3)
    assert staged.get_production_version("tok") is None
