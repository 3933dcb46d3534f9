"""``predwatch worker``, ``predwatch rules …`` and ``predwatch demo`` / ``predwatch simulate``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import typer

from agents.cli_settings import resolved_or_exit

rules_app = typer.Typer(help="Alert rules: the YAML file and the ones managed at run time in Redis.",
                        no_args_is_help=True)


def worker_command(
    web_port: Optional[int] = typer.Option(None, help="HTTP port for /metrics, /health, /ready (PREDWATCH_WEB_PORT)"),
    loglevel: str = typer.Option("info", help="debug|info|warning|error"),
    checkpoint_interval: float = typer.Option(2.0, help="seconds between state checkpoints to Redis"),
) -> None:
    """Run a monitor worker (embedded broker and Redis unless PREDWATCH_KAFKA/PREDWATCH_REDIS say otherwise)."""
    from agents.app import run_worker

    logging.getLogger().setLevel(loglevel.upper())
    settings, owned = resolved_or_exit()
    if web_port is not None:
        settings = settings.replace(web_port=web_port)
    typer.echo(f"predwatch worker: kafka {settings.kafka}, redis {settings.redis}, web :{settings.web_port}", err=True)
    try:
        run_worker(settings, loglevel=loglevel, checkpoint_interval_s=checkpoint_interval)
    finally:
        if owned is not None:
            owned.stop()


@rules_app.command("list")
def rules_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Rules in force: the file's (PREDWATCH_CONFIG or the shipped defaults) and Redis' (which win by name)."""
    from agents.alerting import AlertManager

    settings, _ = resolved_or_exit()
    manager = AlertManager(settings)
    rules = manager.effective_rules()
    if as_json:
        typer.echo(json.dumps([dict(r.to_dict(), source=src) for r, src in rules], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "source", "model", "metric", "condition", "for", "cooldown", "severity")
    for r, src in rules:
        d = r.to_dict()
        cond = f"{r.condition} {r.threshold:g}" + (f" (resolve {r.resolve_threshold:g})" if r.resolve_threshold is not None else "")
        table.add_row(r.name, src, r.model, r.metric, cond, d["for"], d["cooldown"], r.severity)
    Console().print(table)


@rules_app.command("set")
def rules_set(file: Path = typer.Argument(..., help="YAML file with a 'rules' list to store in Redis")) -> None:
    """Store rules in Redis (running workers pick them up within seconds)."""
    from agents.alerting import AlertManager
    from streams.rules import RuleError, load_rules

    try:
        rules = load_rules(file)
    except RuleError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    settings, _ = resolved_or_exit()
    manager = AlertManager(settings)
    for r in rules:
        manager.configure_alert(r)
    typer.echo(f"stored {len(rules)} rule(s): {', '.join(r.name for r in rules)}")


@rules_app.command("delete")
def rules_delete(name: str) -> None:
    """Delete a rule stored in Redis."""
    from agents.alerting import AlertManager

    settings, _ = resolved_or_exit()
    if not AlertManager(settings).delete(name):
        typer.echo(f"no rule named {name!r} in Redis", err=True)
        raise typer.Exit(1)
    typer.echo(f"deleted {name}")


def register(app: typer.Typer) -> None:
    app.command("worker")(worker_command)
    app.add_typer(rules_app, name="rules")
    try:
        from agents.demo import demo_command, simulate_command
    except ImportError:
        return
    app.command("demo")(demo_command)
    app.command("simulate")(simulate_command)
