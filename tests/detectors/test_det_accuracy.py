import json

import numpy as np
import pytest

from detectors.accuracy import Accuracy, accuracy_metrics


def _textbook(y, p):
    e = y - p
    out = {"mae": np.mean(np.abs(e)), "rmse": np.sqrt(np.mean(e ** 2)),
           "r2": 1 - np.sum(e ** 2) / np.sum((y - y.mean()) ** 2)}
    nz = np.abs(y) >= 1e-9
    out["mape"] = np.mean(np.abs(e[nz] / y[nz]))
    return out


def test_window_and_cumulative_equal_textbook_formulas():
    rng = np.random.default_rng(0)
    y = rng.normal(10, 3, 5000)
    p = y + rng.normal(0, 1, 5000)
    acc = Accuracy(window=1000)
    for i in range(0, 5000, 250):
        acc.update_many(y[i:i + 250], p[i:i + 250], ts=np.arange(i, i + 250, dtype=float))
    w, c = acc.windowed(), acc.cumulative()
    for k, v in _textbook(y[-1000:], p[-1000:]).items():
        assert w[k] == pytest.approx(v, rel=1e-10)
    for k, v in _textbook(y, p).items():
        assert c[k] == pytest.approx(v, rel=1e-9)


def test_cumulative_is_numerically_stable_with_a_large_offset():
    rng = np.random.default_rng(1)
    y = 1e9 + rng.normal(0, 1, 200_000)
    p = y + rng.normal(0, 0.5, 200_000)
    acc = Accuracy()
    for i in range(0, y.size, 1000):
        acc.update_many(y[i:i + 1000], p[i:i + 1000])
    exact = 1 - np.sum((y - p) ** 2) / np.sum((y - np.mean(y)) ** 2)
    assert acc.cumulative()["r2"] == pytest.approx(exact, abs=1e-6)
    # the naive sum-of-squares formula loses everything at this offset
    naive_sst = np.sum(y * y) - y.size * np.mean(y) ** 2
    assert abs(naive_sst - np.sum((y - y.mean()) ** 2)) / np.sum((y - y.mean()) ** 2) > 1e-3


def test_mape_excludes_zero_ground_truth_rows_only():
    m = accuracy_metrics([0.0, 2.0, 4.0], [1.0, 1.0, 5.0])
    assert m["mape"] == pytest.approx((0.5 + 0.25) / 2)
    assert m["mae"] == pytest.approx(1.0)
    assert "mape" not in accuracy_metrics([0.0, 0.0], [1.0, 2.0])


def test_r2_absent_for_constant_truth_and_nan_rows_skipped():
    acc = Accuracy()
    acc.update_many([3.0, 3.0, np.nan, 3.0], [2.0, 4.0, 1.0, np.inf])
    c = acc.cumulative()
    assert "r2" not in c and c["n"] == 2 and acc.n_skipped == 2 and c["mae"] == 1.0
    assert Accuracy().cumulative() == {} and Accuracy().windowed() == {}


def test_round_trip_continues_identically():
    rng = np.random.default_rng(2)
    a = Accuracy(window=100, window_s=50.0)
    a.update_many(rng.normal(size=150), rng.normal(size=150), ts=np.arange(150.0))
    b = Accuracy.from_dict(json.loads(json.dumps(a.to_dict(), allow_nan=False)))
    y, p = rng.normal(size=40), rng.normal(size=40)
    a.update_many(y, p, ts=np.arange(150.0, 190.0))
    b.update_many(y, p, ts=np.arange(150.0, 190.0))
    assert a.windowed() == b.windowed() and a.cumulative() == b.cumulative()
    assert a.windowed()["n"] == 51   # age bound: ts >= 189 - 50


@pytest.mark.parametrize("kwargs, name", [({"window": 0}, "window"), ({"eps": 0.0}, "eps"),
                                          ({"window_s": -1.0}, "window_s")])
def test_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Accuracy(**kwargs)


def test_shape_mismatch():
    with pytest.raises(ValueError, match="y_pred"):
        Accuracy().update_many([1.0, 2.0], [1.0])
