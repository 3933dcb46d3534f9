"""Metrics against independent formulas; bootstrap and the paired test are seeded and sane."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats

from evaluation.metrics import (
    bootstrap_intervals,
    kfold_indices,
    paired_comparison,
    regression_metrics,
)


def reference_metrics(y, p):
    """Plain-Python formulas, written independently of the numpy code."""
    n = len(y)
    errors = [b - a for a, b in zip(y, p)]
    mae = sum(abs(e) for e in errors) / n
    rmse = math.sqrt(sum(e * e for e in errors) / n)
    mean = sum(y) / n
    r2 = 1 - sum(e * e for e in errors) / sum((a - mean) ** 2 for a in y)
    mape = sum(abs(e) / abs(a) for e, a in zip(errors, y)) / n
    return {"mae": mae, "rmse": rmse, "r2": r2, "mape": mape}


def test_metrics_match_independent_formulas():
    rng = random.Random(3)
    y = [rng.randint(1, 300) for _ in range(200)]
    p = [a * rng.uniform(0.7, 1.3) + rng.gauss(0, 3) for a in y]
    got = regression_metrics(y, p)
    want = reference_metrics(y, p)
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-12)
    # cross-check r2 against scipy's linear regression on a perfectly linear case
    assert regression_metrics([1, 2, 3], [1, 2, 3]) == {"mae": 0.0, "rmse": 0.0, "r2": 1.0, "mape": 0.0}
    res = stats.linregress(y, p)
    assert got["r2"] <= res.rvalue**2 + 1e-12  # no linear recalibration can be worse than raw


def test_undefined_metrics_are_nan_not_zero():
    m = regression_metrics([0, 2], [1, 2])
    assert math.isnan(m["mape"]) and m["mae"] == 0.5
    assert math.isnan(regression_metrics([3, 3], [2, 4])["r2"])


def test_bad_inputs():
    with pytest.raises(ValueError, match="same length"):
        regression_metrics([1, 2], [1])
    with pytest.raises(ValueError, match="must not be empty"):
        regression_metrics([], [])
    with pytest.raises(ValueError, match="finite"):
        regression_metrics([1.0], [float("inf")])


def test_bootstrap_is_seeded_and_covers_the_estimate():
    rng = np.random.default_rng(5)
    y = rng.integers(1, 100, size=300)
    p = y + rng.normal(0, 5, size=300)
    a = bootstrap_intervals(y, p, n_resamples=500, seed=11)
    b = bootstrap_intervals(y, p, n_resamples=500, seed=11)
    c = bootstrap_intervals(y, p, n_resamples=500, seed=12)
    assert a == b and a != c
    point = regression_metrics(y, p)
    for k, (lo, hi) in a.items():
        assert lo <= point[k] <= hi, k
    # a wider confidence level gives a wider interval; more data a narrower one
    wide = bootstrap_intervals(y, p, n_resamples=500, seed=11, confidence=0.99)
    assert wide["mae"][0] <= a["mae"][0] and wide["mae"][1] >= a["mae"][1]
    y4, p4 = np.tile(y, 4), np.tile(p, 4)
    big = bootstrap_intervals(y4, p4, n_resamples=500, seed=11)
    assert big["mae"][1] - big["mae"][0] < a["mae"][1] - a["mae"][0]


def test_bootstrap_mae_interval_matches_a_plain_loop():
    y = np.arange(1, 41, dtype=float)
    p = y + np.sin(y) * 3
    ci = bootstrap_intervals(y, p, n_resamples=300, seed=2)
    rng = np.random.default_rng(2)
    idx = rng.integers(0, y.size, size=(300, y.size))
    maes = [np.mean(np.abs(p[i] - y[i])) for i in idx]
    assert ci["mae"] == pytest.approx(tuple(np.quantile(maes, [0.025, 0.975])))


def test_bootstrap_parameters_are_checked():
    with pytest.raises(ValueError, match="n_resamples must be >= 1"):
        bootstrap_intervals([1, 2], [1, 2], n_resamples=0)
    with pytest.raises(ValueError, match="confidence must be in"):
        bootstrap_intervals([1, 2], [1, 2], confidence=1.0)


def test_paired_comparison_is_the_wilcoxon_test_on_absolute_errors():
    rng = np.random.default_rng(1)
    y = rng.integers(5, 200, size=120).astype(float)
    model = y + rng.normal(0, 2, size=120)
    base = y * 0.8
    c = paired_comparison(y, model, base, baseline="b", alpha=0.01)
    expected = stats.wilcoxon(np.abs(model - y), np.abs(base - y))
    assert c.p_value == pytest.approx(expected.pvalue) and c.statistic == pytest.approx(expected.statistic)
    assert c.model_mae == pytest.approx(np.mean(np.abs(model - y)))
    assert c.mae_difference == pytest.approx(c.model_mae - c.baseline_mae)
    assert c.significant and c.model_is_better and c.n == 120
    assert c.to_dict()["model_is_better"] is True
    # the same comparison the other way round: significant, but the model is worse
    r = paired_comparison(y, base, model)
    assert r.significant and not r.model_is_better


def test_identical_errors_are_not_significant():
    c = paired_comparison([1, 2, 3], [2, 3, 4], [2, 3, 4])
    assert c.p_value == 1.0 and not c.significant


def test_kfold_partitions_and_is_seeded():
    folds = kfold_indices(23, 5, seed=4)
    tests = np.concatenate([t for _, t in folds])
    assert sorted(tests.tolist()) == list(range(23))
    for train, test in folds:
        assert set(train.tolist()).isdisjoint(test.tolist()) and len(train) + len(test) == 23
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, kfold_indices(23, 5, seed=4)))
    with pytest.raises(ValueError, match="k must be >= 2"):
        kfold_indices(10, 1)
    with pytest.raises(ValueError, match="at least k=5 records"):
        kfold_indices(3, 5)
