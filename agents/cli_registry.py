"""``predwatch registry …`` and ``predwatch experiments …``: the model registry and tracker from a shell.

Every command takes ``--redis URL`` (default: ``PREDWATCH_REDIS``; ``embedded`` means the Redis of
``predwatch services up``), ``--prefix`` (default ``predwatch``) and ``--json`` for machine-readable
output.  Exit codes: 0 ok, 1 refused or not found (illegal transition, failed gate, unknown model),
2 bad input, 3 Redis unavailable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, NoReturn, Optional

import typer
from rich.console import Console
from rich.table import Table

from registry import (
    ExperimentTracker,
    ModelRegistry,
    RegistryError,
    RegistryUnavailable,
    Stage,
)
from registry.keys import RUN_ID_RE

registry_app = typer.Typer(help="Model registry: versions, stages, aliases, rollback, audit history.",
                           no_args_is_help=True)
experiments_app = typer.Typer(help="Experiment tracker: experiments, runs, comparisons.", no_args_is_help=True)

RedisOpt = typer.Option(None, "--redis", envvar="PREDWATCH_REDIS",
                        help="redis://, rediss:// or unix:// URL, or 'embedded' (default: $PREDWATCH_REDIS)")
PrefixOpt = typer.Option("predwatch", "--prefix", help="Redis key prefix")
JsonOpt = typer.Option(False, "--json", help="JSON output")
ActorOpt = typer.Option("cli", "--actor", help="who makes the change (recorded in the audit entry)")
ReasonOpt = typer.Option("", "--reason", help="why (recorded in the audit entry)")


# plumbing -------------------------------------------------------------------------------------
def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160, highlight=False)


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _url(redis_url: str | None) -> str:
    if redis_url and redis_url != "embedded":
        return redis_url
    try:
        from streams.embedded import read_state
        from streams.settings import Settings

        shared = read_state(Settings.from_env())
    except Exception as exc:  # noqa: BLE001 - any failure means "no embedded Redis to use"
        _fail(f"no Redis URL and no embedded services found ({exc}); pass --redis redis://host:6379/0", 2)
    if "redis" not in shared:
        _fail("no Redis URL given and no embedded Redis running: pass --redis redis://host:6379/0, "
              "set PREDWATCH_REDIS, or start one with `predwatch services up`", 2)
    return shared["redis"].url


def _call(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except RegistryUnavailable as exc:
        _fail(str(exc), 3)
    except RegistryError as exc:
        _fail(str(exc), 1)
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc), 2)


def _registry(redis_url: str | None, prefix: str) -> ModelRegistry:
    return _call(lambda: ModelRegistry(_url(redis_url), prefix=prefix))


def _tracker(redis_url: str | None, prefix: str) -> ExperimentTracker:
    return _call(lambda: ExperimentTracker(_url(redis_url), prefix=prefix))


def _echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _num(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


def _transition_line(t) -> str:
    if t.kind == "alias":
        return f"{t.model}: alias {t.alias} -> {t.version or '(deleted)'} (was {t.previous_version or 'unset'})"
    text = f"{t.model} {t.version}: {t.from_stage or '-'} -> {t.to_stage}"
    if t.previous_version and t.kind in ("promote", "rollback"):
        text += f"; {t.previous_version} -> deprecated"
    if t.forced:
        text += " (quality gate overridden)"
    return text


# registry -------------------------------------------------------------------------------------
@registry_app.command("register")
def register(
    name: str = typer.Argument(..., help="model name"),
    version: str = typer.Argument(..., help="semantic version, e.g. 1.2.0"),
    metadata: str = typer.Option("{}", "--metadata", "-m", help="JSON object of metadata"),
    model_path: Optional[str] = typer.Option(None, "--model-path", help="path or URI of the model artefact"),
    actor: str = ActorOpt,
    reason: str = ReasonOpt,
    redis_url: Optional[str] = RedisOpt,
    prefix: str = PrefixOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Register a new version (stage development)."""
    try:
        meta = json.loads(metadata)
    except json.JSONDecodeError as exc:
        _fail(f"--metadata must be a JSON object, got {metadata!r} ({exc})", 2)
    reg = _registry(redis_url, prefix)
    mv = _call(lambda: reg.register_model(name, version, meta, model_path, actor=actor, reason=reason))
    if as_json:
        _echo_json(mv.to_dict())
    else:
        typer.echo(f"registered {mv.name} {mv.version} ({mv.stage})")


@registry_app.command("list")
def list_(
    name: Optional[str] = typer.Argument(None, help="model name (omit to list models)"),
    stage: Optional[str] = typer.Option(None, "--stage", help="only versions in this stage"),
    redis_url: Optional[str] = RedisOpt,
    prefix: str = PrefixOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List models, or the versions of one model."""
    reg = _registry(redis_url, prefix)
    if name is None:
        rows = []
        for model in _call(reg.list_models):
            versions = _call(lambda m=model: reg.list_versions(m))
            rows.append({"model": model, "versions": len(versions),
                         "latest": versions[-1].version if versions else None,
                         "production": next((v.version for v in versions if v.is_production), None),
                         "aliases": _call(lambda m=model: reg.aliases(m))})
        if as_json:
            _echo_json(rows)
            return
        table = Table(title="models")
        for col in ("model", "versions", "latest", "production", "aliases"):
            table.add_column(col)
        for r in rows:
            table.add_row(r["model"], str(r["versions"]), r["latest"] or "-", r["production"] or "-",
                          ", ".join(f"{a}={v}" for a, v in r["aliases"].items()) or "-")
        _console().print(table)
        return
    wanted = _call(lambda: Stage.parse(stage)) if stage else None
    versions = [v for v in _call(lambda: reg.list_versions(name)) if wanted is None or v.stage is wanted]
    if as_json:
        _echo_json([v.to_dict() for v in versions])
        return
    table = Table(title=f"{name} versions")
    for col in ("version", "stage", "aliases", "created", "evaluation", "model path"):
        table.add_column(col)
    for v in versions:
        ev = ", ".join(f"{k}={_num(x)}" for k, x in sorted((v.evaluation or {}).items())[:4]) or "-"
        table.add_row(v.version, v.stage.value, ", ".join(v.aliases) or "-", _when(v.created_at), ev,
                      v.model_path or "-")
    _console().print(table)


@registry_app.command("show")
def show(
    name: str = typer.Argument(..., help="model name"),
    version: Optional[str] = typer.Argument(None, help="version or alias (omit for the model summary)"),
    redis_url: Optional[str] = RedisOpt,
    prefix: str = PrefixOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Show one version in full, or a model summary (production, aliases, gate, rollback stack)."""
    reg = _registry(redis_url, prefix)
    if version is not None:
        mv = _call(lambda: reg.get(name, reg.resolve_version(name, version)))
        body = mv.to_dict()
        body["reference"] = _call(lambda: reg.get_reference(name, mv.version))
        if as_json:
            _echo_json(body)
            return
        table = Table(title=f"{name} {mv.version}", show_header=False)
        table.add_column("field")
        table.add_column("value")
        table.add_row("stage", mv.stage.value)
        table.add_row("aliases", ", ".join(mv.aliases) or "-")
        table.add_row("created", _when(mv.created_at))
        table.add_row("model path", mv.model_path or "-")
        table.add_row("metadata", json.dumps(mv.metadata, sort_keys=True))
        table.add_row("evaluation", json.dumps(mv.evaluation, sort_keys=True) if mv.evaluation else "-")
        table.add_row("evaluation run", mv.evaluation_run_id or "-")
        ref = body["reference"]
        table.add_row("reference", f"{len(json.dumps(ref))} bytes, keys: {', '.join(sorted(ref))}" if ref else "-")
        _console().print(table)
        return
    versions = _call(lambda: reg.list_versions(name))
    summary = {
        "model": name,
        "production": _call(lambda: reg.get_production_version(name)),
        "previous_production": _call(lambda: reg.previous_production_versions(name)),
        "aliases": _call(lambda: reg.aliases(name)),
        "quality_gate": _call(lambda: reg.get_quality_gate(name)),
        "active_reference": _call(lambda: reg.get_active_reference(name)) is not None,
        "versions": {v.version: v.stage.value for v in versions},
    }
    if as_json:
        _echo_json(summary)
        return
    table = Table(title=name, show_header=False)
    table.add_column("field")
    table.add_column("value")
    table.add_row("production", summary["production"] or "-")
    table.add_row("rollback stack", " <- ".join(reversed(summary["previous_production"])) or "-")
    table.add_row("aliases", ", ".join(f"{a}={v}" for a, v in summary["aliases"].items()) or "-")
    gate = summary["quality_gate"]
    gate_text = "-"
    if gate:
        rules = ", ".join(f"{m} {c} {_num(x)}" for m, (c, x) in sorted(gate["thresholds"].items()))
        gate_text = f"{rules} (for {', '.join(gate['stages'])})"
    table.add_row("quality gate", gate_text)
    table.add_row("active reference", "yes" if summary["active_reference"] else "no")
    table.add_row("versions", ", ".join(f"{v} ({s})" for v, s in summary["versions"].items()))
    _console().print(table)


@registry_app.command("promote")
def promote(
    name: str = typer.Argument(..., help="model name"),
    version: str = typer.Argument(..., help="version to move"),
    stage: str = typer.Option("production", "--stage", "-s", help="target stage"),
    force: bool = typer.Option(False, "--force", help="override a failing quality gate (recorded)"),
    alert_id: Optional[str] = typer.Option(None, "--alert-id", help="alert that prompted the change"),
    actor: str = ActorOpt,
    reason: str = ReasonOpt,
    redis_url: Optional[str] = RedisOpt,
    prefix: str = PrefixOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Move a version to a stage (production by default; the previous production version is deprecated)."""
    reg = _registry(redis_url, prefix)
    t = _call(lambda: reg.transition(name, version, stage, actor=actor, reason=reason, alert_id=alert_id,
                                     force=force))
    if as_json:
        _echo_json(t.to_dict())
    else:
        typer.echo(_transition_line(t))


@registry_app.command("rollback")
def rollback(
    name: str = typer.Argument(..., help="model name"),
    to: Optional[str] = typer.Option(None, "--to", help="earlier production version (default: the previous one)"),
    alert_id: Optional[str] = typer.Option(None, "--alert-id", help="alert that prompted the rollback"),
    actor: str = ActorOpt,
    reason: str = ReasonOpt,
    redis_url: Optional[str] = RedisOpt,
    prefix: str = PrefixOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Return production to the previous production version (or --to an earlier one)."""
    reg = _registry(redis_url, prefix)
    t = _call(lambda: reg.rollback_model(name, to, actor=actor, reason=reason, alert_id=alert_id))
    if as_json:
        _echo_json(t.to_dict())
    else:
        typer.echo(f"rolled back: {_transition_line(t)}")


@registry_app.command("alias")
def alias(
    name: str = typer.Argument(..., help="model name"),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="alias, e.g. champion"),
    version: Optional[str] = typer.Argument(None, help="version to point at (omit to show the alias)"),
    delete: bool = typer.Option(False, "--delete", help="remove the alias"),
    actor: str = ActorOpt,
    reason: str = ReasonOpt,
    redis_url: Optional[str] = RedisOpt,
    prefix: str = PrefixOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Show, set or delete an alias."""
    reg = _registry(redis_url, prefix)
    if delete and version:
        _fail("give either a VERSION to point the alias at or --delete, not both", 2)
    if delete:
        t = _call(lambda: reg.delete_alias(name, alias_name, actor=actor, reason=reason))
    elif version:
        t = _call(lambda: reg.set_alias(name, alias_name, version, actor=actor, reason=reason))
    else:
        _call(lambda: reg.list_versions(name))  # unknown model -> clear error
        target = _call(lambda: reg.get_alias(name, alias_name))
        if as_json:
            _echo_json({"model": name, "alias": alias_name, "version": target})
        elif target is None:
            _fail(f"{name} has no alias {alias_name!r}", 1)
        else:
            typer.echo(f"{name} {alias_name} -> {target}")
        return
    if as_json:
        _echo_json(t.to_dict())
    else:
        typer.echo(_transition_line(t))


@registry_app.command("history")
def history(
    name: str = typer.Argument(..., help="model name"),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="only the last N entries"),
    at: Optional[str] = typer.Option(None, "--at", help="print the production version at this time "
                                                         "(epoch seconds or ISO 8601)"),
    redis_url: Optional[str] = RedisOpt,
    prefix: str = PrefixOpt,
    as_json: bool = JsonOpt,
) -> None:
    """The audit history (who moved what, when, why), or the production version at --at."""
    reg = _registry(redis_url, prefix)
    if at is not None:
        ts = _parse_time(at)
        _call(lambda: reg.list_versions(name))
        version = _call(lambda: reg.production_at(name, ts))
        if as_json:
            _echo_json({"model": name, "ts": ts, "production": version})
        else:
            typer.echo(f"{name} production at {_when(ts)}: {version or 'none'}")
        return
    entries = _call(lambda: reg.history(name, limit=limit))
    if as_json:
        _echo_json([t.to_dict() for t in entries])
        return
    table = Table(title=f"{name} history")
    for col in ("time", "kind", "version", "move", "production", "actor", "reason", "alert"):
        table.add_column(col)
    for t in entries:
        if t.kind == "alias":
            move = f"{t.alias}: {t.previous_version or '-'} -> {t.version or '(deleted)'}"
        else:
            move = f"{t.from_stage or '-'} -> {t.to_stage}" + (" FORCED" if t.forced else "")
        table.add_row(_when(t.ts), t.kind, t.version or "-", move, t.production or "-", t.actor,
                      t.reason or "-", t.alert_id or "-")
    _console().print(table)


def _parse_time(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--at must be epoch seconds or an ISO 8601 time like 2026-01-31T12:00:00Z, got {value!r}", 2)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


# experiments ----------------------------------------------------------------------------------
@experiments_app.command("list")
def experiments_list(
    name: Optional[str] = typer.Option(None, "--name", help="glob over experiment names"),
    redis_url: Optional[str] = RedisOpt,
    prefix: str = PrefixOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List experiments."""
    tr = _tracker(redis_url, prefix)
    exps = _call(lambda: tr.search_experiments(name))
    if as_json:
        _echo_json([e.to_dict() for e in exps])
        return
    table = Table(title="experiments")
    for col in ("id", "name", "runs", "created", "description", "tags"):
        table.add_column(col)
    for e in exps:
        table.add_row(e.experiment_id, e.name, str(e.run_count), _when(e.created_at), e.description or "-",
                      ", ".join(f"{k}={v}" for k, v in sorted(e.tags.items())) or "-")
    _console().print(table)


def _runs_table(title: str, runs: list, params: list[str], metrics: list[str]) -> Table:
    table = Table(title=title)
    for col in ["run", "status", *params, *metrics, "wall s"]:
        table.add_column(col)
    for r in runs:
        table.add_row(r.run_id, r.status, *[_num(r.params.get(p)) for p in params],
                      *[_num(r.metrics.get(m)) for m in metrics], _num((r.resources or {}).get("wall_s")))
    return table


@experiments_app.command("show")
def experiments_show(
    experiment_or_run: str = typer.Argument(..., help="experiment id or name, or a run id"),
    redis_url: Optional[str] = RedisOpt,
    prefix: str = PrefixOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Show an experiment and its runs, or one run in full."""
    tr = _tracker(redis_url, prefix)
    if RUN_ID_RE.match(experiment_or_run):
        run = _call(lambda: tr.get_run(experiment_or_run))
        if as_json:
            _echo_json(run.to_dict())
            return
        table = Table(title=f"run {run.run_id}", show_header=False)
        table.add_column("field")
        table.add_column("value")
        table.add_row("status", run.status)
        table.add_row("started", _when(run.start_time))
        table.add_row("ended", _when(run.end_time))
        table.add_row("params", json.dumps(run.params, sort_keys=True))
        table.add_row("metrics", ", ".join(f"{k}={_num(v)}" for k, v in sorted(run.metrics.items())) or "-")
        table.add_row("tags", json.dumps(run.tags, sort_keys=True))
        table.add_row("resources", ", ".join(f"{k}={_num(v)}" for k, v in sorted(run.resources.items())) or "-")
        table.add_row("artifacts", "\n".join(f"{a['name']}  {a['uri']}  {_num(a.get('size'))} B" for a in run.artifacts)
                      or "-")
        table.add_row("error", run.error or "-")
        _console().print(table)
        return
    exp = _call(lambda: tr.get_experiment(experiment_or_run))
    runs = _call(lambda: tr.list_runs(exp.experiment_id))
    if as_json:
        _echo_json({"experiment": exp.to_dict(), "runs": [r.to_dict() for r in runs]})
        return
    console = _console()
    console.print(f"[bold]{exp.name}[/bold] ({exp.experiment_id}) {exp.description}")
    if exp.hyperparameters:
        console.print(f"hyperparameters: {json.dumps(exp.hyperparameters, sort_keys=True)}")
    params = sorted({p for r in runs for p in r.params})
    metrics = sorted({m for r in runs for m in r.metrics})
    console.print(_runs_table(f"{len(runs)} run(s)", runs, params, metrics))


@experiments_app.command("compare")
def experiments_compare(
    experiments: list[str] = typer.Argument(..., help="experiment ids or names"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", help="metrics to show (repeatable; default all)"),
    mode: Optional[list[str]] = typer.Option(None, "--mode", help="metric=min|max direction (repeatable)"),
    redis_url: Optional[str] = RedisOpt,
    prefix: str = PrefixOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Runs of several experiments side by side, with the best finished run per metric."""
    modes = {}
    for item in mode or []:
        key, sep, value = item.partition("=")
        if not sep:
            _fail(f"--mode must look like metric=min or metric=max, got {item!r}", 2)
        modes[key] = value
    tr = _tracker(redis_url, prefix)
    cmp = _call(lambda: tr.compare_experiments(experiments, metrics=metric or None, modes=modes))
    if as_json:
        _echo_json(cmp.to_dict())
        return
    table = Table(title="comparison")
    for col in ["experiment", "run", "status", *cmp.params, *cmp.metrics]:
        table.add_column(col)
    for row in cmp.rows:
        cells = [row["experiment"], row["run_id"], row["status"], *[_num(row["params"][p]) for p in cmp.params]]
        for m in cmp.metrics:
            value = _num(row["metrics"][m])
            best = cmp.best.get(m)
            cells.append(f"[bold]{value}*[/bold]" if best and best["run_id"] == row["run_id"] else value)
        table.add_row(*cells)
    console = _console()
    console.print(table)
    for m, b in cmp.best.items():
        console.print(f"best {m} ({b['mode']}): {_num(b['value'])}  run {b['run_id']} in {b['experiment']}")


@experiments_app.command("best")
def experiments_best(
    experiment: str = typer.Argument(..., help="experiment id or name"),
    metric: str = typer.Argument(..., help="metric name"),
    mode: str = typer.Option("min", "--mode", help="min or max"),
    redis_url: Optional[str] = RedisOpt,
    prefix: str = PrefixOpt,
    as_json: bool = JsonOpt,
) -> None:
    """The finished run with the best value of a metric."""
    tr = _tracker(redis_url, prefix)
    run = _call(lambda: tr.get_best_run(experiment, metric, mode))
    if run is None:
        if as_json:
            _echo_json(None)
            raise typer.Exit(1)
        _fail(f"no finished run of {experiment!r} logged {metric!r}", 1)
    if as_json:
        _echo_json(run.to_dict())
        return
    typer.echo(f"best {metric} ({mode}) in {experiment}: {_num(run.metrics[metric])}  run {run.run_id}  "
               f"params {json.dumps(run.params, sort_keys=True)}")


__all__ = ["registry_app", "experiments_app"]
