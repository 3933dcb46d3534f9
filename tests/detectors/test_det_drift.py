import math

import numpy as np
import pytest
from scipy import stats

from detectors.drift import (
    CategoricalDriftTest,
    NullModel,
    NumericDriftTest,
    chi2_test,
    correct,
    holm,
    ks_test,
    psi_categorical,
    psi_test,
    zscore_test,
)


# --- statistics against independent references --------------------------------------------------
@pytest.mark.parametrize("method", ["auto", "exact", "asymp"])
@pytest.mark.parametrize("n", [50, 700])
def test_ks_equals_scipy(method, n):
    rng = np.random.default_rng(n)
    ref, win = rng.normal(0, 1, 1000), rng.normal(0.1, 1.2, n)
    r = ks_test(ref, win, method=method)
    s = stats.ks_2samp(ref, win, method=method)
    assert r.statistic == pytest.approx(s.statistic, abs=1e-15)
    assert r.pvalue == pytest.approx(s.pvalue, rel=1e-10, abs=1e-300)


def test_ks_with_ties_equals_scipy():
    rng = np.random.default_rng(9)
    ref, win = rng.poisson(4, 1000).astype(float), rng.poisson(4.3, 400).astype(float)
    r = ks_test(ref, win, method="asymp")
    s = stats.ks_2samp(ref, win, method="asymp")
    assert (r.statistic, r.pvalue) == pytest.approx((s.statistic, s.pvalue), rel=1e-12)


def test_numeric_test_ks_equals_scipy_asymp():
    rng = np.random.default_rng(1)
    ref, win = rng.lognormal(0, 1, 800), rng.lognormal(0.1, 1, 300)
    r = NumericDriftTest(ref, calibrate=False).evaluate(win)["ks"]
    s = stats.ks_2samp(ref, win, method="asymp")
    assert (r.statistic, r.pvalue) == pytest.approx((s.statistic, s.pvalue), rel=1e-12)


def test_psi_hand_computed():
    ref = np.arange(1.0, 11.0)                   # 2 bins: edge at the median 5.5
    r = psi_test(ref, [1.0, 2.0, 3.0, 8.0], bins=2)
    # r = (.5, .5), w = (.75, .25): .25 ln 1.5 + (-.25) ln .5
    assert r.statistic == pytest.approx(0.25 * math.log(1.5) + 0.25 * math.log(2.0), rel=1e-12)
    assert r.statistic == pytest.approx(0.274653, abs=1e-6)


def test_psi_empty_bin_counts_as_half_an_observation():
    r = psi_test(np.arange(1.0, 11.0), [1.0, 2.0], bins=2)
    # w = (2/2, 0.5/2) = (1, .25), unnormalised: .5 ln 2 + .25 ln 2
    assert r.statistic == pytest.approx(0.5 * math.log(2) + 0.25 * math.log(2), rel=1e-12)
    assert r.statistic == pytest.approx(0.519860, abs=1e-6)


def test_psi_categorical_with_unseen_category():
    r = psi_categorical({"a": 50, "b": 50}, {"a": 30, "b": 60, "c": 10})
    rp = np.array([0.5, 0.5, 0.5 / 100])
    wp = np.array([0.3, 0.6, 0.1])
    assert r.statistic == pytest.approx(float(np.sum((wp - rp) * np.log(wp / rp))), rel=1e-12)


def test_chi2_equals_scipy_contingency_with_unseen():
    ref = {"a": 400, "b": 350, "c": 250}
    win = {"a": 30, "b": 50, "c": 15, "zz": 5}
    r = chi2_test(ref, win)
    table = np.array([[400, 350, 250, 0], [30, 50, 15, 5]])
    s = stats.chi2_contingency(table, correction=False)
    assert (r.statistic, r.pvalue) == pytest.approx((s.statistic, s.pvalue), rel=1e-12)
    ct = CategoricalDriftTest(ref, calibrate=False).evaluate(win)["chi2"]
    assert (ct.statistic, ct.pvalue) == pytest.approx((s.statistic, s.pvalue), rel=1e-12)


def test_chi2_single_category_is_no_evidence():
    r = chi2_test({"a": 10}, {"a": 5})
    assert r.statistic == 0.0 and r.pvalue == 1.0 and not r.drift


def test_zscore_hand_formula():
    ref = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    win = np.array([4.0, 5.0, 6.0])
    r = zscore_test(ref, win)
    z = (5.0 - 3.0) / (np.std(ref, ddof=1) * math.sqrt(1 / 3 + 1 / 5))
    assert r.statistic == pytest.approx(z, rel=1e-12)
    assert r.pvalue == pytest.approx(2 * stats.norm.sf(z), rel=1e-10)


def test_holm_by_hand():
    rej, lvl = holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    # sorted: .005 <= .0125 yes, .01 <= .0167 yes, .03 <= .025 no -> stop
    assert rej.tolist() == [True, False, False, True]
    assert lvl.tolist() == pytest.approx([0.05 / 3, 0.05 / 1, 0.05 / 2, 0.05 / 4])


def test_null_model_gamma_is_chi2_and_kolmogorov_scale():
    nm = NullModel("gamma", shape=2.5, scale=2.0)
    assert nm.sf(7.0) == pytest.approx(stats.chi2.sf(7.0, 5), rel=1e-10)
    k = NullModel("kolmogorov", scale=0.1)
    assert k.sf(0.15) == pytest.approx(stats.kstwobign.sf(1.5), rel=1e-10)
    assert k.isf(k.sf(0.15)) == pytest.approx(0.15, rel=1e-8)


# --- calibration ----------------------------------------------------------------------------------
def _stationary_rates(n, streams, windows, m):
    """Share of windows each calibrated test flags on stationary lognormal latency streams.

    Every stream has its own reference (its first m values) and seed; the rate that is controlled
    is the one over streams (a given reference can be unrepresentative, see drift.py).
    """
    fired = {"ks": 0, "psi": 0, "zscore": 0, "family": 0, "psi>0.1": 0}
    total = 0
    for s in range(streams):
        rng = np.random.default_rng(10_000 * n + s)
        t = NumericDriftTest(rng.lognormal(3.0, 0.7, m), seed=0, name=f"stream{s}")
        for _ in range(windows):
            res = t.evaluate(rng.lognormal(3.0, 0.7, n), alpha=0.01)
            total += 1
            for k in ("ks", "psi", "zscore"):
                fired[k] += res[k].drift
            fired["family"] += any(r.drift for r in correct(res, 0.01).values())
            fired["psi>0.1"] += res["psi"].statistic > 0.1
    return {k: v / total for k, v in fired.items()}


@pytest.mark.parametrize("n, m, streams, windows", [(100, 1000, 150, 4), (1000, 1000, 100, 4),
                                                    (10_000, 10_000, 50, 4)])
def test_calibrated_false_alarm_rate_on_stationary_streams(n, m, streams, windows):
    rates = _stationary_rates(n, streams, windows, m)
    for k in ("ks", "psi", "zscore", "family"):
        assert rates[k] <= 0.02, (k, rates)
    if n == 100:
        assert rates["psi>0.1"] > 0.2, rates   # the fixed rule of thumb misfires at small windows


def test_calibrated_categorical_false_alarm_rate():
    cats, p = np.array(list("abcde")), [0.4, 0.3, 0.15, 0.1, 0.05]
    fired = {"chi2": 0, "psi": 0}
    total = 0
    for s in range(60):
        rng = np.random.default_rng(s)
        u, c = np.unique(rng.choice(cats, 1000, p=p), return_counts=True)
        t = CategoricalDriftTest(dict(zip(u.tolist(), c.tolist())), seed=s)
        for n in (100, 1000, 10_000):
            u, c = np.unique(rng.choice(cats, n, p=p), return_counts=True)
            res = t.evaluate(dict(zip(u.tolist(), c.tolist())), alpha=0.01)
            total += 1
            for k in fired:
                fired[k] += res[k].drift
    assert fired["chi2"] / total <= 0.02 and fired["psi"] / total <= 0.02, fired


def test_calibrated_tests_detect_a_shift():
    rng = np.random.default_rng(3)
    t = NumericDriftTest(rng.normal(0, 1, 1000), seed=0)
    res = correct({("x", k): r for k, r in t.evaluate(rng.normal(0.3, 1, 1000)).items()}, 0.01)
    assert all(r.drift for r in res.values())
    assert all(r.statistic > r.threshold for k, r in res.items() if k[1] != "zscore")


def test_calibration_is_cached_and_deterministic():
    ref = np.random.default_rng(0).normal(size=500)
    a, b = NumericDriftTest(ref, seed=7, name="f"), NumericDriftTest(ref, seed=7, name="f")
    a.null(300)                                  # different call order, same nulls
    assert a.null(100).keys() == b.null(100).keys()
    assert all(a.null(100)[k].to_dict() == b.null(100)[k].to_dict() for k in a.null(100))
    assert a.null(300) is a.null(300)


# --- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, name", [
    (lambda: ks_test([1.0, 2.0], [1.0], alpha=0.0), "alpha"),
    (lambda: ks_test([1.0, 2.0], [1.0], method="fast"), "method"),
    (lambda: psi_test([1.0, 2.0, 3.0], [1.0], bins=1), "bins"),
    (lambda: psi_test([1.0, 2.0, 3.0], [1.0], threshold=-1.0), "threshold"),
    (lambda: NumericDriftTest([1.0]), "reference"),
    (lambda: NumericDriftTest([1.0, 2.0], n_resamples=5), "n_resamples"),
    (lambda: CategoricalDriftTest({}), "reference"),
    (lambda: ks_test([np.nan], [1.0]), "reference"),
])
def test_bad_parameters(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_non_finite_window_values_are_dropped_not_averaged():
    rng = np.random.default_rng(0)
    ref, win = rng.normal(size=300), rng.normal(size=100)
    t = NumericDriftTest(ref, calibrate=False)
    a = t.evaluate(win)
    b = t.evaluate(np.r_[win, np.nan, np.inf])
    assert a["zscore"].statistic == b["zscore"].statistic and b["ks"].n == 100


def test_constant_reference_flags_any_change_and_nothing_else():
    t = NumericDriftTest(np.full(200, 5.0), seed=0)
    same = t.evaluate(np.full(50, 5.0), alpha=0.01)
    moved = t.evaluate(np.full(50, 6.0), alpha=0.01)
    assert not any(r.drift for r in same.values())
    assert moved["ks"].drift and moved["zscore"].drift
    assert not moved["psi"].drift   # one bin holds the whole reference: PSI cannot see the move


def test_bin_counts_of_a_sorted_window_equal_bincount_of_searchsorted():
    from detectors.drift import psi_edges, sorted_bin_counts

    rng = np.random.default_rng(11)
    for _ in range(200):
        ref = rng.integers(0, 20, 300).astype(float)  # ties, and values equal to edges
        edges = psi_edges(ref)
        win = np.concatenate([rng.integers(-3, 24, int(rng.integers(0, 50))).astype(float), edges[:2]])
        want = np.bincount(np.searchsorted(edges, win, side="right"), minlength=edges.size + 1)
        np.testing.assert_array_equal(sorted_bin_counts(edges, np.sort(win)), want)


@pytest.mark.parametrize("ties", [False, True])
def test_ks_d_of_windows_with_and_without_ties_equals_scipy(ties):
    from detectors.drift import _ks_d

    rng = np.random.default_rng(12)
    for _ in range(50):
        ref = rng.normal(size=400)
        win = rng.normal(0.1, 1.0, int(rng.integers(1, 300)))
        if ties:
            ref, win = np.round(ref, 1), np.round(win, 1)
        assert _ks_d(np.sort(ref), win) == stats.ks_2samp(ref, win, method="asymp").statistic
