"""Accuracy metrics for count predictions, their bootstrap intervals and a paired test.

``mape`` is a fraction (0.1 = 10 %), as in the monitor's rules; it is undefined (``nan``) when a
true value is 0. ``r2`` is ``nan`` when the true values are all equal.

Examples
--------
>>> m = regression_metrics([1, 2, 3, 4], [1, 2, 3, 5])
>>> {k: round(v, 4) for k, v in m.items()}
{'mae': 0.25, 'rmse': 0.5, 'r2': 0.8, 'mape': 0.0625}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "METRICS",
    "PairedComparison",
    "bootstrap_intervals",
    "kfold_indices",
    "paired_comparison",
    "regression_metrics",
]

METRICS = ("mae", "rmse", "r2", "mape")


def _as_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.ndim != 1 or t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must be 1-d and the same length, got shapes {t.shape} and {p.shape}")
    if t.size == 0:
        raise ValueError("y_true must not be empty")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ValueError("y_true and y_pred must be finite")
    return t, p


def _metrics_rows(t: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics along the last axis (so a (B, n) matrix of resamples gives B values each)."""
    err = p - t
    mae = np.abs(err).mean(axis=-1)
    rmse = np.sqrt((err**2).mean(axis=-1))
    ss_res = (err**2).sum(axis=-1)
    ss_tot = ((t - t.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)
        zero = (t == 0).any(axis=-1)
        mape = np.where(zero, np.nan, (np.abs(err) / np.where(t == 0, 1.0, np.abs(t))).mean(axis=-1))
    return {"mae": mae, "rmse": rmse, "r2": r2, "mape": mape}


def regression_metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, float]:
    """MAE, RMSE, R² and MAPE (fraction) of `y_pred` against `y_true`."""
    t, p = _as_pair(y_true, y_pred)
    return {k: float(v) for k, v in _metrics_rows(t, p).items()}


def bootstrap_intervals(
    y_true: Sequence[float],
    y_pred: Sequence[float],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap confidence intervals of each metric, resampling texts with replacement.

    Parameters
    ----------
    n_resamples
        Bootstrap resamples.
    confidence
        Coverage of each interval, in (0, 1).
    seed
        Seed of the `numpy.random.Generator` that draws the resamples.
    progress
        Called as ``progress(done, n_resamples)`` after each chunk of resamples.

    References
    ----------
    Efron, B. and Tibshirani, R. J. (1993). An Introduction to the Bootstrap, ch. 13.

    Examples
    --------
    >>> ci = bootstrap_intervals([1, 2, 3, 4, 5, 6], [1, 2, 4, 4, 5, 8], seed=1)
    >>> lo, hi = ci["mae"]
    >>> lo <= 0.5 <= hi
    True
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    t, p = _as_pair(y_true, y_pred)
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {k: [] for k in METRICS}
    chunk = max(1, 2_000_000 // t.size)  # bound memory: resample in chunks
    done = 0
    while done < n_resamples:
        b = min(chunk, n_resamples - done)
        idx = rng.integers(0, t.size, size=(b, t.size))
        for k, v in _metrics_rows(t[idx], p[idx]).items():
            out[k].append(v)
        done += b
        if progress:
            progress(done, n_resamples)
    alpha = (1.0 - confidence) / 2.0
    intervals: dict[str, tuple[float, float]] = {}
    for k, parts in out.items():
        values = np.concatenate(parts)
        values = values[np.isfinite(values)]
        if values.size == 0:
            intervals[k] = (math.nan, math.nan)
        else:
            lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
            intervals[k] = (float(lo), float(hi))
    return intervals


@dataclass(frozen=True)
class PairedComparison:
    """A model against a baseline on the same texts: Wilcoxon signed-rank test on absolute errors.

    ``mae_difference`` is the model's MAE minus the baseline's (negative = the model is better).
    ``p_value`` is two-sided; ``significant`` is ``p_value < alpha``.
    """

    baseline: str
    model_mae: float
    baseline_mae: float
    mae_difference: float
    statistic: float
    p_value: float
    alpha: float
    n: int
    test: str = "wilcoxon signed-rank (two-sided) on absolute errors"

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    @property
    def model_is_better(self) -> bool:
        """The model has the lower MAE and the difference is significant."""
        return self.significant and self.mae_difference < 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["significant"] = self.significant
        d["model_is_better"] = self.model_is_better
        return d


def paired_comparison(
    y_true: Sequence[float],
    y_model: Sequence[float],
    y_baseline: Sequence[float],
    *,
    baseline: str = "baseline",
    alpha: float = 0.05,
) -> PairedComparison:
    """Compare two models' absolute errors on the same texts with the Wilcoxon signed-rank test.

    References
    ----------
    Wilcoxon, F. (1945). Individual comparisons by ranking methods. Biometrics Bulletin 1(6), 80–83.

    Examples
    --------
    >>> truth = list(range(1, 31))
    >>> good = [t + 0.5 for t in truth]
    >>> bad = [t * 1.5 for t in truth]
    >>> c = paired_comparison(truth, good, bad)
    >>> c.model_is_better, c.p_value < 1e-4
    (True, True)
    """
    from scipy.stats import wilcoxon

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    t, m = _as_pair(y_true, y_model)
    _, b = _as_pair(y_true, y_baseline)
    err_m = np.abs(m - t)
    err_b = np.abs(b - t)
    diff = err_m - err_b
    if np.all(diff == 0):
        statistic, p_value = 0.0, 1.0  # identical errors: no evidence of any difference
    else:
        res = wilcoxon(err_m, err_b, zero_method="wilcox", alternative="two-sided")
        statistic, p_value = float(res.statistic), float(res.pvalue)
    return PairedComparison(
        baseline=baseline,
        model_mae=float(err_m.mean()),
        baseline_mae=float(err_b.mean()),
        mae_difference=float(diff.mean()),
        statistic=statistic,
        p_value=p_value,
        alpha=alpha,
        n=int(t.size),
    )


def kfold_indices(n: int, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled k-fold splits of ``range(n)``: a list of (train, test) index arrays.

    Examples
    --------
    >>> folds = kfold_indices(10, 3, seed=0)
    >>> [len(test) for _, test in folds]
    [4, 3, 3]
    >>> sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(10))
    True
    """
    if k < 2:
        raise ValueError(f"k must be >= 2, got {k!r}")
    if n < k:
        raise ValueError(f"k-fold needs at least k={k} records, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    folds = np.array_split(order, k)
    return [(np.concatenate(folds[:i] + folds[i + 1:]), folds[i]) for i in range(k)]
