"""Exceptions of the streams package.

Tree (each subclasses a built-in so callers may catch the built-in)::

    ValueError
     ├── SettingsError          an environment variable has a bad value (.variable, .value)
     └── ContractError          a record breaks the contract (.problems: list of (field, value, accepted))
    RuntimeError
     ├── ServiceError           an embedded service cannot be started or reached (.service)
     └── PublishError           the broker refused or lost a message (.reason)
"""

from __future__ import annotations

from typing import Any


class SettingsError(ValueError):
    """A setting read from the environment is invalid; the message names the variable."""

    def __init__(self, variable: str, value: Any, accepted: str) -> None:
        self.variable, self.value, self.accepted = variable, value, accepted
        super().__init__(f"{variable}={value!r} is invalid: expected {accepted}")


class ContractError(ValueError):
    """A record that breaks the v1 contract. ``problems`` lists (field, value, accepted)."""

    def __init__(self, problems: list[tuple[str, Any, str]], *, reason: str = "invalid") -> None:
        self.problems = problems
        self.reason = reason
        parts = [f"{f}: got {_short(v)}, expected {a}" for f, v, a in problems]
        super().__init__("; ".join(parts) if parts else reason)


class ServiceError(RuntimeError):
    """An embedded service (broker, Redis) cannot be started or does not answer."""

    def __init__(self, service: str, message: str) -> None:
        self.service = service
        super().__init__(f"{service}: {message}")


class PublishError(RuntimeError):
    """A message could not be delivered to the broker."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
