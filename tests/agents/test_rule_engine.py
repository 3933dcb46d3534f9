"""The rule engine's lifecycle: pending → firing → resolved, for, cooldown, hysteresis, dedup ids."""

from agents.rule_engine import RuleEngine
from streams.rules import Rule


def rule(**kw):
    base = {"name": "p95", "metric": "latency_p95_ms", "condition": ">", "threshold": 100, "for": "0s",
            "cooldown": "0s"}
    return Rule.from_dict({**base, **kw})


def run(engine, values, r, start=0.0, step=5.0):
    out = []
    for i, v in enumerate(values):
        for a in engine.evaluate("m", "1.0.0", {r.metric: v}, ts=start + i * step, rules=[r]):
            out.append((i, a.status))
    return out


def test_for_delays_firing_and_a_short_blip_never_fires():
    r = rule(**{"for": "10s"})
    assert run(RuleEngine(), [150, 90, 150, 150, 150, 50], r) == [(4, "firing"), (5, "resolved")]


def test_hysteresis_keeps_firing_until_resolve_threshold():
    r = rule(resolve_threshold=80)
    assert run(RuleEngine(), [150, 95, 85, 79, 150], r) == [(0, "firing"), (3, "resolved"), (4, "firing")]


def test_cooldown_suppresses_refire_then_fires():
    r = rule(cooldown="20s")
    # fires at t=0, resolves at t=5, breached again at t=10 and t=15 (within cooldown), fires at t=20
    assert run(RuleEngine(), [150, 50, 150, 150, 150], r) == [(0, "firing"), (1, "resolved"), (4, "firing")]


def test_episode_ids_are_deterministic_and_distinct_per_episode():
    r = rule()
    a, b = RuleEngine(), RuleEngine()
    alerts_a = [x for v, t in [(150, 0), (50, 5), (150, 10)] for x in a.evaluate("m", "1.0.0", {r.metric: v}, ts=t, rules=[r])]
    alerts_b = [x for v, t in [(150, 0), (50, 5), (150, 10)] for x in b.evaluate("m", "1.0.0", {r.metric: v}, ts=t, rules=[r])]
    assert [x.alert_id for x in alerts_a] == [x.alert_id for x in alerts_b]
    assert alerts_a[0].alert_id == alerts_a[1].alert_id  # firing and resolved of one episode
    assert alerts_a[0].alert_id != alerts_a[2].alert_id  # a new episode gets a new id


def test_state_round_trip_gives_same_decisions():
    r = rule(**{"for": "10s"})
    e = RuleEngine()
    e.evaluate("m", "1.0.0", {r.metric: 150}, ts=0, rules=[r])
    restored = RuleEngine.from_dict(e.to_dict())
    assert [a.alert_id for a in restored.evaluate("m", "1.0.0", {r.metric: 150}, ts=10, rules=[r])] == \
           [a.alert_id for a in e.evaluate("m", "1.0.0", {r.metric: 150}, ts=10, rules=[r])]


def test_glob_metric_rule_names_test_and_field_and_model_glob_filters():
    r = Rule.from_dict({"name": "drift-ks", "model": "tok-*", "metric": "drift.*.ks_drift", "condition": ">=",
                        "threshold": 1})
    e = RuleEngine()
    metrics = {"drift.prediction.ks_drift": 1.0, "drift.lang.ks_drift": 0.0, "mae": 3.0}
    alerts = e.evaluate("tok-a", "2.0.0", metrics, ts=1, rules=[r])
    assert [(a.fingerprint, a.metric) for a in alerts] == [("tok-a/2.0.0/drift-ks/drift.prediction.ks_drift",
                                                           "drift.prediction.ks_drift")]
    assert "KS drift on field 'prediction'" in alerts[0].message
    assert e.evaluate("zip", "2.0.0", metrics, ts=1, rules=[r]) == []


def test_missing_metric_changes_nothing_and_removed_rule_resolves():
    r = rule()
    e = RuleEngine()
    assert [a.status for a in e.evaluate("m", "1.0.0", {r.metric: 150}, ts=0, rules=[r])] == ["firing"]
    assert e.evaluate("m", "1.0.0", {}, ts=5, rules=[r]) == []
    resolved = e.evaluate("m", "1.0.0", {r.metric: 150}, ts=10, rules=[])
    assert [a.status for a in resolved] == ["resolved"] and "removed" in resolved[0].message
