"""Every Redis key the registry and the tracker use, built in one place.

Layout (``P`` is the prefix, ``predwatch`` by default)::

    P:models                            SET     model names (index for list_models; see note)
    P:{<model>}:versions                HASH    version -> JSON {metadata, model_path, created_at}; immutable
    P:{<model>}:stages                  HASH    version -> stage (development … archived)
    P:{<model>}:meta                    HASH    production -> version
    P:{<model>}:previous                LIST    earlier production versions, oldest first (the rollback stack)
    P:{<model>}:aliases                 HASH    alias -> version (champion, challenger, …)
    P:{<model>}:history                 STREAM  append-only audit log: one entry per operation
    P:{<model>}:gate                    STRING  JSON quality gate {"thresholds": {metric: [op, x]}, "stages": [...]}
    P:{<model>}:evaluations             HASH    version -> JSON {metrics, run_id, ts}
    P:{<model>}:references              HASH    version -> JSON reference (drift sample / summary)
    P:{<model>}:snapshots               HASH    version -> JSON reference frozen when it was promoted
    P:{<model>}:ops                     HASH    op id -> audit entry id, for the last 64 operations
    P:{<model>}:op_order                LIST    those op ids, newest first (trims ops: retries are idempotent)

    P:experiments                       HASH    experiment name -> experiment id
    P:{exp:<eid>}:experiment            HASH    name, description, hyperparameters, tags, created_at
    P:{exp:<eid>}:runs                  ZSET    run id scored by start time
    P:{exp:<eid>}:run:<rid>             HASH    status, start/end time, tags, error, resources
    P:{exp:<eid>}:run:<rid>:params      HASH    param -> JSON value
    P:{exp:<eid>}:run:<rid>:metrics     HASH    metric -> latest value
    P:{exp:<eid>}:run:<rid>:series:<m>  LIST    JSON [step, ts, value] per logged point of metric m
    P:{exp:<eid>}:run:<rid>:artifacts   LIST    JSON {name, uri, size, sha256, ts}

The ``{…}`` part is a Redis Cluster hash tag: all keys of one model (or one experiment and its
runs) land in one slot, and every Lua script touches the keys of exactly one tag, so the registry
works unchanged on a cluster.  Model names are 1-128 characters of ``[A-Za-z0-9._-]`` (the event
contract's rule), so they can never contain ``{``, ``}`` or ``:``; a run id is
``<experiment id>-<12 hex>``, which names its experiment's tag.

``P:models`` and ``P:experiments`` are the only keys outside a tag.  ``P:models`` is written
right after a successful registration (an idempotent ``SADD``); if a client dies between the two,
the model is fully usable and the next registration of any of its versions lists it again.

Production Redis: run Redis 7 with ``appendonly yes``, ``appendfsync everysec`` (at most one
second of acknowledged writes lost on power failure; all survived ``kill -9`` in our tests) and
``maxmemory-policy noeviction`` (an evicted audit stream or stage hash would silently corrupt the
registry; with noeviction a full Redis refuses writes, surfacing as ``RegistryUnavailable``).

Examples
--------
>>> k = Keys()
>>> k.model("tok-counter").stages
'predwatch:{tok-counter}:stages'
>>> k.run_series("0123456789ab-000000000001", "mape")
'predwatch:{exp:0123456789ab}:run:0123456789ab-000000000001:series:mape'
>>> Keys("my.app").models
'my.app:models'
>>> Keys("a{b}")
Traceback (most recent call last):
...
ValueError: prefix must be 1-100 characters of [A-Za-z0-9._:-], got 'a{b}'
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "Keys",
    "ModelKeys",
    "validate_model_name",
    "validate_name",
    "experiment_of_run",
    "NAME_RE",
    "RUN_ID_RE",
]

NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
EXPERIMENT_ID_RE = re.compile(r"^[0-9a-f]{12}$")
RUN_ID_RE = re.compile(r"^([0-9a-f]{12})-[0-9a-f]{12}$")


def validate_name(field: str, value: object) -> str:
    """Check a name (model, alias, metric, param…) is 1-128 characters of ``[A-Za-z0-9._-]``.

    >>> validate_name("alias", "champion")
    'champion'
    >>> validate_name("alias", "my alias")
    Traceback (most recent call last):
    ...
    ValueError: alias must be 1-128 characters of [A-Za-z0-9._-], got 'my alias'
    """
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValueError(f"{field} must be 1-128 characters of [A-Za-z0-9._-], got {value!r}")
    return value


def validate_model_name(name: object) -> str:
    """Check a model name (same rule as the event contract's ``model`` field)."""
    return validate_name("model name", name)


def experiment_of_run(run_id: object) -> str:
    """The experiment id a run id belongs to.

    >>> experiment_of_run("0123456789ab-00000000000f")
    '0123456789ab'
    """
    m = RUN_ID_RE.match(run_id) if isinstance(run_id, str) else None
    if not m:
        raise ValueError(f"run_id must look like '<12 hex>-<12 hex>' (as returned by start_run), got {run_id!r}")
    return m.group(1)


class ModelKeys(NamedTuple):
    """The keys of one model; all share the hash tag ``{<model>}``."""

    versions: str
    stages: str
    meta: str
    previous: str
    aliases: str
    history: str
    gate: str
    evaluations: str
    references: str
    snapshots: str
    ops: str
    op_order: str


class Keys:
    """Key builder for one prefix."""

    def __init__(self, prefix: str = "predwatch") -> None:
        if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
            raise ValueError(f"prefix must be 1-100 characters of [A-Za-z0-9._:-], got {prefix!r}")
        self.prefix = prefix
        self.models = f"{prefix}:models"
        self.experiments = f"{prefix}:experiments"

    def model(self, name: str) -> ModelKeys:
        base = f"{self.prefix}:{{{validate_model_name(name)}}}"
        return ModelKeys(*(f"{base}:{field}" for field in ModelKeys._fields))

    def model_pattern(self) -> str:
        """A SCAN pattern matching every model key under this prefix."""
        return f"{self.prefix}:{{*}}:*"

    # experiments -----------------------------------------------------------------------------
    def _exp(self, experiment_id: str) -> str:
        if not isinstance(experiment_id, str) or not EXPERIMENT_ID_RE.match(experiment_id):
            raise ValueError(f"experiment_id must be 12 lowercase hex characters, got {experiment_id!r}")
        return f"{self.prefix}:{{exp:{experiment_id}}}"

    def experiment(self, experiment_id: str) -> str:
        return f"{self._exp(experiment_id)}:experiment"

    def runs(self, experiment_id: str) -> str:
        return f"{self._exp(experiment_id)}:runs"

    def run(self, run_id: str) -> str:
        return f"{self._exp(experiment_of_run(run_id))}:run:{run_id}"

    def run_params(self, run_id: str) -> str:
        return f"{self.run(run_id)}:params"

    def run_metrics(self, run_id: str) -> str:
        return f"{self.run(run_id)}:metrics"

    def run_series(self, run_id: str, metric: str) -> str:
        return f"{self.run(run_id)}:series:{validate_name('metric name', metric)}"

    def run_artifacts(self, run_id: str) -> str:
        return f"{self.run(run_id)}:artifacts"
