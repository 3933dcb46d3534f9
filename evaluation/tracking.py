"""Hand evaluation results to the experiment tracker and the model registry.

The tracker and registry are passed in (``registry.ExperimentTracker`` and ``registry.ModelRegistry``
or stand-ins with the same methods), so this module opens no connection itself:

- :func:`log_evaluation` starts a run in an experiment (created if missing), logs params, the
  numeric metrics and the JSON report as an artifact, and ends the run (``failed`` with the error
  if anything goes wrong);
- :func:`attach_evaluation` stores the metrics on a registry version, where the quality gate reads
  ``mae``, ``rmse``, ``r2``, ``mape``;
- :func:`evaluation_reference` / :func:`set_evaluation_reference` turn the evaluation sample into
  the version's drift reference (``detectors.reference.Reference``): the model's predictions on it
  plus simple text features.

Non-finite numbers (an undefined MAPE, say) are left out of logged and attached metrics.

Examples
--------
>>> finite_metrics({"mae": 1.5, "mape": float("nan"), "passed": 1.0})
{'mae': 1.5, 'passed': 1.0}
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.dataset import Dataset
from evaluation.estimators import FEATURE_NAMES, text_features
from evaluation.evaluator import EvaluationReport

__all__ = [
    "DEFAULT_REFERENCE_FEATURES",
    "attach_evaluation",
    "evaluation_params",
    "evaluation_reference",
    "finite_metrics",
    "log_evaluation",
    "set_evaluation_reference",
]

DEFAULT_REFERENCE_FEATURES = ("chars", "words")


def finite_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The finite numeric entries of `metrics`, as floats."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}


def evaluation_params(report: EvaluationReport) -> dict[str, Any]:
    """The settings that produced `report`, as flat tracker params."""
    params: dict[str, Any] = {
        "model": report.model,
        "dataset": report.dataset,
        "tokenizer": report.tokenizer or "",
        "n": report.n,
        "prediction_mode": report.prediction_mode,
        "n_resamples": report.n_resamples,
        "confidence": report.confidence,
        "seed": report.seed,
        "baseline": report.comparison.baseline if report.comparison else "",
    }
    if report.cross_validation:
        params["k_folds"] = report.cross_validation["k"]
    for k, v in report.thresholds.to_dict().items():
        if v is not None:
            params[f"threshold.{k}"] = v
    return params


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def _start_run(tracker, experiment: str, params: dict, tags: dict | None, description: str):
    try:
        return tracker.start_run(experiment, params=params, tags=tags)
    except KeyError:  # registry.errors.ExperimentNotFound is a KeyError
        exp = tracker.start_experiment(experiment, description=description, tags=tags)
        return tracker.start_run(exp.experiment_id, params=params, tags=tags)


def log_evaluation(
    tracker,
    report: EvaluationReport,
    *,
    experiment: str,
    artifact_dir: str | Path | None = None,
    tags: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Log `report` as one run of `experiment` and return the run id.

    Parameters
    ----------
    tracker
        An ``ExperimentTracker``.
    experiment
        Experiment name; created when it does not exist yet.
    artifact_dir
        Where the JSON report is written before it is logged (default: a ``predwatch-artifacts``
        folder in the system temp directory). The file is kept: the tracker records its path,
        size and sha256.
    extra
        More JSON-serialisable sections added to the report file (e.g. a compression report).
    """
    run = _start_run(tracker, experiment, evaluation_params(report), tags,
                     description="token-count accuracy evaluations")
    try:
        tracker.log_metrics(run.run_id, finite_metrics(report.flat_metrics()))
        if report.cross_validation:
            for i, fold in enumerate(report.cross_validation["folds"]):
                tracker.log_metrics(run.run_id, finite_metrics({f"cv_{k}": v for k, v in fold.items()}), step=i)
        folder = Path(artifact_dir) if artifact_dir else Path(tempfile.gettempdir()) / "predwatch-artifacts"
        folder = folder / run.run_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "evaluation_report.json"
        body = report.to_dict()
        if extra:
            body.update(extra)
        path.write_text(json.dumps(body, indent=2, default=_json_default, allow_nan=True), encoding="utf-8")
        tracker.log_artifact(run.run_id, str(path), name="evaluation_report.json")
    except BaseException as exc:
        tracker.end_run(run.run_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    tracker.end_run(run.run_id, status="finished")
    return run.run_id


def attach_evaluation(registry, name: str, version: str, report: EvaluationReport,
                      run_id: str | None = None) -> dict[str, float]:
    """Store the report's finite metrics on registry version `name`/`version`; returns what was stored."""
    metrics = finite_metrics(report.flat_metrics())
    registry.attach_evaluation(name, version, metrics, run_id=run_id)
    return metrics


def evaluation_reference(
    dataset: Dataset,
    predictions: Sequence[float] | np.ndarray,
    *,
    features: Sequence[str] = DEFAULT_REFERENCE_FEATURES,
) -> dict:
    """A drift reference (``Reference.to_dict()``) from an evaluation sample: field ``prediction``
    (the model's predictions) and the text `features` named (any of
    :data:`~evaluation.estimators.FEATURE_NAMES`), plus ``kind`` when the dataset has kinds.

    Examples
    --------
    >>> ds = Dataset.from_texts(["a b", "c d e"], [2, 3])
    >>> ref = evaluation_reference(ds, [2.0, 3.5])
    >>> sorted(ref["fields"])
    ['chars', 'prediction', 'words']
    """
    from detectors.reference import Reference

    pred = np.asarray(predictions, dtype=np.float64)
    if pred.shape != (len(dataset),):
        raise ValueError(f"predictions must have one value per text ({len(dataset)}), got shape {pred.shape}")
    unknown = [f for f in features if f not in FEATURE_NAMES]
    if unknown:
        raise ValueError(f"features must be among {list(FEATURE_NAMES)}, got {unknown}")
    x = text_features(dataset.texts)
    fields: dict[str, Sequence] = {"prediction": pred}
    for f in features:
        fields[f] = x[:, FEATURE_NAMES.index(f)]
    if dataset.kinds is not None:
        fields["kind"] = list(dataset.kinds)
    return Reference.from_samples(fields).to_dict()


def set_evaluation_reference(registry, name: str, version: str, dataset: Dataset,
                             predictions: Sequence[float] | np.ndarray, *,
                             features: Sequence[str] = DEFAULT_REFERENCE_FEATURES) -> dict:
    """Make the evaluation sample the drift reference of registry version `name`/`version`."""
    reference = evaluation_reference(dataset, predictions, features=features)
    registry.set_reference(name, version, reference)
    return reference
