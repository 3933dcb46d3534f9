"""Settings for CLI commands: a bad environment variable exits with code 2 and its message."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer

from streams.errors import ServiceError, SettingsError
from streams.settings import Settings


def settings_or_exit() -> Settings:
    """The environment's settings, or exit 2 naming the bad variable."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@contextlib.contextmanager
def exit_on_service_error() -> Iterator[None]:
    """A broker or Redis that cannot be reached or started: its message, exit 1."""
    try:
        yield
    except ServiceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def resolved_or_exit():
    """Settings with ``embedded`` replaced by running services: ``(settings, owned services or None)``."""
    from streams.embedded import resolve

    with exit_on_service_error():
        return resolve(settings_or_exit())
