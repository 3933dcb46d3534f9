import math

import numpy as np
import pytest

from detectors.window import SlidingWindow


def test_batch_equals_one_at_a_time_and_keeps_last_n():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2_537)
    ts = np.arange(x.size, dtype=float)
    a, b = SlidingWindow(size=1000), SlidingWindow(size=1000)
    for v, t in zip(x, ts):
        a.update(v, t)
    for i in range(0, x.size, 333):
        b.update_many(x[i:i + 333], ts[i:i + 333])
    assert np.array_equal(a.values(), x[-1000:])
    assert np.array_equal(b.values(), x[-1000:])


def test_batch_larger_than_window():
    w = SlidingWindow(size=10)
    w.update_many(np.arange(25.0))
    assert w.values().tolist() == list(np.arange(15.0, 25.0))


def test_exact_statistics_equal_numpy():
    rng = np.random.default_rng(1)
    x = rng.lognormal(3, 1, 5000)
    w = SlidingWindow(size=1234)
    w.update_many(x, np.arange(x.size, dtype=float))
    last = x[-1234:]
    assert w.percentile([50, 95, 99]).tolist() == np.percentile(last, [50, 95, 99]).tolist()
    assert w.mean() == pytest.approx(last.mean(), rel=1e-12)
    assert w.max() == last.max()


def test_age_bound_uses_event_time():
    w = SlidingWindow(size=100, window_s=10.0)
    w.update_many([1.0, 2.0, 3.0], ts=[0.0, 5.0, 20.0])
    assert w.values().tolist() == [3.0]              # now = latest ts = 20
    assert w.values(now=12.0).tolist() == [2.0, 3.0]  # 0.0 is older than 10 s at 12
    assert w.count(now=100.0) == 0
    assert w.mean(now=100.0) is None and w.percentile(50, now=100.0) is None


def test_non_finite_values_are_skipped_and_counted():
    w = SlidingWindow(size=5)
    w.update_many([1.0, np.nan, np.inf, -np.inf, 2.0])
    assert w.values().tolist() == [1.0, 2.0]
    assert w.n_skipped == 3 and w.n_seen == 5


def test_two_column_rows_skip_when_any_value_missing():
    w = SlidingWindow(size=5, width=2)
    w.update_many(np.array([[1.0, 2.0], [np.nan, 1.0], [3.0, 4.0]]))
    assert w.values().tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_round_trip_continues_identically():
    import json
    rng = np.random.default_rng(2)
    a = SlidingWindow(size=50, window_s=30.0)
    a.update_many(rng.normal(size=77), np.arange(77.0))
    b = SlidingWindow.from_dict(json.loads(json.dumps(a.to_dict(), allow_nan=False)))
    more = rng.normal(size=31)
    a.update_many(more, np.arange(77.0, 108.0))
    b.update_many(more, np.arange(77.0, 108.0))
    assert np.array_equal(a.values(), b.values()) and a.n_seen == b.n_seen
    assert a.values(now=120.0).size == 18


@pytest.mark.parametrize("kwargs, name", [({"size": 0}, "size"), ({"window_s": 0.0}, "window_s"),
                                          ({"window_s": math.nan}, "window_s"), ({"width": 0}, "width"),
                                          ({"size": 2.5}, "size")])
def test_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SlidingWindow(**kwargs)


def test_mismatched_ts_length():
    with pytest.raises(ValueError, match="ts"):
        SlidingWindow(size=3).update_many([1.0, 2.0], ts=[1.0])
