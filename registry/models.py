"""Records returned by the registry and the tracker (plain dataclasses, JSON-friendly via ``to_dict``).

Examples
--------
>>> sort_versions(["1.0.0", "1.0.0-rc.1", "1.0.0-alpha", "0.9.1", "1.0.0-alpha.1", "1.0.0-beta.11", "1.0.0-beta.2"])
['0.9.1', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0']
>>> parse_version("2.1")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: version must be a semantic version MAJOR.MINOR.PATCH[-prerelease][+build] ... got '2.1'
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import semver

from registry.stages import Stage

__all__ = [
    "ModelVersion",
    "Transition",
    "Experiment",
    "Run",
    "parse_version",
    "sort_versions",
    "check_metrics",
    "CONDITIONS",
]

#: Comparison operators accepted by quality gates and metric searches.
CONDITIONS = ("<", "<=", ">", ">=", "==", "!=")


def parse_version(version: object) -> semver.Version:
    """Parse a semantic version (semver 2.0); ``ValueError`` naming the value otherwise."""
    if isinstance(version, semver.Version):
        return version
    if isinstance(version, str) and len(version) <= 128:
        try:
            return semver.Version.parse(version)
        except (ValueError, TypeError):
            pass
    raise ValueError(
        "version must be a semantic version MAJOR.MINOR.PATCH[-prerelease][+build] "
        f"(e.g. '2.0.0', '1.4.0-rc.1'), got {version!r}"
    )


def sort_versions(versions: list[str]) -> list[str]:
    """Versions in semver 2.0 precedence order (build metadata ignored, then compared as text)."""
    return sorted(versions, key=lambda v: (parse_version(v), v))


def check_metrics(field_name: str, metrics: object) -> dict[str, float]:
    """Validate a ``{name: finite number}`` mapping; returns it with float values."""
    from registry.keys import validate_name

    if not isinstance(metrics, dict):
        raise ValueError(f"{field_name} must be a dict of metric name -> number, got {type(metrics).__name__}")
    out: dict[str, float] = {}
    for name, value in metrics.items():
        validate_name("metric name", name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{field_name}[{name!r}] must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{field_name}[{name!r}] must be finite, got {value!r}")
        out[name] = value
    return out


def compare(value: float, condition: str, threshold: float) -> bool:
    """``value <condition> threshold`` for one of :data:`CONDITIONS`."""
    return {
        "<": value < threshold,
        "<=": value <= threshold,
        ">": value > threshold,
        ">=": value >= threshold,
        "==": value == threshold,
        "!=": value != threshold,
    }[condition]


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, Stage):
        return obj.value
    return obj


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model."""

    name: str
    version: str
    stage: Stage
    metadata: dict[str, Any] = field(default_factory=dict)
    model_path: str | None = None
    created_at: float = 0.0
    aliases: tuple[str, ...] = ()
    evaluation: dict[str, float] | None = None
    evaluation_run_id: str | None = None

    @property
    def semver(self) -> semver.Version:
        return semver.Version.parse(self.version)

    @property
    def is_production(self) -> bool:
        return self.stage is Stage.PRODUCTION

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(self)


@dataclass(frozen=True)
class Transition:
    """One audit entry: a registration, stage move, rollback or alias change.

    ``production`` is the production version right *after* the operation and
    ``previous_production`` the one right before, so the history is a chain that can be checked.
    ``previous_version`` is the demoted version (promotion, rollback) or the alias' old target.
    """

    entry_id: str
    model: str
    kind: str  # register | transition | promote | rollback | alias
    version: str | None
    from_stage: Stage | None
    to_stage: Stage | None
    ts: float
    actor: str
    reason: str = ""
    alert_id: str | None = None
    alias: str | None = None
    previous_version: str | None = None
    production: str | None = None
    previous_production: str | None = None
    forced: bool = False
    failures: list[dict[str, Any]] = field(default_factory=list)
    op_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(self)


@dataclass(frozen=True)
class Experiment:
    """An experiment: a named group of runs."""

    experiment_id: str
    name: str
    description: str = ""
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    run_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(self)


@dataclass(frozen=True)
class Run:
    """One run of an experiment, as stored."""

    run_id: str
    experiment_id: str
    status: str  # running | finished | failed | killed
    start_time: float
    end_time: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # latest value per metric
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    resources: dict[str, float | None] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        return None if self.end_time is None else self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(self)
