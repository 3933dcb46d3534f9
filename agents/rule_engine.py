"""The rule engine: metric snapshots in, alert transitions out (no I/O).

Each fingerprint (``model/version/rule``, plus ``/metric`` for a rule whose metric is a glob)
moves ``inactive → pending → firing → inactive``:

* a breached condition makes it *pending*; once it has held for the rule's ``for`` it *fires*
  (immediately when ``for`` is 0), unless the fingerprint fired less than ``cooldown`` ago, in
  which case it stays pending until the cooldown has passed;
* a pending fingerprint whose condition no longer holds goes back to inactive without an alert;
* a firing one *resolves* when the value is back past ``resolve_threshold`` (hysteresis), or when
  its rule is deleted.

Time is the snapshot's event time, so replaying a stream gives the same decisions.  Every firing
starts an *episode*, numbered per fingerprint; the alert id is a hash of fingerprint and episode,
so re-processing after a restart (state restored from the checkpoint) yields the same id and the
dedup store drops the second copy.

Examples
--------
>>> from streams.rules import Rule
>>> rule = Rule.from_dict({"name": "p95", "metric": "latency_p95_ms", "condition": ">", "threshold": 100,
...                        "resolve_threshold": 80, "for": "10s"})
>>> engine = RuleEngine()
>>> [a.status for a in engine.evaluate("m", "1.0.0", {"latency_p95_ms": 150.0}, ts=0.0, rules=[rule])]
[]
>>> [a.status for a in engine.evaluate("m", "1.0.0", {"latency_p95_ms": 150.0}, ts=10.0, rules=[rule])]
['firing']
>>> [a.status for a in engine.evaluate("m", "1.0.0", {"latency_p95_ms": 90.0}, ts=20.0, rules=[rule])]
[]
>>> [a.status for a in engine.evaluate("m", "1.0.0", {"latency_p95_ms": 70.0}, ts=30.0, rules=[rule])]
['resolved']
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from streams.metric_names import parse_drift_metric
from streams.records import Alert
from streams.rules import Rule

_TEST_NAMES = {"ks": "KS", "psi": "PSI", "chi2": "chi-square", "zscore": "z-score"}


@dataclass
class FingerprintState:
    status: str = "inactive"  # inactive | pending | firing
    pending_since: float | None = None
    started_at: float | None = None
    episode: int = 0
    last_fired_at: float | None = None
    value: float | None = None
    model: str = ""
    version: str = ""
    rule: str = ""
    metric: str = ""
    threshold: float = 0.0
    condition: str = ""
    severity: str = "info"


def alert_id(fingerprint: str, episode: int) -> str:
    """Deterministic id of one firing episode of one fingerprint."""
    return hashlib.sha256(f"{fingerprint}#{episode}".encode()).hexdigest()[:32]


def describe(metric: str, value: float, rule: Rule) -> str:
    drift = parse_drift_metric(metric)
    if drift is not None:
        field, stat = drift
        test = stat[:-len("_drift")] if stat.endswith("_drift") else stat
        name = _TEST_NAMES.get(test.split("_")[0], test)
        return f"{name} drift on field '{field}' ({metric} = {value:.4g}, threshold {rule.condition} {rule.threshold:g})"
    return f"{metric} = {value:.4g} {rule.condition} {rule.threshold:g}"


class RuleEngine:
    """Alert lifecycle for the keys of one partition; :meth:`to_dict`/:meth:`from_dict` checkpoint it."""

    def __init__(self) -> None:
        self.states: dict[str, FingerprintState] = {}

    def evaluate(self, model: str, version: str, metrics: dict[str, float], *, ts: float,
                 rules: Iterable[Rule], labels: dict[str, str] | None = None,
                 context: dict[str, Any] | None = None) -> list[Alert]:
        """Alerts (firing or resolved) produced by one snapshot of ``model@version``."""
        out: list[Alert] = []
        live: set[str] = set()
        for rule in rules:
            if not rule.matches_model(model):
                continue
            glob = any(c in rule.metric for c in "*?[")
            for metric in rule.matching_metrics(metrics):
                fp = f"{model}/{version}/{rule.name}" + (f"/{metric}" if glob else "")
                live.add(fp)
                value = float(metrics[metric])
                alert = self._step(fp, rule, model, version, metric, value, ts, labels or {}, context or {})
                if alert is not None:
                    out.append(alert)
        # a firing fingerprint of this key whose rule is gone resolves
        prefix = f"{model}/{version}/"
        rule_names = {r.name for r in rules}
        for fp, st in list(self.states.items()):
            if fp.startswith(prefix) and fp not in live and st.rule not in rule_names:
                if st.status == "firing":
                    out.append(self._alert(fp, st, "resolved", st.value or 0.0, ts, None, labels or {}, context or {},
                                           message=f"rule {st.rule!r} was removed"))
                del self.states[fp]
        return out

    def _step(self, fp: str, rule: Rule, model: str, version: str, metric: str, value: float, ts: float,
              labels: dict[str, str], context: dict[str, Any]) -> Alert | None:
        st = self.states.get(fp)
        if st is None:
            st = self.states[fp] = FingerprintState(model=model, version=version, rule=rule.name, metric=metric)
        st.value = value
        st.threshold, st.condition, st.severity = rule.threshold, rule.condition, rule.severity
        if st.status == "firing":
            if rule.recovered(value):
                st.status, st.pending_since = "inactive", None
                return self._alert(fp, st, "resolved", value, ts, rule, labels, context)
            return None
        if not rule.breached(value):
            st.status, st.pending_since = "inactive", None
            return None
        if st.status == "inactive":
            st.status, st.pending_since = "pending", ts
        assert st.pending_since is not None
        held = ts - st.pending_since >= rule.for_s
        cooled = st.last_fired_at is None or ts - st.last_fired_at >= rule.cooldown_s
        if held and cooled:
            st.status = "firing"
            st.episode += 1
            st.started_at = ts
            st.last_fired_at = ts
            return self._alert(fp, st, "firing", value, ts, rule, labels, context)
        return None

    def _alert(self, fp: str, st: FingerprintState, status: str, value: float, ts: float, rule: Rule | None,
               labels: dict[str, str], context: dict[str, Any], message: str | None = None) -> Alert:
        if message is None:
            assert rule is not None
            text = describe(st.metric, value, rule)
            message = (f"{st.model}@{st.version}: {text}" if status == "firing"
                       else f"{st.model}@{st.version}: resolved, {st.metric} = {value:.4g}")
            if rule.description and status == "firing":
                message += f" — {rule.description}"
        return Alert(alert_id=alert_id(fp, st.episode), fingerprint=fp, status=status, model=st.model,
                     version=st.version, rule=st.rule, metric=st.metric, value=value,
                     threshold=st.threshold, condition=st.condition, severity=st.severity,
                     message=message, started_at=st.started_at or ts, ts=ts,
                     labels={**(rule.labels if rule else {}), **labels}, context=dict(context))

    def firing(self) -> list[FingerprintState]:
        return [s for s in self.states.values() if s.status == "firing"]

    def forget(self, model: str, version: str) -> None:
        prefix = f"{model}/{version}/"
        for fp in [fp for fp in self.states if fp.startswith(prefix)]:
            del self.states[fp]

    def to_dict(self) -> dict[str, Any]:
        return {fp: asdict(st) for fp, st in self.states.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RuleEngine":
        engine = cls()
        engine.states = {fp: FingerprintState(**st) for fp, st in data.items()}
        return engine
