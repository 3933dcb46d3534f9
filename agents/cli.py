"""The ``predwatch`` command line.

Commands: ``worker``, ``demo``, ``simulate``, ``services up|down|status``, ``publish``, ``alerts``,
``rules``, ``registry …``, ``experiments …``, ``evaluate``, ``dashboards export``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from agents.cli_settings import exit_on_service_error, settings_or_exit
from streams.errors import ContractError

app = typer.Typer(help="predwatch: a streaming monitor for ML models in production.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
services_app = typer.Typer(help="Embedded broker and Redis for local use.", no_args_is_help=True)
app.add_typer(services_app, name="services")


def _setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@services_app.command("up")
def services_up() -> None:
    """Start the embedded broker and Redis (detached) and record them for other predwatch commands."""
    from streams.embedded import services_up as up

    with exit_on_service_error():
        running = up(settings_or_exit())
    for name, s in running.items():
        typer.echo(f"{name:7} pid {s.pid:<8} {s.url}")
    typer.echo("other predwatch commands with PREDWATCH_KAFKA/PREDWATCH_REDIS=embedded (the default) use these")


@services_app.command("down")
def services_down() -> None:
    """Stop the recorded embedded services."""
    from streams.embedded import services_down as down

    stopped = down(settings_or_exit())
    typer.echo("stopped: " + (", ".join(f"{s.name} (pid {s.pid})" for s in stopped) or "nothing was running"))


@services_app.command("status")
def services_status(as_json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """Show the recorded embedded services that are alive."""
    from streams.embedded import read_state

    running = read_state(settings_or_exit())
    if as_json:
        typer.echo(json.dumps({k: {"pid": v.pid, "url": v.url} for k, v in running.items()}))
        return
    if not running:
        typer.echo("no embedded services running (start them with: predwatch services up)")
        raise typer.Exit(1)
    for name, s in running.items():
        typer.echo(f"{name:7} pid {s.pid:<8} {s.url}  alive")


@app.command("publish")
def publish(
    file: Optional[Path] = typer.Argument(None, help="JSONL file of events (default: stdin)"),
    kafka: Optional[str] = typer.Option(None, help="kafka://host:port (default: PREDWATCH_KAFKA)"),
    single: bool = typer.Option(False, help="one message per event instead of envelopes"),
    v1: bool = typer.Option(False, "--v1", help="v1 batch envelopes instead of columnar (v2) ones, for consumers "
                                                "that read contract version 1 only"),
) -> None:
    """Publish prediction events from JSONL (one event object per line); bad lines are reported, not sent."""
    from streams.publisher import PredictionPublisher
    from streams.records import make_event

    stream = file.open("r", encoding="utf-8") if file else sys.stdin
    sent = bad = 0
    with exit_on_service_error(), PredictionPublisher(kafka, settings=settings_or_exit(), envelopes=not single,
                                                         columnar=not v1) as pub:
        for lineno, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ContractError([("$", obj, "a JSON object")])
                pub.publish_many([make_event(**obj)])
                sent += 1
            except ContractError as exc:
                bad += 1
                typer.echo(f"line {lineno}: {exc}", err=True)
            except ValueError as exc:
                bad += 1
                typer.echo(f"line {lineno}: not JSON ({exc})", err=True)
        pub.flush()
        failed = pub.stats.events_failed
    typer.echo(f"sent {sent} event(s), rejected {bad} line(s), delivery failures {failed}")
    if bad or failed:
        raise typer.Exit(1)


@app.command("alerts")
def alerts(
    follow: bool = typer.Option(False, "--follow", "-f", help="keep waiting for new alerts"),
    model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="model name or glob (repeatable)"),
    severity: Optional[list[str]] = typer.Option(None, "--severity", "-s", help="info|warning|critical (repeatable)"),
    status: Optional[list[str]] = typer.Option(None, "--status", help="firing|resolved (repeatable)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
    new_only: bool = typer.Option(False, "--new", help="only alerts from now on (default: from the beginning)"),
    group: Optional[str] = typer.Option(None, help="consumer group (share alerts among processes)"),
    kafka: Optional[str] = typer.Option(None, help="kafka://host:port (default: PREDWATCH_KAFKA)"),
    idle_s: float = typer.Option(2.0, help="without --follow: stop after this many seconds without an alert"),
) -> None:
    """Print alerts from the alert topic, readably or as JSON lines."""
    from streams.records import to_builtins
    from streams.subscriber import AlertSubscriber

    for s in severity or []:
        if s not in ("info", "warning", "critical"):
            raise typer.BadParameter(f"--severity must be info, warning or critical, got {s!r}")
    with exit_on_service_error():
        sub = AlertSubscriber(kafka, settings=settings_or_exit(), from_beginning=not new_only, group_id=group,
                              models=model, severities=severity, statuses=status)
    n = 0
    try:
        while True:
            alert = sub.poll(0.5 if follow else idle_s)
            if alert is None:
                if follow:
                    continue
                break
            n += 1
            if as_json:
                typer.echo(json.dumps(to_builtins(alert), sort_keys=True))
            else:
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(alert.ts))
                mark = "FIRING  " if alert.status == "firing" else "resolved"
                typer.echo(f"{when} {mark} {alert.severity:8} {alert.model}@{alert.version} {alert.rule}: "
                           f"{alert.metric}={alert.value:.4g} ({alert.condition} {alert.threshold:g})  {alert.message}")
    except KeyboardInterrupt:
        pass
    finally:
        sub.close()
    if not as_json and not follow:
        typer.echo(f"{n} alert(s)", err=True)


def _register_commands() -> None:
    """Command groups of the other packages (each lives in its own agents/cli_*.py module)."""
    from agents.cli_dashboards import dashboards_export
    from agents.cli_evaluate import evaluate_command
    from agents.cli_registry import experiments_app, registry_app
    from agents.cli_worker import register as register_worker

    app.add_typer(registry_app, name="registry")
    app.add_typer(experiments_app, name="experiments")
    app.command("evaluate")(evaluate_command)
    dashboards_app = typer.Typer(help="Grafana dashboards and Prometheus rules generated from code.",
                                 no_args_is_help=True)
    dashboards_app.command("export")(dashboards_export)
    app.add_typer(dashboards_app, name="dashboards")
    register_worker(app)


_register_commands()


def main() -> None:
    _setup_logging("WARNING")
    app()


if __name__ == "__main__":
    main()
