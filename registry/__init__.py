"""Model registry and experiment tracker on Redis.

- :class:`ModelRegistry` (:mod:`registry.model_registry`): semantic versions, lifecycle stages
  (:mod:`registry.stages`), aliases, rollback, append-only audit history, quality gate, drift
  references.  One Lua script per change (:mod:`registry.scripts`).
- :class:`ExperimentTracker` (:mod:`registry.tracker`): experiments, runs, params, metric series,
  artifacts, resource usage, comparisons, grid search.
- :mod:`registry.keys`: the key layout; :mod:`registry.errors`: the exception tree;
  :mod:`registry.connection`: URLs, AUTH/TLS, error mapping.

>>> from registry import Stage
>>> Stage.parse("staging").value
'staging'
"""

from registry.errors import (
    AliasNotFound,
    DuplicateVersion,
    ExperimentNotFound,
    IllegalTransition,
    ModelNotFound,
    NoPreviousVersion,
    QualityGateFailed,
    RegistryError,
    RegistryUnavailable,
    RunNotActive,
    RunNotFound,
    VersionNotFound,
)
from registry.model_registry import ModelRegistry
from registry.models import Experiment, ModelVersion, Run, Transition
from registry.stages import ALLOWED_TRANSITIONS, Stage
from registry.tracker import ActiveRun, ExperimentComparison, ExperimentTracker, GridSearchResult

__all__ = [
    "ModelRegistry",
    "ExperimentTracker",
    "ActiveRun",
    "ExperimentComparison",
    "GridSearchResult",
    "Stage",
    "ALLOWED_TRANSITIONS",
    "ModelVersion",
    "Transition",
    "Experiment",
    "Run",
    "RegistryError",
    "ModelNotFound",
    "VersionNotFound",
    "AliasNotFound",
    "ExperimentNotFound",
    "RunNotFound",
    "DuplicateVersion",
    "IllegalTransition",
    "NoPreviousVersion",
    "QualityGateFailed",
    "RunNotActive",
    "RegistryUnavailable",
]
