"""``predwatch evaluate``: score a token-count estimator against tokenizer ground truth.

The main CLI registers :func:`evaluate_command` with ``app.command("evaluate")(evaluate_command)``.

Exit codes: 0 the model passed (or no threshold was set), 1 it failed a threshold, 2 bad input
(unknown model, unreadable dataset, tokenizer not available offline, no Redis URL, ...).

Examples
--------
>>> import typer
>>> from typer.testing import CliRunner
>>> app = typer.Typer()
>>> _ = app.command("evaluate")(evaluate_command)
>>> _ = app.command("noop")(lambda: None)
>>> result = CliRunner().invoke(app, ["evaluate", "--model", "word_punct", "--resamples", "50", "--json"])
>>> import json; json.loads(result.stdout)["metrics"]["mae"] > 0, result.exit_code
(True, 0)
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from evaluation.dataset import DEFAULT_DATASET, GroundTruthLoader
from evaluation.errors import DatasetError, NotFittedError, TokenizerUnavailable
from evaluation.estimators import ESTIMATORS
from evaluation.evaluator import EvaluationReport, ModelEvaluator, QualityThresholds
from evaluation.ground_truth import load_tokenizer

__all__ = ["PROGRESS_MIN_RECORDS", "evaluate_command", "render_report"]

#: Datasets at least this long get a progress bar (on stderr, not with --json).
PROGRESS_MIN_RECORDS = 5000


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}g}"


def render_report(report: EvaluationReport, console: Console) -> None:
    """Print `report` as rich tables."""
    console.print(f"[bold]{report.model}[/bold] on {report.dataset} ({report.n} texts"
                  f"{', counts from ' + report.tokenizer if report.tokenizer else ''}); predictions: {report.prediction_mode}")

    table = Table(title=f"Accuracy ({report.confidence:.0%} bootstrap CI, {report.n_resamples} resamples, seed {report.seed})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("CI low", justify="right")
    table.add_column("CI high", justify="right")
    if report.baseline_metrics is not None:
        table.add_column(f"baseline {report.comparison.baseline}", justify="right")
    for k in ("mae", "rmse", "r2", "mape", "bias"):
        lo, hi = report.intervals.get(k, (None, None))
        row = [k, _fmt(report.metrics[k]), _fmt(lo), _fmt(hi)]
        if report.baseline_metrics is not None:
            row.append(_fmt(report.baseline_metrics[k]))
        table.add_row(*row)
    console.print(table)

    if report.by_kind:
        kinds = Table(title="By kind")
        for col in ("kind", "n", "mae", "mape", "bias"):
            kinds.add_column(col, justify="left" if col == "kind" else "right")
        for kind, m in report.by_kind.items():
            kinds.add_row(kind, str(m["n"]), _fmt(m["mae"]), _fmt(m["mape"]), _fmt(m["bias"]))
        console.print(kinds)

    if report.worst:
        worst = Table(title="Largest errors")
        for col in ("line", "kind", "tokens", "predicted", "text"):
            worst.add_column(col, justify="left" if col in ("kind", "text") else "right")
        for w in report.worst:
            worst.add_row(str(w["line"]), w["kind"] or "", str(w["token_count"]), _fmt(w["prediction"]),
                          w["text"].replace("\n", "⏎"))
        console.print(worst)

    if report.cross_validation:
        cv = report.cross_validation
        cvt = Table(title=f"{cv['k']}-fold CV, seed {cv['seed']}")
        cvt.add_column("metric")
        cvt.add_column("mean", justify="right")
        cvt.add_column("std", justify="right")
        for k in ("mae", "rmse", "r2", "mape"):
            cvt.add_row(k, _fmt(cv["mean"][k]), _fmt(cv["std"][k]))
        console.print(cvt)

    if report.comparison is not None:
        c = report.comparison
        verdict = ("better than" if c.mae_difference < 0 else "worse than") if c.significant else "not significantly different from"
        console.print(f"vs baseline [bold]{c.baseline}[/bold]: MAE {_fmt(c.model_mae)} vs {_fmt(c.baseline_mae)} "
                      f"(difference {_fmt(c.mae_difference)}), {c.test}: p = {c.p_value:.3g} -> {verdict} the baseline "
                      f"at alpha {c.alpha:g}")

    if report.passed:
        console.print("[bold green]PASS[/bold green]" + ("" if any(v not in (None, False) for v in report.thresholds.to_dict().values())
                                                        else " (no thresholds set)"))
    else:
        console.print("[bold red]FAIL[/bold red]: " + "; ".join(report.failures))


def _progress_callback(progress: Progress):
    tasks: dict[str, int] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = progress.add_task(phase, total=total)
        progress.update(tasks[phase], completed=done, total=total)

    return update


def _fail(console: Console, message: str) -> None:
    console.print(f"[bold red]error:[/bold red] {message}", highlight=False)
    raise typer.Exit(code=2)


def evaluate_command(
    model: Annotated[str, typer.Option("--model", "-m", help=f"Estimator to evaluate: {', '.join(sorted(ESTIMATORS))}.")],
    dataset: Annotated[Path, typer.Option("--dataset", "-d", show_default=False,
                                                help="JSONL or CSV of `text` [+ `token_count`]; default: the shipped dataset.")] = DEFAULT_DATASET,
    tokenizer: Annotated[str, typer.Option("--tokenizer", "-t", help="Ground truth for missing counts: tiktoken:<encoding> or hf:<directory>.")] = "tiktoken:cl100k_base",
    recount: Annotated[bool, typer.Option("--recount", help="Recount every text with --tokenizer, ignoring counts in the file.")] = False,
    baseline: Annotated[str | None, typer.Option("--baseline", "-b", help="Estimator to compare with (paired Wilcoxon test).")] = None,
    train: Annotated[Path | None, typer.Option("--train", help="Training set for estimators that are fitted (default: k-fold out-of-fold).")] = None,
    max_mae: Annotated[float | None, typer.Option("--max-mae")] = None,
    max_rmse: Annotated[float | None, typer.Option("--max-rmse")] = None,
    min_r2: Annotated[float | None, typer.Option("--min-r2")] = None,
    max_mape: Annotated[float | None, typer.Option("--max-mape", help="As a fraction: 0.2 = 20 %.")] = None,
    must_beat_baseline: Annotated[bool, typer.Option("--must-beat-baseline")] = False,
    resamples: Annotated[int, typer.Option("--resamples", min=1, help="Bootstrap resamples.")] = 1000,
    folds: Annotated[int, typer.Option("--folds", min=2, help="Cross-validation folds for fitted estimators.")] = 5,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    log_experiment: Annotated[str | None, typer.Option("--log-experiment", help="Log the run to this experiment (Redis).")] = None,
    attach: Annotated[str | None, typer.Option("--attach", help="Attach the metrics to registry version MODEL@VERSION.")] = None,
    set_reference: Annotated[bool, typer.Option("--set-reference", help="With --attach: make the evaluation sample that version's drift reference.")] = False,
    redis: Annotated[str | None, typer.Option("--redis", help="Redis URL (default: $PREDWATCH_REDIS).")] = None,
    artifact_dir: Annotated[Path | None, typer.Option("--artifact-dir", help="Where the JSON report artifact is written.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON instead of tables.")] = False,
) -> None:
    """Evaluate a token-count model against tokenizer ground truth and print a report."""
    out = Console()
    err = Console(stderr=True)
    if model not in ESTIMATORS:
        _fail(err, f"--model must be one of {', '.join(sorted(ESTIMATORS))}, got {model!r}")
    if baseline is not None and baseline not in ESTIMATORS:
        _fail(err, f"--baseline must be one of {', '.join(sorted(ESTIMATORS))}, got {baseline!r}")
    if set_reference and not attach:
        _fail(err, "--set-reference needs --attach MODEL@VERSION")
    target = None
    if attach:
        name, at, version = attach.partition("@")
        if not at or not name or not version:
            _fail(err, f"--attach must be MODEL@VERSION (e.g. tok-count@1.2.0), got {attach!r}")
        target = (name, version)
    redis_url = None
    if log_experiment or attach:
        redis_url = redis or os.environ.get("PREDWATCH_REDIS")
        if not redis_url:
            _fail(err, "--log-experiment/--attach need Redis: pass --redis redis://HOST:PORT/DB or set PREDWATCH_REDIS")
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            _fail(err, f"Redis URL must be redis://, rediss:// or unix://, got {redis_url!r}"
                       " (for 'embedded', start the services and pass their URL with --redis)")
    try:
        thresholds = QualityThresholds(max_mae=max_mae, max_rmse=max_rmse, min_r2=min_r2, max_mape=max_mape,
                                       must_beat_baseline=must_beat_baseline)
    except ValueError as exc:
        _fail(err, str(exc))

    loader = GroundTruthLoader(tokenizer, tokenizer_factory=load_tokenizer, recount=recount)
    try:
        data = loader.load(dataset)
        train_data = loader.load(train) if train is not None else None
    except (DatasetError, TokenizerUnavailable, FileNotFoundError, ValueError) as exc:
        _fail(err, str(exc))

    evaluator = ModelEvaluator(thresholds, baseline=baseline, n_resamples=resamples, k_folds=folds, seed=seed)
    show_progress = not json_output and len(data) >= PROGRESS_MIN_RECORDS
    try:
        if show_progress:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=err, transient=True) as progress:
                report = evaluator.evaluate_token_counting_accuracy(model, data, train_data=train_data,
                                                                    progress=_progress_callback(progress))
        else:
            report = evaluator.evaluate_token_counting_accuracy(model, data, train_data=train_data)
    except (NotFittedError, ValueError) as exc:
        _fail(err, str(exc))

    run_id = None
    if redis_url:
        from evaluation import tracking

        try:
            if log_experiment:
                from registry import ExperimentTracker

                run_id = tracking.log_evaluation(ExperimentTracker(redis_url), report, experiment=log_experiment,
                                                 artifact_dir=artifact_dir)
            if target:
                from registry import ModelRegistry

                reg = ModelRegistry(redis_url)
                tracking.attach_evaluation(reg, target[0], target[1], report, run_id=run_id)
                if set_reference:
                    tracking.set_evaluation_reference(reg, target[0], target[1], data, report.predictions)
        except (KeyError, ValueError, ConnectionError, ImportError) as exc:
            _fail(err, f"could not record the evaluation in Redis: {exc}")

    if json_output:
        body = report.to_dict()
        body["run_id"] = run_id
        out.print_json(json.dumps(_jsonable(body), allow_nan=False))
    else:
        render_report(report, out)
        if run_id:
            out.print(f"logged to experiment [bold]{log_experiment}[/bold] as run {run_id}")
        if target:
            out.print(f"metrics attached to {target[0]}@{target[1]}" + (" (and its drift reference)" if set_reference else ""))
    if not report.passed:
        raise typer.Exit(code=1)
