"""ModelEvaluator: how well a token-count estimator matches a tokenizer's ground truth.

A report holds MAE, RMSE, R², MAPE (fraction) and bias (mean signed error, > 0 = over-counting),
percentile-bootstrap confidence intervals (seeded), a break-down by record kind, k-fold
cross-validation for estimators that are fitted, a paired comparison with a baseline (Wilcoxon
signed-rank on absolute errors) and a pass/fail verdict against :class:`QualityThresholds`.

Estimators that need fitting are scored on predictions they did not train on: fitted on
``train_data`` when given, else out-of-fold predictions of the k-fold cross-validation on the test
data itself; an estimator instance that is already fitted is scored as it is.

Examples
--------
>>> from evaluation.dataset import load_default_dataset
>>> data = load_default_dataset()
>>> ev = ModelEvaluator(QualityThresholds(max_mape=0.5), n_resamples=200, seed=1)
>>> report = ev.evaluate_token_counting_accuracy("word_punct", data, baseline="chars_per_token")
>>> report.n, report.passed, report.comparison.model_is_better
(400, True, True)
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.dataset import Dataset, GroundTruthLoader
from evaluation.estimators import TokenEstimator, get_estimator
from evaluation.metrics import (
    PairedComparison,
    bootstrap_intervals,
    kfold_indices,
    paired_comparison,
    regression_metrics,
)

__all__ = ["EvaluationReport", "ModelEvaluator", "Progress", "QualityThresholds"]

#: ``progress(phase, done, total)``: called as work advances (phases: predict, bootstrap, cross_validation).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class QualityThresholds:
    """Limits a model must meet to pass; ``None`` means "not checked".

    Examples
    --------
    >>> th = QualityThresholds(max_mae=2.0, min_r2=0.9)
    >>> th.check({"mae": 2.5, "rmse": 3.0, "r2": 0.95, "mape": 0.1})
    ['mae 2.5 > max_mae 2']
    >>> QualityThresholds.from_dict({"max_mape": "0.2"})
    Traceback (most recent call last):
    ValueError: max_mape must be a finite number or None, got '0.2'
    """

    max_mae: float | None = None
    max_rmse: float | None = None
    min_r2: float | None = None
    max_mape: float | None = None
    must_beat_baseline: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "must_beat_baseline":
                if not isinstance(value, bool):
                    raise ValueError(f"must_beat_baseline must be true or false, got {value!r}")
            elif value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            ):
                raise ValueError(f"{f.name} must be a finite number or None, got {value!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityThresholds:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown threshold(s) {unknown}; accepted: {sorted(known)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_registry_gate(self) -> dict[str, tuple[str, float]]:
        """The same limits as a registry quality gate (``ModelRegistry.set_quality_gate``), which reads
        the metrics attached to a version; ``must_beat_baseline`` has no gate form and is left out.

        Examples
        --------
        >>> QualityThresholds(max_mape=0.2, min_r2=0.9).to_registry_gate()
        {'r2': ('>=', 0.9), 'mape': ('<=', 0.2)}
        """
        gate: dict[str, tuple[str, float]] = {}
        for metric, attr, cond in (("mae", "max_mae", "<="), ("rmse", "max_rmse", "<="),
                                   ("r2", "min_r2", ">="), ("mape", "max_mape", "<=")):
            limit = getattr(self, attr)
            if limit is not None:
                gate[metric] = (cond, float(limit))
        return gate

    def check(self, metrics: dict[str, float], comparison: PairedComparison | None = None) -> list[str]:
        """The failed checks, as readable strings (empty = pass). A NaN metric fails its check."""
        failures: list[str] = []
        for metric, attr, worse in (("mae", "max_mae", ">"), ("rmse", "max_rmse", ">"),
                                    ("mape", "max_mape", ">"), ("r2", "min_r2", "<")):
            limit = getattr(self, attr)
            if limit is None:
                continue
            value = metrics[metric]
            bad = math.isnan(value) or (value > limit if worse == ">" else value < limit)
            if bad:
                failures.append(f"{metric} {value:.4g} {worse} {attr} {limit:g}")
        if self.must_beat_baseline:
            if comparison is None:
                failures.append("must_beat_baseline set but no baseline was evaluated")
            elif not comparison.model_is_better:
                failures.append(
                    f"not significantly better than baseline {comparison.baseline!r} "
                    f"(MAE {comparison.model_mae:.4g} vs {comparison.baseline_mae:.4g}, p={comparison.p_value:.3g})"
                )
        return failures


@dataclass
class EvaluationReport:
    """The outcome of :meth:`ModelEvaluator.evaluate_token_counting_accuracy`."""

    model: str
    dataset: str
    tokenizer: str | None
    n: int
    prediction_mode: str
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    confidence: float
    n_resamples: int
    seed: int
    thresholds: QualityThresholds
    failures: list[str]
    by_kind: dict[str, dict[str, float]] | None = None
    worst: list[dict[str, Any]] = field(default_factory=list)
    cross_validation: dict[str, Any] | None = None
    comparison: PairedComparison | None = None
    baseline_metrics: dict[str, float] | None = None
    elapsed_s: float = 0.0
    predictions: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    baseline_predictions: np.ndarray | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return not self.failures

    def flat_metrics(self) -> dict[str, float]:
        """Numbers only, for an experiment tracker or a registry version (the quality gate reads
        ``mae``, ``rmse``, ``r2``, ``mape``; ``passed`` is 1.0 or 0.0)."""
        out = dict(self.metrics)
        for k, (lo, hi) in self.intervals.items():
            out[f"{k}_ci_low"], out[f"{k}_ci_high"] = lo, hi
        if self.cross_validation:
            for k, v in self.cross_validation["mean"].items():
                out[f"cv_{k}_mean"] = v
            for k, v in self.cross_validation["std"].items():
                out[f"cv_{k}_std"] = v
        if self.comparison is not None:
            out["baseline_mae"] = self.comparison.baseline_mae
            out["mae_difference"] = self.comparison.mae_difference
            out["baseline_p_value"] = self.comparison.p_value
        out["n"] = float(self.n)
        out["passed"] = 1.0 if self.passed else 0.0
        return {k: float(v) for k, v in out.items()}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (NaN stays a float NaN); predictions are not included."""
        return {
            "model": self.model,
            "dataset": self.dataset,
            "tokenizer": self.tokenizer,
            "n": self.n,
            "prediction_mode": self.prediction_mode,
            "metrics": dict(self.metrics),
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "confidence": self.confidence,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "by_kind": self.by_kind,
            "worst": list(self.worst),
            "cross_validation": self.cross_validation,
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "baseline_metrics": self.baseline_metrics,
            "thresholds": self.thresholds.to_dict(),
            "passed": self.passed,
            "failures": list(self.failures),
            "elapsed_s": self.elapsed_s,
        }


def _worst(data: Dataset, pred: np.ndarray, n: int) -> list[dict[str, Any]]:
    """The `n` records with the largest absolute errors (diagnostics), largest first."""
    err = pred - data.counts
    order = np.argsort(-np.abs(err), kind="stable")[:n]
    out = []
    for i in order:
        text = data.texts[i]
        out.append({
            "line": data.lines[i],
            "kind": data.kinds[i] if data.kinds is not None else None,
            "text": text if len(text) <= 80 else text[:77] + "...",
            "token_count": int(data.counts[i]),
            "prediction": float(pred[i]),
            "error": float(err[i]),
        })
    return out


def _with_bias(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    m = regression_metrics(y_true, y_pred)
    m["bias"] = float(np.mean(y_pred - y_true))
    return m


class ModelEvaluator:
    """Evaluate token-count estimators against ground truth.

    Parameters
    ----------
    thresholds
        Quality gate; the default checks nothing, so every model passes.
    baseline
        Name of the estimator every model is compared with, unless a call names another.
    n_resamples
        Bootstrap resamples for the confidence intervals.
    confidence
        Coverage of the intervals.
    k_folds
        Folds of the cross-validation for estimators that need fitting.
    alpha
        Significance level of the paired test.
    seed
        Seeds the bootstrap and the fold split.
    estimator_factory
        Builds an estimator from its name (tests pass a stand-in).
    loader
        Reads a dataset when a path is given instead of a :class:`Dataset`.
    batch_size
        Texts per `predict` call, so a progress callback sees the work advance.
    n_worst
        Records with the largest absolute errors listed in the report (``worst``).
    """

    def __init__(
        self,
        thresholds: QualityThresholds | None = None,
        *,
        baseline: str | None = None,
        n_resamples: int = 1000,
        confidence: float = 0.95,
        k_folds: int = 5,
        alpha: float = 0.05,
        seed: int = 0,
        estimator_factory: Callable[[str], TokenEstimator] = get_estimator,
        loader: GroundTruthLoader | None = None,
        batch_size: int = 2000,
        n_worst: int = 5,
    ) -> None:
        if n_resamples < 1:
            raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
        if k_folds < 2:
            raise ValueError(f"k_folds must be >= 2, got {k_folds!r}")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self.thresholds = thresholds or QualityThresholds()
        self.baseline = baseline
        self.n_resamples = n_resamples
        self.confidence = confidence
        self.k_folds = k_folds
        self.alpha = alpha
        self.seed = seed
        self.estimator_factory = estimator_factory
        self.loader = loader or GroundTruthLoader()
        self.batch_size = batch_size
        if n_worst < 0:
            raise ValueError(f"n_worst must be >= 0, got {n_worst!r}")
        self.n_worst = n_worst

    # -- helpers ---------------------------------------------------------------------------

    def _dataset(self, data: Dataset | str | Path | Sequence[tuple[str, int]]) -> Dataset:
        if isinstance(data, Dataset):
            return data
        if isinstance(data, (str, Path)):
            return self.loader.load(data)
        pairs = list(data)
        return Dataset.from_texts([t for t, _ in pairs], [c for _, c in pairs])

    def _estimator(self, model: str | TokenEstimator) -> TokenEstimator:
        return self.estimator_factory(model) if isinstance(model, str) else model

    def _predict(self, est: TokenEstimator, texts: list[str], progress: Progress | None, phase: str) -> np.ndarray:
        parts = []
        for start in range(0, len(texts), self.batch_size):
            parts.append(np.asarray(est.predict(texts[start:start + self.batch_size]), dtype=np.float64))
            if progress:
                progress(phase, min(start + self.batch_size, len(texts)), len(texts))
        pred = np.concatenate(parts) if parts else np.zeros(0)
        if pred.shape != (len(texts),) or not np.isfinite(pred).all():
            raise ValueError(f"estimator {getattr(est, 'name', est)!r} must return one finite number per text")
        return pred

    def _cross_validate(self, model: str | TokenEstimator, data: Dataset,
                        progress: Progress | None) -> tuple[np.ndarray, dict[str, Any]]:
        """Out-of-fold predictions and per-fold metrics of a fresh estimator per fold."""
        folds = kfold_indices(len(data), self.k_folds, seed=self.seed)
        oof = np.empty(len(data))
        fold_metrics = []
        for i, (train, test) in enumerate(folds):
            # a fresh estimator per fold: by name from the factory, or a copy of the instance given
            est = self.estimator_factory(model) if isinstance(model, str) else copy.deepcopy(model)
            est.fit([data.texts[j] for j in train], data.counts[train])
            pred = est.predict([data.texts[j] for j in test])
            oof[test] = pred
            fold_metrics.append(_with_bias(data.counts[test], pred))
            if progress:
                progress("cross_validation", i + 1, len(folds))
        keys = list(fold_metrics[0])
        table = {k: np.array([m[k] for m in fold_metrics]) for k in keys}
        cv = {
            "k": self.k_folds,
            "seed": self.seed,
            "folds": fold_metrics,
            "mean": {k: float(np.nanmean(v)) for k, v in table.items()},
            "std": {k: float(np.nanstd(v, ddof=1)) for k, v in table.items()},
        }
        return oof, cv

    def _predictions(self, model: str | TokenEstimator, data: Dataset, train: Dataset | None,
                     progress: Progress | None, phase: str) -> tuple[np.ndarray, str, dict | None]:
        est = self._estimator(model)
        if not getattr(est, "needs_fit", False):
            return self._predict(est, data.texts, progress, phase), "direct", None
        if len(data) >= self.k_folds * 2:
            oof, cv = self._cross_validate(model, data, progress)
        else:
            oof, cv = None, None
        if train is not None:
            est.fit(train.texts, train.counts)
            return self._predict(est, data.texts, progress, phase), f"fitted on {train.source} ({len(train)})", cv
        if getattr(est, "is_fitted", False):
            return self._predict(est, data.texts, progress, phase), "pre-fitted", cv
        if oof is None:
            raise ValueError(f"{est.name!r} needs fitting: pass train_data or at least {self.k_folds * 2} test records")
        return oof, f"out-of-fold ({self.k_folds}-fold cross-validation)", cv

    # -- the evaluation --------------------------------------------------------------------

    def evaluate_token_counting_accuracy(
        self,
        model_name: str | TokenEstimator,
        test_data: Dataset | str | Path | Sequence[tuple[str, int]],
        *,
        baseline: str | TokenEstimator | None = None,
        train_data: Dataset | None = None,
        progress: Progress | None = None,
    ) -> EvaluationReport:
        """Score `model_name` (an estimator name or instance) on `test_data` (a :class:`Dataset`,
        a dataset file or ``(text, count)`` pairs), against `baseline` (default: the evaluator's)."""
        started = time.perf_counter()
        data = self._dataset(test_data)
        if len(data) < 2:
            raise ValueError(f"test_data must hold at least 2 records, got {len(data)}")
        name = model_name if isinstance(model_name, str) else model_name.name
        y = data.counts.astype(np.float64)

        pred, mode, cv = self._predictions(model_name, data, train_data, progress, "predict")
        metrics = _with_bias(y, pred)
        intervals = bootstrap_intervals(
            y, pred, n_resamples=self.n_resamples, confidence=self.confidence, seed=self.seed,
            progress=(lambda done, total: progress("bootstrap", done, total)) if progress else None)

        by_kind = None
        if data.kinds is not None:
            kinds = np.asarray(data.kinds)
            by_kind = {}
            for kind in sorted(set(data.kinds)):
                mask = kinds == kind
                m = _with_bias(y[mask], pred[mask]) if mask.sum() > 0 else {}
                by_kind[kind or "(none)"] = {"n": int(mask.sum()), **{k: m[k] for k in ("mae", "mape", "bias")}}

        baseline = baseline if baseline is not None else self.baseline
        comparison = baseline_metrics = base_pred = None
        if baseline is not None:
            base_name = baseline if isinstance(baseline, str) else baseline.name
            base_pred, _, _ = self._predictions(baseline, data, train_data, progress, "baseline")
            baseline_metrics = _with_bias(y, base_pred)
            comparison = paired_comparison(y, pred, base_pred, baseline=base_name, alpha=self.alpha)

        failures = self.thresholds.check(metrics, comparison)
        return EvaluationReport(
            model=name,
            dataset=data.source,
            tokenizer=data.tokenizer,
            n=len(data),
            prediction_mode=mode,
            metrics=metrics,
            intervals=intervals,
            confidence=self.confidence,
            n_resamples=self.n_resamples,
            seed=self.seed,
            thresholds=self.thresholds,
            failures=failures,
            by_kind=by_kind,
            worst=_worst(data, pred, self.n_worst),
            cross_validation=cv,
            comparison=comparison,
            baseline_metrics=baseline_metrics,
            elapsed_s=time.perf_counter() - started,
            predictions=pred,
            baseline_predictions=base_pred,
        )

