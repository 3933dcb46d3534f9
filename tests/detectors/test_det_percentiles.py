import json

import numpy as np
import pytest
from ddsketch import DDSketch

from detectors.percentiles import LatencySketch, RollingPercentiles


def test_window_percentiles_exact():
    rng = np.random.default_rng(0)
    lat = rng.lognormal(3.0, 0.8, 10_000)
    r = RollingPercentiles(size=1000)
    r.update_many(lat, ts=np.arange(lat.size) / 200.0)
    s = r.summary()
    last = lat[-1000:]
    assert [s["p50"], s["p95"], s["p99"]] == np.percentile(last, [50, 95, 99]).tolist()
    assert s["mean"] == pytest.approx(last.mean(), rel=1e-12) and s["max"] == last.max()
    assert s["throughput_eps"] == pytest.approx(200.0)


def test_empty_window_summary_is_none():
    assert RollingPercentiles().summary() is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sketch_relative_error_on_lognormal(seed):
    rng = np.random.default_rng(seed)
    lat = rng.lognormal(3.0, 1.0, 100_000)
    s = LatencySketch(relative_accuracy=0.01)
    for i in range(0, lat.size, 1000):
        s.update_many(lat[i:i + 1000])
    for q in (0.5, 0.9, 0.95, 0.99, 0.999):
        exact = np.percentile(lat, 100 * q, method="lower")
        assert abs(s.quantile(q) - exact) / exact <= 0.01 + 1e-12
    assert s.count == lat.size


def test_vectorised_keys_match_ddsketch_add():
    rng = np.random.default_rng(3)
    v = np.r_[rng.lognormal(2.0, 2.0, 5000), 0.0, 0.0]
    ours = LatencySketch(0.02)
    ours.update_many(v)
    ref = DDSketch(0.02)
    for x in v:
        ref.add(float(x))
    for q in np.linspace(0, 1, 41):
        assert ours.quantile(float(q)) == ref.get_quantile_value(float(q))
    assert ours.sketch._zero_count == 2


def test_merge_equals_single_sketch():
    rng = np.random.default_rng(4)
    v = rng.lognormal(1, 1, 30_000)
    parts = [LatencySketch() for _ in range(3)]
    for p, chunk in zip(parts, np.split(v, 3)):
        p.update_many(chunk)
    whole = LatencySketch()
    whole.update_many(v)
    parts[0].merge(parts[1])
    parts[0].merge(parts[2])
    for q in (0.1, 0.5, 0.99):
        assert parts[0].quantile(q) == whole.quantile(q)


def test_sketch_round_trip_continues_identically():
    rng = np.random.default_rng(5)
    a = LatencySketch()
    a.update_many(rng.lognormal(2, 1, 1000))
    b = LatencySketch.from_dict(json.loads(json.dumps(a.to_dict(), allow_nan=False)))
    more = rng.lognormal(2, 1, 1000)
    a.update_many(more)
    b.update_many(more)
    assert a.to_dict() == b.to_dict()


def test_sketch_rejects_bad_accuracy_and_mismatched_merge():
    with pytest.raises(ValueError, match="relative_accuracy"):
        LatencySketch(relative_accuracy=1.5)
    with pytest.raises(ValueError, match="relative_accuracy"):
        LatencySketch(0.01).merge(LatencySketch(0.02))


def test_sketch_skips_non_finite():
    s = LatencySketch()
    s.update_many([1.0, np.nan, np.inf])
    assert s.count == 1 and s.n_skipped == 2
