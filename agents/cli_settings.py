"""Settings for CLI commands: a bad environment variable exits with code 2 and its message."""

from __future__ import annotations

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


def resolved_or_exit():
    """Settings with ``embedded`` replaced by running services: ``(settings, owned services or None)``."""
    from streams.embedded import resolve

    try:
        return resolve(settings_or_exit())
    except ServiceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
