"""Quality gate on promotion and drift references (snapshot on promote, restore on rollback)."""

from __future__ import annotations

import pytest

from registry import QualityGateFailed, Stage

pytestmark = pytest.mark.services


def test_gate_refuses_listing_every_failure_and_writes_nothing(staged):
    reg = staged
    reg.set_quality_gate("tok", {"mape": ("<=", 0.2), "r2": (">=", 0.9), "mae": ("<", 1.0)})
    reg.attach_evaluation("tok", "1.0.0", {"mape": 0.35, "r2": 0.95}, run_id="run-1")
    before = reg.history("tok")
    with pytest.raises(QualityGateFailed) as err:
        reg.promote_to_production("tok", "1.0.0")
    assert err.value.failures == [
        {"metric": "mae", "condition": "<", "threshold": 1.0, "value": None},
        {"metric": "mape", "condition": "<=", "threshold": 0.2, "value": 0.35},
    ]
    assert "mae=missing (needs < 1)" in str(err.value) and "mape=0.35 (needs <= 0.2)" in str(err.value)
    assert (err.value.model, err.value.version, err.value.stage) == ("tok", "1.0.0", "production")
    assert reg.get("tok", "1.0.0").stage is Stage.STAGING
    assert reg.history("tok") == before
    assert reg.check_quality_gate("tok", "1.0.0") == err.value.failures


def test_gate_passes_and_force_is_audited(staged):
    reg = staged
    reg.set_quality_gate("tok", {"mape": ("<=", 0.2)})
    reg.attach_evaluation("tok", "1.0.0", {"mape": 0.1})
    t = reg.promote_to_production("tok", "1.0.0")
    assert not t.forced and t.failures == []
    reg.attach_evaluation("tok", "1.1.0", {"mape": 0.5})
    t = reg.promote_to_production("tok", "1.1.0", force=True, actor="alice", reason="hotfix")
    assert t.forced and t.failures == [{"metric": "mape", "condition": "<=", "threshold": 0.2, "value": 0.5}]
    last = reg.history("tok")[-1]
    assert last.forced and last.failures[0]["value"] == 0.5 and last.actor == "alice"
    assert reg.get("tok", "1.1.0").evaluation == {"mape": 0.5}
    # rollback returns to an earlier production version without a gate check
    reg.set_quality_gate("tok", {"mape": ("<=", 0.01)})
    assert reg.rollback_model("tok").version == "1.0.0"


def test_gate_applies_to_configured_stages_only(registry):
    registry.register_model("tok", "1.0.0")
    registry.set_quality_gate("tok", {"r2": (">=", 0.9)})
    with pytest.raises(QualityGateFailed, match="r2=missing"):
        registry.transition("tok", "1.0.0", "staging")
    registry.set_quality_gate("tok", {"r2": (">=", 0.9)}, stages=("production",))
    registry.transition("tok", "1.0.0", "staging")
    assert registry.get_quality_gate("tok") == {"thresholds": {"r2": [">=", 0.9]}, "stages": ["production"]}
    registry.set_quality_gate("tok", {})
    assert registry.get_quality_gate("tok") is None
    registry.promote_to_production("tok", "1.0.0")


@pytest.mark.parametrize("thresholds, message", [
    ({"mape": ("~", 0.2)}, "condition must be one of"),
    ({"mape": ("<=",)}, "must be \\(condition, value\\)"),
    ({"mape": ("<=", "x")}, "value must be a finite number"),
    ({"mape": ("<=", float("inf"))}, "value must be a finite number"),
    ({"bad name": ("<=", 1)}, "metric name must be"),
    ([("mape", "<=", 0.2)], "thresholds must be a dict"),
])
def test_bad_gate(registry, thresholds, message):
    registry.register_model("tok", "1.0.0")
    with pytest.raises(ValueError, match=message):
        registry.set_quality_gate("tok", thresholds)


@pytest.mark.parametrize("metrics, message", [
    ({"mape": float("nan")}, "must be finite"),
    ({"mape": "0.1"}, "must be a number"),
    ({"mape": True}, "must be a number"),
    ("mape=0.1", "must be a dict"),
])
def test_bad_evaluation(registry, metrics, message):
    registry.register_model("tok", "1.0.0")
    with pytest.raises(ValueError, match=message):
        registry.attach_evaluation("tok", "1.0.0", metrics)
    assert registry.get_evaluation("tok", "1.0.0") is None


def test_reference_snapshot_on_promote_and_restore_on_rollback(staged):
    reg = staged
    ref_a = {"prediction": {"mean": 10.0, "sample": [1.0, 2.0, 3.0]}}
    ref_b = {"prediction": {"mean": 20.0, "sample": [4.0, 5.0]}}
    reg.set_reference("tok", "1.0.0", ref_a)
    reg.set_reference("tok", "1.1.0", ref_b)
    assert reg.get_reference("tok", "1.0.0") == ref_a
    assert reg.get_active_reference("tok") is None
    reg.promote_to_production("tok", "1.0.0")
    assert reg.get_active_reference("tok") == ref_a
    # editing the stored reference of the production version does not touch the active snapshot
    reg.set_reference("tok", "1.0.0", {"prediction": {"mean": 99.0}})
    assert reg.get_active_reference("tok") == ref_a
    reg.promote_to_production("tok", "1.1.0")
    assert reg.get_active_reference("tok") == ref_b
    reg.rollback_model("tok")
    assert reg.get_active_reference("tok") == ref_a  # the old snapshot comes back
    reg.promote_to_production("tok", "2.0.0")  # no reference: the monitor falls back to first events
    assert reg.get_active_reference("tok") is None


def test_bad_reference(staged):
    with pytest.raises(ValueError, match="reference must be a dict"):
        staged.set_reference("tok", "1.0.0", [1, 2])
    with pytest.raises(ValueError, match="finite numbers"):
        staged.set_reference("tok", "1.0.0", {"x": float("inf")})
    with pytest.raises(KeyError):
        staged.set_reference("tok", "9.0.0", {"x": 1})
