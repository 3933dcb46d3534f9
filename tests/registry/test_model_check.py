"""The registry against a plain-Python model of the lifecycle: 600 seeded random operations.

After every operation the stages, the production pointer and the rollback stack in Redis must equal
the model's, and an operation must be refused exactly when the model refuses it.
"""

from __future__ import annotations

import random

import pytest

from registry import ALLOWED_TRANSITIONS, IllegalTransition, Stage

pytestmark = pytest.mark.services

VERSIONS = ["0.1.0", "1.0.0-rc.1", "1.0.0", "1.1.0", "2.0.0"]


class Model:
    def __init__(self) -> None:
        self.stages = {v: Stage.DEVELOPMENT for v in VERSIONS}
        self.prod: str | None = None
        self.prev: list[str] = []

    def _push(self, v: str) -> None:
        if v in self.prev:
            self.prev.remove(v)
        self.prev.append(v)

    def transition(self, v: str, to: Stage) -> bool:
        frm = self.stages[v]
        if to not in ALLOWED_TRANSITIONS[frm]:
            return False
        if to is Stage.PRODUCTION:
            if self.prod:
                self.stages[self.prod] = Stage.DEPRECATED
                self._push(self.prod)
            if v in self.prev:
                self.prev.remove(v)
            self.prod = v
        elif frm is Stage.PRODUCTION:
            self._push(v)
            self.prod = None
        if to is Stage.ARCHIVED and v in self.prev:
            self.prev.remove(v)
        self.stages[v] = to
        return True

    def rollback(self, target: str | None) -> bool:
        if target is None:
            if not self.prev:
                return False
            target, pos = self.prev[-1], len(self.prev) - 1
        else:
            if target == self.prod or target not in self.prev:
                return False
            pos = self.prev.index(target)
        if Stage.PRODUCTION not in ALLOWED_TRANSITIONS[self.stages[target]]:
            return False
        del self.prev[pos:]
        if self.prod:
            self.stages[self.prod] = Stage.DEPRECATED
        self.stages[target] = Stage.PRODUCTION
        self.prod = target
        return True


@pytest.mark.parametrize("seed", [1, 2])
def test_registry_matches_the_model(registry, seed):
    rng = random.Random(seed)
    for v in VERSIONS:
        registry.register_model("m", v)
    model = Model()
    applied = 0
    for step in range(300):
        r = rng.random()
        try:
            if r < 0.6:
                v = rng.choice(VERSIONS)
                to = rng.choices(list(Stage), weights=[2, 4, 4, 3, 0.3])[0]  # archiving is terminal: rare
                expected = model.transition(v, to)
                registry.transition("m", v, to, reason=f"step {step}")
            else:
                target = rng.choice([None, None, *VERSIONS])
                expected = model.rollback(target)
                registry.rollback_model("m", target)
            got = True
        except IllegalTransition:
            got = False
        assert got == expected, f"step {step}"
        applied += got
        state = {mv.version: mv.stage for mv in registry.list_versions("m")}
        assert state == model.stages, f"step {step}"
        assert registry.get_production_version("m") == model.prod
        assert registry.previous_production_versions("m") == model.prev
        if all(s is Stage.ARCHIVED for s in model.stages.values()):
            break
    assert applied > 20
    assert len(registry.history("m")) == len(VERSIONS) + applied
