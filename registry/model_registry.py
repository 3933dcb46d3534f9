"""The model registry: versions, lifecycle stages, aliases, audit history, quality gate, references.

State lives in Redis under one prefix (layout in :mod:`registry.keys`).  Every change is one Lua
script (:mod:`registry.scripts`) that checks its preconditions, writes the new state and appends
the audit entry together, so concurrent writers can never leave a half-applied move or a history
that disagrees with the pointers.  Reads of several keys go through one read-only script
(:class:`registry.connection.ReadBatch`), so they see one consistent state and keep working when
Redis is full.

Lookups used on the monitoring hot path (:meth:`ModelRegistry.get_production_version`,
:meth:`~ModelRegistry.get_alias`, :meth:`~ModelRegistry.get_reference`,
:meth:`~ModelRegistry.get_active_reference`, :meth:`~ModelRegistry.production_at`) answer ``None``
for an unknown model or version; everything else raises :class:`~registry.errors.ModelNotFound` /
:class:`~registry.errors.VersionNotFound`.

Times (``Transition.ts``) are the Redis server's clock, so writers on different hosts agree.
Rollback skips the quality gate: it returns to a version that was in production before.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from typing import Any

from registry import scripts
from registry.connection import RedisClient, ReadBatch, redis_errors
from registry.errors import (
    AliasNotFound,
    DuplicateVersion,
    IllegalTransition,
    ModelNotFound,
    NoPreviousVersion,
    QualityGateFailed,
    RegistryError,
    VersionNotFound,
)
from registry.keys import ModelKeys, validate_model_name, validate_name
from registry.models import CONDITIONS, ModelVersion, Transition, check_metrics, compare, parse_version
from registry.stages import ALLOWED_TRANSITIONS, GATED_STAGES, Stage

__all__ = ["ModelRegistry"]

log = logging.getLogger(__name__)

_MAX_TEXT = 10_000  # actor / reason / alert id length cap


def _text(field: str, value: object, *, optional: bool = False, limit: int = _MAX_TEXT) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError(f"{field} must be a string of at most {limit} characters, got {value!r:.80}")
    return value


def _dumps(field: str, value: object) -> str:
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{field} must be JSON-serialisable with finite numbers: {exc}") from None


class ModelRegistry(RedisClient):
    """Model registry on Redis.

    Parameters
    ----------
    url
        ``redis://``, ``rediss://`` or ``unix://`` URL (credentials and TLS options in the URL).
    prefix
        Key prefix; several registries can share one Redis under different prefixes.
    timeout_s
        Connect and socket timeout, seconds.
    """

    def __init__(self, url: str, *, prefix: str = "predwatch", timeout_s: float = 5.0) -> None:
        super().__init__(url, prefix=prefix, timeout_s=timeout_s)
        r = self._redis
        self._register = r.register_script(scripts.REGISTER)
        self._transition = r.register_script(scripts.TRANSITION)
        self._rollback = r.register_script(scripts.ROLLBACK)
        self._alias = r.register_script(scripts.ALIAS)
        self._active_reference = r.register_script(scripts.ACTIVE_REFERENCE)
        self._read = ReadBatch(r)

    def __repr__(self) -> str:
        return f"ModelRegistry({self._url!r}, prefix={self.prefix!r})"

    # plumbing ---------------------------------------------------------------------------------
    def _errors(self, operation: str):
        return redis_errors(self._url, operation)

    def _mk(self, name: str) -> ModelKeys:
        return self.keys.model(name)

    def _apply(self, script, name: str, operation: str, args: list[str], *, version: str | None = None,
               to_stage: str | None = None, actor: str, reason: str, alert_id: str | None) -> Transition:
        """Run one mutating script with an op id; map its error codes; return the audit entry."""
        mk = self._mk(name)
        op_id = uuid.uuid4().hex
        argv = [op_id, _text("actor", actor, limit=256), _text("reason", reason),
                _text("alert_id", alert_id, optional=True, limit=256), *args]
        with self._errors(operation):
            reply = script(keys=list(mk), args=argv)
        status = reply[0]
        if status == "ok":
            fields = dict(zip(scripts.REPLY_FIELDS, reply[2:]))
            fields.update(actor=argv[1], reason=argv[2], alert_id=argv[3], op_id=op_id)
            return self._transition_from(name, reply[1], fields)
        if status == "dup":  # a retried call whose first attempt was applied
            return self._entry(name, reply[1])
        code = reply[1]
        if code == "model_not_found":
            raise ModelNotFound(name)
        if code == "version_not_found":
            raise VersionNotFound(name, version or "", self._version_names(name))
        if code == "duplicate":
            raise DuplicateVersion(name, version or "")
        if code == "illegal":
            frm, to = reply[2], reply[3]
            if to == "alias":
                raise IllegalTransition(name, version, frm, None,
                                        f"{name} {version} is {frm}: an alias cannot point to an archived version")
            raise IllegalTransition(
                name, version, frm, to,
                f"{name} {version}: transition {frm} -> {to} is not allowed; from {frm} a version may move to "
                f"{', '.join(sorted(s.value for s in _allowed(frm))) or 'nothing (terminal)'}",
            )
        if code == "gate":
            raise QualityGateFailed(name, version or "", to_stage or "", json.loads(reply[2]))
        if code == "no_previous":
            raise NoPreviousVersion(name, reply[2] or None)
        if code == "already_production":
            raise IllegalTransition(name, version, "production", "production",
                                    f"cannot roll back {name} to {version}: it is the current production version")
        if code == "not_previous":
            raise IllegalTransition(
                name, version, reply[2], "production",
                f"cannot roll back {name} to {version} ({reply[2]}): it is not an earlier production version "
                f"still on the rollback stack; earlier ones: {', '.join(self._previous(name)) or 'none'}. "
                "Use promote_to_production for a new version",
            )
        if code == "alias_not_found":
            raise AliasNotFound(name, args[0], sorted(self.aliases(name)))
        raise RegistryError(f"unexpected reply from the {operation} script: {reply!r}")

    def _transition_from(self, name: str, entry_id: str, f: dict[str, str]) -> Transition:
        def opt(key: str) -> str | None:
            return f.get(key) or None

        def stage(key: str) -> Stage | None:
            return Stage(f[key]) if f.get(key) else None

        return Transition(
            entry_id=entry_id,
            model=name,
            kind=f.get("kind", ""),
            version=opt("version"),
            from_stage=stage("from_stage"),
            to_stage=stage("to_stage"),
            ts=float(f["ts"]) if f.get("ts") else int(entry_id.split("-")[0]) / 1000,
            actor=f.get("actor", ""),
            reason=f.get("reason", ""),
            alert_id=opt("alert_id"),
            alias=opt("alias"),
            previous_version=opt("previous_version"),
            production=opt("production"),
            previous_production=opt("previous_production"),
            forced=f.get("forced") == "1",
            failures=json.loads(f["failures"]) if f.get("failures") else [],
            op_id=f.get("op_id", ""),
        )

    def _entry(self, name: str, entry_id: str) -> Transition:
        with self._errors("history read"):
            entries = self._redis.xrange(self._mk(name).history, entry_id, entry_id)
        if not entries:
            raise RegistryError(f"audit entry {entry_id} of {name} is missing")
        return self._transition_from(name, *entries[0])

    def _version_names(self, name: str) -> list[str]:
        with self._errors("list versions"):
            names = self._redis.hkeys(self._mk(name).versions)
        return sorted(names, key=lambda v: (parse_version(v), v))

    def _previous(self, name: str) -> list[str]:
        with self._errors("rollback stack read"):
            return self._redis.lrange(self._mk(name).previous, 0, -1)

    @staticmethod
    def _version(version: object) -> str:
        return str(parse_version(version))

    # registration and reads -------------------------------------------------------------------
    def register_model(self, name: str, version: str, metadata: dict | None = None, model_path: str | None = None,
                       *, actor: str = "system", reason: str = "") -> ModelVersion:
        """Register ``version`` of model ``name`` in stage development.

        Versions are semantic versions (semver 2.0) and immutable: registering the same version
        string twice raises :class:`~registry.errors.DuplicateVersion`.  ``metadata`` is any JSON
        object; ``model_path`` a path or URI to the artefact.
        """
        validate_model_name(name)
        v = self._version(version)
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict):
            raise ValueError(f"metadata must be a dict (JSON object), got {type(metadata).__name__}")
        if model_path is not None:
            model_path = _text("model_path", str(model_path), limit=4096)
        created_at = time.time()
        record = _dumps("metadata", {"metadata": metadata, "model_path": model_path, "created_at": created_at})
        self._apply(self._register, name, "register", [v, record], version=v, actor=actor, reason=reason,
                    alert_id=None)
        with self._errors("model index"):
            self._redis.sadd(self.keys.models, name)
        return ModelVersion(name=name, version=v, stage=Stage.DEVELOPMENT, metadata=metadata,
                            model_path=model_path, created_at=created_at)

    def _snapshot(self, name: str) -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]]:
        mk = self._mk(name)
        with self._errors("read versions"):
            versions, stages, evals, aliases = self._read(
                ("HGETALL", mk.versions), ("HGETALL", mk.stages), ("HGETALL", mk.evaluations),
                ("HGETALL", mk.aliases))
        if not versions:
            raise ModelNotFound(name)
        return versions, stages, evals, aliases

    @staticmethod
    def _build(name: str, v: str, record: str, stage: str, evaluation: str | None,
               aliases: dict[str, str]) -> ModelVersion:
        rec = json.loads(record)
        ev = json.loads(evaluation) if evaluation else None
        return ModelVersion(
            name=name,
            version=v,
            stage=Stage(stage),
            metadata=rec.get("metadata") or {},
            model_path=rec.get("model_path"),
            created_at=rec.get("created_at", 0.0),
            aliases=tuple(sorted(a for a, target in aliases.items() if target == v)),
            evaluation=ev["metrics"] if ev else None,
            evaluation_run_id=ev.get("run_id") if ev else None,
        )

    def get(self, name: str, version: str) -> ModelVersion:
        """One version, with its stage, aliases and attached evaluation."""
        validate_model_name(name)
        v = self._version(version)
        mk = self._mk(name)
        with self._errors("get"):
            exists, record, stage, evaluation, aliases = self._read(
                ("EXISTS", mk.versions), ("HGET", mk.versions, v), ("HGET", mk.stages, v),
                ("HGET", mk.evaluations, v), ("HGETALL", mk.aliases))
        if not exists:
            raise ModelNotFound(name)
        if record is None:
            raise VersionNotFound(name, v, self._version_names(name))
        return self._build(name, v, record, stage, evaluation, aliases)

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name`` in semver precedence order (oldest first)."""
        validate_model_name(name)
        versions, stages, evals, aliases = self._snapshot(name)
        out = [self._build(name, v, rec, stages[v], evals.get(v), aliases) for v, rec in versions.items()]
        out.sort(key=lambda mv: (parse_version(mv.version), mv.created_at, mv.version))
        return out

    def list_models(self) -> list[str]:
        """Names of all registered models, sorted."""
        with self._errors("list models"):
            return sorted(self._redis.smembers(self.keys.models))

    def get_latest_version(self, name: str, stage: Stage | str | None = None, *,
                           include_prerelease: bool = True) -> ModelVersion | None:
        """The highest version (semver precedence), optionally only among versions in ``stage``.

        ``None`` when no version matches.  With ``include_prerelease=False``, ``2.0.0-rc.1`` is
        skipped in favour of the highest release.
        """
        wanted = Stage.parse(stage) if stage is not None else None
        versions = [mv for mv in self.list_versions(name)
                    if (wanted is None or mv.stage is wanted)
                    and (include_prerelease or mv.semver.prerelease is None)]
        return versions[-1] if versions else None

    def get_compatible_versions(self, name: str, version: str) -> list[ModelVersion]:
        """Versions with the same major version as ``version`` and not older than it.

        ``version`` need not be registered.  Archived versions are left out.
        """
        base = parse_version(version)
        return [mv for mv in self.list_versions(name)
                if mv.semver.major == base.major and mv.semver >= base and mv.stage is not Stage.ARCHIVED]

    def search(self, metadata: dict[str, Any] | None = None, *, name: str | None = None,
               stage: Stage | str | None = None) -> list[ModelVersion]:
        """Versions whose metadata contains every ``key: value`` of ``metadata``.

        Keys may be dotted paths into nested objects (``{"data.source": "wiki"}``).  Restrict to
        one model with ``name`` and to one stage with ``stage``.
        """
        if metadata is not None and not isinstance(metadata, dict):
            raise ValueError(f"metadata filter must be a dict, got {type(metadata).__name__}")
        wanted = Stage.parse(stage) if stage is not None else None
        names = [validate_model_name(name)] if name is not None else self.list_models()
        out = []
        for model in names:
            try:
                versions = self.list_versions(model)
            except ModelNotFound:
                if name is not None:
                    raise
                continue
            for mv in versions:
                if wanted is not None and mv.stage is not wanted:
                    continue
                if all(_lookup(mv.metadata, k) == val for k, val in (metadata or {}).items()):
                    out.append(mv)
        return out

    # lifecycle --------------------------------------------------------------------------------
    def transition(self, name: str, version: str, stage: Stage | str, *, actor: str = "system", reason: str = "",
                   alert_id: str | None = None, force: bool = False) -> Transition:
        """Move ``version`` to ``stage`` if the lifecycle allows it (see :mod:`registry.stages`).

        Moving to production demotes the current production version to deprecated in the same
        atomic step.  Moves to a gated stage check the quality gate; ``force=True`` overrides a
        failing gate and records the override (``forced`` and ``failures``) in the audit entry.
        """
        validate_model_name(name)
        v = self._version(version)
        to = Stage.parse(stage)
        kind = "promote" if to is Stage.PRODUCTION else "transition"
        return self._apply(self._transition, name, f"transition to {to}", [v, to.value, "1" if force else "0", kind],
                           version=v, to_stage=to.value, actor=actor, reason=reason, alert_id=alert_id)

    def promote_to_production(self, name: str, version: str, *, actor: str = "system", reason: str = "",
                              force: bool = False, alert_id: str | None = None) -> Transition:
        """Make ``version`` the production version; the previous one becomes deprecated."""
        return self.transition(name, version, Stage.PRODUCTION, actor=actor, reason=reason, alert_id=alert_id,
                               force=force)

    def rollback_model(self, name: str, target_version: str | None = None, *, actor: str = "system",
                       reason: str = "", alert_id: str | None = None) -> Transition:
        """Return production to the previous production version, or to ``target_version``.

        The registry keeps a stack of earlier production versions.  Without a target, the top of
        the stack comes back; with one, it must be on the stack, and it and every version promoted
        after it leave the stack.  The rolled-back version becomes deprecated.  The active
        reference returns to the snapshot taken when the restored version was promoted.
        Raises :class:`~registry.errors.NoPreviousVersion` when there is nothing to return to.
        """
        validate_model_name(name)
        target = self._version(target_version) if target_version is not None else ""
        return self._apply(self._rollback, name, "rollback", [target], version=target or None,
                           actor=actor, reason=reason, alert_id=alert_id)

    def get_production_version(self, name: str) -> str | None:
        """The production version, or ``None`` (no production version, or unknown model)."""
        validate_model_name(name)
        with self._errors("get production version"):
            return self._redis.hget(self._mk(name).meta, "production")

    def previous_production_versions(self, name: str) -> list[str]:
        """The rollback stack: earlier production versions, oldest first."""
        validate_model_name(name)
        return self._previous(name)

    # aliases ----------------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: str, *, actor: str = "system", reason: str = "") -> Transition:
        """Point ``alias`` (``champion``, ``challenger``, any name) at ``version``; audited."""
        validate_model_name(name)
        validate_name("alias", alias)
        if alias in {s.value for s in Stage}:
            raise ValueError(f"alias must not be a stage name ({', '.join(s.value for s in Stage)}), got {alias!r}")
        v = self._version(version)
        return self._apply(self._alias, name, "set alias", [alias, v], version=v, actor=actor, reason=reason,
                           alert_id=None)

    def delete_alias(self, name: str, alias: str, *, actor: str = "system", reason: str = "") -> Transition:
        """Remove ``alias``; audited.  Raises :class:`~registry.errors.AliasNotFound` if it is not set."""
        validate_model_name(name)
        validate_name("alias", alias)
        return self._apply(self._alias, name, "delete alias", [alias, ""], actor=actor, reason=reason, alert_id=None)

    def get_alias(self, name: str, alias: str) -> str | None:
        """The version ``alias`` points at, or ``None``."""
        validate_model_name(name)
        validate_name("alias", alias)
        with self._errors("get alias"):
            return self._redis.hget(self._mk(name).aliases, alias)

    def resolve_version(self, name: str, version_or_alias: str) -> str:
        """The version meant by a version string or an alias (``"champion"``, ``"production"``).

        A semantic version is returned as is (normalised); a stage name gives the version in that
        stage only for ``production``; anything else is looked up as an alias
        (:class:`~registry.errors.AliasNotFound` if unset).
        """
        validate_model_name(name)
        try:
            return self._version(version_or_alias)
        except ValueError:
            pass
        if version_or_alias == Stage.PRODUCTION.value:
            current = self.get_production_version(name)
            if current is None:
                raise AliasNotFound(name, version_or_alias, sorted(self.aliases(name)))
            return current
        target = self.get_alias(name, version_or_alias)
        if target is None:
            self.list_versions(name)  # unknown model -> ModelNotFound
            raise AliasNotFound(name, version_or_alias, sorted(self.aliases(name)))
        return target

    def aliases(self, name: str) -> dict[str, str]:
        """All aliases of ``name``: alias -> version."""
        validate_model_name(name)
        with self._errors("list aliases"):
            return dict(sorted(self._redis.hgetall(self._mk(name).aliases).items()))

    # history ----------------------------------------------------------------------------------
    def history(self, name: str, *, limit: int | None = None) -> list[Transition]:
        """The audit log of ``name``, oldest first (the last ``limit`` entries if given)."""
        validate_model_name(name)
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ValueError(f"limit must be a positive int or None, got {limit!r}")
        mk = self._mk(name)
        with self._errors("history"):
            if limit is None:
                exists, entries = self._read(("EXISTS", mk.versions), ("XRANGE", mk.history, "-", "+"))
            else:
                exists, entries = self._read(("EXISTS", mk.versions),
                                             ("XREVRANGE", mk.history, "+", "-", "COUNT", limit))
                entries.reverse()
        if not exists:
            raise ModelNotFound(name)
        return [self._transition_from(name, eid, f) for eid, f in entries]

    def production_at(self, name: str, ts: float) -> str | None:
        """The version that was in production at epoch time ``ts`` (Redis server clock), or ``None``."""
        validate_model_name(name)
        if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(ts):
            raise ValueError(f"ts must be a finite epoch time in seconds, got {ts!r}")
        hist = self._mk(name).history
        end = str(max(int(ts * 1000), 0))
        with self._errors("production_at"):
            while True:
                entries = self._redis.xrevrange(hist, max=end, min="-", count=64)
                if not entries:
                    return None
                for _, f in entries:
                    if float(f.get("ts") or 0) <= ts:
                        return f.get("production") or None
                end = "(" + entries[-1][0]

    # evaluation and quality gate --------------------------------------------------------------
    def attach_evaluation(self, name: str, version: str, metrics: dict[str, float], run_id: str | None = None) -> None:
        """Store evaluation metrics for ``version`` (replacing earlier ones); the quality gate reads them."""
        validate_model_name(name)
        v = self._version(version)
        metrics = check_metrics("metrics", metrics)
        if run_id is not None:
            _text("run_id", run_id, limit=128)
        self._require_version(name, v)
        with self._errors("attach evaluation"):
            self._redis.hset(self._mk(name).evaluations, v,
                             _dumps("metrics", {"metrics": metrics, "run_id": run_id, "ts": time.time()}))

    def get_evaluation(self, name: str, version: str) -> dict[str, float] | None:
        """Metrics attached to ``version``, or ``None``."""
        validate_model_name(name)
        v = self._version(version)
        with self._errors("get evaluation"):
            raw = self._redis.hget(self._mk(name).evaluations, v)
        return json.loads(raw)["metrics"] if raw else None

    def set_quality_gate(self, name: str, thresholds: dict, *,
                         stages: tuple[Stage | str, ...] = GATED_STAGES) -> None:
        """Require evaluation metrics to meet ``thresholds`` before moving into ``stages``.

        ``thresholds`` maps metric name to ``(condition, value)`` with condition one of
        ``< <= > >= == !=``, e.g. ``{"mape": ("<=", 0.2), "r2": (">=", 0.9)}``.  An empty dict
        removes the gate.  A missing metric fails the gate.
        """
        validate_model_name(name)
        if not isinstance(thresholds, dict):
            raise ValueError(f"thresholds must be a dict of metric -> (condition, value), got {thresholds!r}")
        clean: dict[str, list] = {}
        for metric, rule in thresholds.items():
            validate_name("metric name", metric)
            if not (isinstance(rule, (tuple, list)) and len(rule) == 2):
                raise ValueError(f"thresholds[{metric!r}] must be (condition, value), got {rule!r}")
            cond, value = rule
            if cond not in CONDITIONS:
                raise ValueError(f"thresholds[{metric!r}] condition must be one of {' '.join(CONDITIONS)}, "
                                 f"got {cond!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"thresholds[{metric!r}] value must be a finite number, got {value!r}")
            clean[metric] = [cond, float(value)]
        gate_stages = [Stage.parse(s).value for s in stages]
        mk = self._mk(name)
        with self._errors("set quality gate"):
            if clean:
                self._redis.set(mk.gate, _dumps("thresholds", {"thresholds": clean, "stages": gate_stages}))
            else:
                self._redis.delete(mk.gate)

    def get_quality_gate(self, name: str) -> dict[str, Any] | None:
        """``{"thresholds": {metric: [cond, value]}, "stages": [...]}`` or ``None``."""
        validate_model_name(name)
        with self._errors("get quality gate"):
            raw = self._redis.get(self._mk(name).gate)
        return json.loads(raw) if raw else None

    def check_quality_gate(self, name: str, version: str,
                           stage: Stage | str = Stage.PRODUCTION) -> list[dict[str, Any]]:
        """Dry run of the gate: the failures moving ``version`` into ``stage`` would meet (``[]`` = pass)."""
        gate = self.get_quality_gate(name)
        to = Stage.parse(stage)
        if not gate or to.value not in gate["stages"]:
            return []
        metrics = self.get(name, version).evaluation or {}
        failures = []
        for metric, (cond, x) in sorted(gate["thresholds"].items()):
            value = metrics.get(metric)
            if value is None or not compare(value, cond, x):
                failures.append({"metric": metric, "condition": cond, "threshold": x, "value": value})
        return failures

    # references -------------------------------------------------------------------------------
    def _require_version(self, name: str, v: str) -> None:
        mk = self._mk(name)
        with self._errors("version lookup"):
            exists, has = self._read(("EXISTS", mk.versions), ("HEXISTS", mk.versions, v))
        if not exists:
            raise ModelNotFound(name)
        if not has:
            raise VersionNotFound(name, v, self._version_names(name))

    def set_reference(self, name: str, version: str, reference: dict) -> None:
        """Store the drift reference (sample or summary, a JSON object) of ``version``.

        The monitor reads the *active* reference: the snapshot taken when the production version
        was promoted.  Setting the reference of the current production version therefore takes
        effect at its next promotion, not immediately.
        """
        validate_model_name(name)
        v = self._version(version)
        if not isinstance(reference, dict):
            raise ValueError(f"reference must be a dict (JSON object), got {type(reference).__name__}")
        payload = _dumps("reference", reference)
        self._require_version(name, v)
        with self._errors("set reference"):
            self._redis.hset(self._mk(name).references, v, payload)

    def get_reference(self, name: str, version: str) -> dict | None:
        """The reference stored for ``version``, or ``None``."""
        validate_model_name(name)
        v = self._version(version)
        with self._errors("get reference"):
            raw = self._redis.hget(self._mk(name).references, v)
        return json.loads(raw) if raw else None

    def get_active_reference(self, name: str) -> dict | None:
        """The reference snapshot of the production version (taken at its promotion), or ``None``."""
        validate_model_name(name)
        mk = self._mk(name)
        with self._errors("get active reference"):
            reply = self._active_reference(keys=[mk.meta, mk.snapshots])
        if not reply or not reply[1]:
            return None
        return json.loads(reply[1])



def _allowed(stage: str) -> frozenset[Stage]:
    return ALLOWED_TRANSITIONS.get(Stage(stage), frozenset())


_MISSING = object()


def _lookup(obj: dict, dotted: str) -> Any:
    if dotted in obj:
        return obj[dotted]
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur

