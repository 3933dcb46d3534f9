import numpy as np
import pytest

from detectors._quantile import quantile, quantiles
from detectors.percentiles import RollingPercentiles


@pytest.mark.parametrize("seed", range(4))
def test_quantiles_are_numpys_bit_for_bit(seed):
    """Random sizes (1 to 1,200), ties, the anomaly threshold's q and the latency percentiles."""
    rng = np.random.default_rng(seed)
    for i in range(800):
        n = int(rng.integers(1, 1200))
        a = rng.lognormal(3, 1, n) if i % 2 else np.round(rng.normal(size=n), 1)
        qs = [0.5, 0.95, 0.99, 0.0, 1.0, float(rng.random())]
        assert quantiles(a, qs) == np.quantile(a, qs).tolist(), n
        assert quantile(a, 0.99) == float(np.quantile(a, 0.99))
        assert quantiles(a, [q / 100 for q in (50.0, 95.0, 99.0)]) == np.percentile(a, [50.0, 95.0, 99.0]).tolist()


def test_rolling_percentiles_match_numpy():
    rng = np.random.default_rng(7)
    r = RollingPercentiles(size=1000)
    lat = rng.lognormal(3, 0.5, 2500)
    r.update_many(lat, ts=np.arange(2500.0))
    s = r.summary()
    assert [s["p50"], s["p95"], s["p99"]] == np.percentile(lat[-1000:], [50, 95, 99]).tolist()
