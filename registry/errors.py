"""Exceptions raised by the model registry and the experiment tracker.

Every exception subclasses :class:`RegistryError` *and* a built-in, so callers can catch either the
family or the familiar built-in (``except KeyError``).  Each carries its data as attributes.

::

    RegistryError(Exception)                      any registry/tracker failure
    ├── ModelNotFound(KeyError)                   .model
    ├── VersionNotFound(KeyError)                 .model .version
    ├── AliasNotFound(KeyError)                   .model .alias
    ├── ExperimentNotFound(KeyError)              .experiment
    ├── RunNotFound(KeyError)                     .run_id
    ├── DuplicateVersion(ValueError)              .model .version
    ├── IllegalTransition(ValueError)             .model .version .from_stage .to_stage .detail
    │   └── NoPreviousVersion                     rollback with nothing to roll back to
    ├── QualityGateFailed(ValueError)             .model .version .stage .failures
    ├── RunNotActive(ValueError)                  .run_id .status  (logging into an ended run)
    └── RegistryUnavailable(ConnectionError)      .url (password hidden) .operation

Plain bad input (a malformed model name, version string, stage or URL) raises ``ValueError``
with the field, the value and what is accepted.  Redis replies that are neither connection
problems nor the cases above (for example ``WRONGTYPE`` because foreign data sits under the
prefix) raise :class:`RegistryError` itself with Redis' message.

Examples
--------
>>> err = QualityGateFailed("tok", "1.0.0", "production",
...                         [{"metric": "mape", "condition": "<=", "threshold": 0.2, "value": 0.35}])
>>> print(err)
tok 1.0.0 -> production refused by the quality gate: mape=0.35 (needs <= 0.2); pass force=True to override
>>> isinstance(err, ValueError), err.failures[0]["metric"]
(True, 'mape')
>>> isinstance(ModelNotFound("tok"), KeyError)
True
"""

from __future__ import annotations

from typing import Any

__all__ = [
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


class RegistryError(Exception):
    """Base class of every registry and tracker error."""

    def __str__(self) -> str:  # KeyError would otherwise repr() its message
        return str(self.args[0]) if self.args else self.__class__.__name__


class ModelNotFound(RegistryError, KeyError):
    """No model of that name is registered."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(f"model {model!r} is not registered (register a version first)")


class VersionNotFound(RegistryError, KeyError):
    """The model exists but that version is not registered."""

    def __init__(self, model: str, version: str, known: list[str] | None = None) -> None:
        self.model = model
        self.version = version
        hint = f"; registered: {', '.join(known[-10:])}" if known else ""
        super().__init__(f"version {version!r} of model {model!r} is not registered{hint}")


class AliasNotFound(RegistryError, KeyError):
    """The model has no such alias."""

    def __init__(self, model: str, alias: str, known: list[str] | None = None) -> None:
        self.model = model
        self.alias = alias
        hint = f"; its aliases: {', '.join(known)}" if known else "; it has no aliases"
        super().__init__(f"model {model!r} has no alias {alias!r}{hint}")


class ExperimentNotFound(RegistryError, KeyError):
    """No experiment with that id or name."""

    def __init__(self, experiment: str) -> None:
        self.experiment = experiment
        super().__init__(f"experiment {experiment!r} not found (by id or by name)")


class RunNotFound(RegistryError, KeyError):
    """No run with that id."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id!r} not found")


class DuplicateVersion(RegistryError, ValueError):
    """The version is already registered; versions are immutable."""

    def __init__(self, model: str, version: str) -> None:
        self.model = model
        self.version = version
        super().__init__(
            f"version {version!r} of model {model!r} is already registered; "
            "versions are immutable, register a new version instead"
        )


class IllegalTransition(RegistryError, ValueError):
    """The lifecycle does not allow this move."""

    def __init__(self, model: str, version: str | None, from_stage: str | None, to_stage: str | None,
                 detail: str = "") -> None:
        self.model = model
        self.version = version
        self.from_stage = from_stage
        self.to_stage = to_stage
        self.detail = detail
        msg = detail or (f"{model} {version}: transition {from_stage} -> {to_stage} is not allowed")
        super().__init__(msg)


class NoPreviousVersion(IllegalTransition):
    """Rollback asked for, but no earlier production version is available."""

    def __init__(self, model: str, current: str | None) -> None:
        super().__init__(
            model, current, "production" if current else None, "production",
            f"cannot roll back {model}: no previous production version to return to "
            f"(current production: {current or 'none'})",
        )


def _fmt_failure(f: dict[str, Any]) -> str:
    value = "missing" if f.get("value") is None else f"{f['value']:g}" if isinstance(f["value"], float) else f["value"]
    return f"{f['metric']}={value} (needs {f['condition']} {f['threshold']:g})"


class QualityGateFailed(RegistryError, ValueError):
    """Evaluation metrics do not meet the model's quality gate for that stage."""

    def __init__(self, model: str, version: str, stage: str, failures: list[dict[str, Any]]) -> None:
        self.model = model
        self.version = version
        self.stage = stage
        self.failures = failures
        listed = "; ".join(_fmt_failure(f) for f in failures)
        super().__init__(
            f"{model} {version} -> {stage} refused by the quality gate: {listed}; pass force=True to override"
        )


class RunNotActive(RegistryError, ValueError):
    """The run has ended; it accepts no more params, metrics or artifacts."""

    def __init__(self, run_id: str, status: str) -> None:
        self.run_id = run_id
        self.status = status
        super().__init__(f"run {run_id!r} has ended with status {status!r}; start a new run to log more")


class RegistryUnavailable(RegistryError, ConnectionError):
    """Redis cannot be reached, refused the credentials, or refuses writes (OOM, read-only)."""

    def __init__(self, url: str, operation: str, cause: BaseException | str) -> None:
        self.url = url
        self.operation = operation
        super().__init__(f"Redis at {url} unavailable during {operation}: {cause}")
