"""Alert rules: the declaration shared by the worker, the rule store and the Prometheus generator.

A rule file is YAML (DESIGN.md, "Rules")::

    rules:
      - name: latency-p95
        model: "*"              # glob over model names
        metric: latency_p95_ms  # a snapshot metric name; globs allowed (drift.*.psi_drift)
        condition: ">"
        threshold: 2000
        resolve_threshold: 1500 # hysteresis; defaults to threshold
        for: 30s
        cooldown: 5m
        severity: warning

Examples
--------
>>> r = Rule.from_dict({"name": "p95", "metric": "latency_p95_ms", "condition": ">",
...                     "threshold": 2000, "resolve_threshold": 1500, "for": "30s"})
>>> r.for_s, r.breached(2500.0), r.recovered(1800.0), r.recovered(1400.0)
(30.0, True, False, True)
>>> parse_duration("1m30s")
90.0
"""

from __future__ import annotations

import fnmatch
import functools
import math
import operator
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

CONDITIONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
SEVERITIES = ("info", "warning", "critical")
RULE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class RuleError(ValueError):
    """A rule that cannot be accepted; the message names the rule, the field and the value."""


def parse_duration(value: Any, *, name: str = "duration") -> float:
    """Seconds from ``30s``, ``5m``, ``1h30m``, ``250ms`` or a plain number of seconds."""
    if isinstance(value, bool):
        raise RuleError(f"{name} must be a duration like '30s' or a number of seconds, got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise RuleError(f"{name} must be a finite duration >= 0, got {value!r}")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        pos, total = 0, 0.0
        for m in _DURATION_PART.finditer(text):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _UNIT_S[m.group(2)]
            pos = m.end()
        if text and pos == len(text):
            return total
        try:
            return parse_duration(float(text), name=name)
        except ValueError:
            pass
    raise RuleError(f"{name} must be a duration like '30s', '5m', '1h30m' or seconds, got {value!r}")


def format_duration(seconds: float) -> str:
    """The shortest ``Nh``/``Nm``/``Ns`` form (Prometheus style) of a duration."""
    if seconds == 0:
        return "0s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(round(seconds * 1000))}ms"


@functools.lru_cache(maxsize=65_536)
def _glob_match(name: str, pattern: str) -> bool:
    """``fnmatchcase``, remembered: every evaluation matches the same few metric and model names
    against the same rules (~125 matches per evaluation with the shipped rules)."""
    return fnmatch.fnmatchcase(name, pattern)


@dataclass(frozen=True)
class Rule:
    """One alert rule.  Build with :meth:`from_dict` to validate."""

    name: str
    metric: str
    condition: str
    threshold: float
    model: str = "*"
    resolve_threshold: float | None = None
    for_s: float = 0.0
    cooldown_s: float = 300.0
    severity: str = "warning"
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> "Rule":
        if not isinstance(data, dict):
            raise RuleError(f"a rule must be a mapping, got {type(data).__name__}: {data!r}")
        name = data.get("name")
        where = f"rule {name!r}"
        if not isinstance(name, str) or not RULE_NAME.match(name):
            raise RuleError(f"rule name must be 1-128 chars of [A-Za-z0-9._-], got {name!r}")
        known = {"name", "metric", "condition", "threshold", "model", "resolve_threshold", "for",
                 "cooldown", "severity", "description", "labels", "for_s", "cooldown_s"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RuleError(f"{where}: unknown field(s) {unknown}; accepted: {sorted(known)}")
        metric = data.get("metric")
        if not isinstance(metric, str) or not metric or len(metric) > 256:
            raise RuleError(f"{where}: metric must be a metric name (globs allowed), got {metric!r}")
        condition = data.get("condition", ">")
        if condition not in CONDITIONS:
            raise RuleError(f"{where}: condition must be one of {list(CONDITIONS)}, got {condition!r}")
        threshold = _number(data.get("threshold"), f"{where}: threshold")
        resolve = data.get("resolve_threshold")
        resolve = None if resolve is None else _number(resolve, f"{where}: resolve_threshold")
        if resolve is not None and condition in (">", ">=") and resolve > threshold:
            raise RuleError(f"{where}: resolve_threshold must be <= threshold for {condition!r}, got {resolve!r} > {threshold!r}")
        if resolve is not None and condition in ("<", "<=") and resolve < threshold:
            raise RuleError(f"{where}: resolve_threshold must be >= threshold for {condition!r}, got {resolve!r} < {threshold!r}")
        model = data.get("model", "*")
        if not isinstance(model, str) or not model:
            raise RuleError(f"{where}: model must be a glob over model names, got {model!r}")
        for_s = parse_duration(data.get("for", data.get("for_s", 0)), name=f"{where}: for")
        cooldown_s = parse_duration(data.get("cooldown", data.get("cooldown_s", 300)), name=f"{where}: cooldown")
        severity = data.get("severity", "warning")
        if severity not in SEVERITIES:
            raise RuleError(f"{where}: severity must be one of {list(SEVERITIES)}, got {severity!r}")
        labels = data.get("labels") or {}
        if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise RuleError(f"{where}: labels must map strings to strings, got {labels!r}")
        description = data.get("description", "")
        if not isinstance(description, str):
            raise RuleError(f"{where}: description must be a string, got {description!r}")
        return cls(name=name, metric=metric, condition=condition, threshold=threshold, model=model,
                   resolve_threshold=resolve, for_s=for_s, cooldown_s=cooldown_s, severity=severity,
                   description=description, labels=dict(labels))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, readable back by :meth:`from_dict`."""
        d = asdict(self)
        d["for"] = format_duration(d.pop("for_s"))
        d["cooldown"] = format_duration(d.pop("cooldown_s"))
        if d["resolve_threshold"] is None:
            del d["resolve_threshold"]
        return d

    def matches_model(self, model: str) -> bool:
        return _glob_match(model, self.model)

    def matching_metrics(self, metrics: dict[str, float]) -> list[str]:
        """The snapshot metric names this rule applies to (its metric may be a glob)."""
        if not any(c in self.metric for c in "*?["):
            return [self.metric] if self.metric in metrics else []
        pattern = self.metric
        return sorted(m for m in metrics if _glob_match(m, pattern))

    def breached(self, value: float) -> bool:
        """The firing condition holds for ``value``."""
        return CONDITIONS[self.condition](value, self.threshold)

    def recovered(self, value: float) -> bool:
        """The value is back past the resolve threshold (hysteresis)."""
        if self.resolve_threshold is None:
            return not self.breached(value)
        return not CONDITIONS[self.condition](value, self.resolve_threshold)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RuleError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def parse_rules(data: Any, *, source: str = "rules") -> list[Rule]:
    """Rules from the parsed YAML document ``{"rules": [...]}``; names must be unique."""
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("rules", []), list):
        raise RuleError(f"{source}: expected a mapping with a 'rules' list, got {data!r:.200}")
    rules, seen = [], set()
    for i, item in enumerate(data.get("rules", [])):
        try:
            rule = Rule.from_dict(item)
        except RuleError as exc:
            raise RuleError(f"{source}: rules[{i}]: {exc}") from None
        if rule.name in seen:
            raise RuleError(f"{source}: rules[{i}]: duplicate rule name {rule.name!r}")
        seen.add(rule.name)
        rules.append(rule)
    return rules


def load_rules(path: str | Path) -> list[Rule]:
    """Rules from a YAML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"PREDWATCH_CONFIG: cannot read rules file {str(p)!r}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError(f"{p}: not valid YAML: {exc}") from None
    return parse_rules(data, source=str(p))


DEFAULT_RULES_FILE = Path(__file__).with_name("default_rules.yaml")


def default_rules() -> list[Rule]:
    """The rules shipped with predwatch (used when PREDWATCH_CONFIG is not set)."""
    return load_rules(DEFAULT_RULES_FILE)
