"""Latency percentiles: exact over a sliding window, and a mergeable DDSketch for long horizons.

:class:`RollingPercentiles` keeps the last N latencies (bounded by age too) and gives exact
p50/p95/p99/mean/max (``numpy.percentile``, linear interpolation) and the throughput over the window.

:class:`LatencySketch` wraps ``ddsketch.DDSketch`` (logarithmic mapping, unbounded dense store):
every quantile it returns is within ``relative_accuracy`` (default 1%) of the value of the exact
*lower* rank quantile of everything added, whatever the horizon, and two sketches with the same
accuracy merge losslessly (partitions, workers, time buckets).  Batches are keyed in numpy and
added one bucket at a time, so ``update_many`` costs ~0.05 µs per value instead of ~1 µs for
``DDSketch.add``.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> lat = rng.lognormal(3.0, 0.5, size=20_000)
>>> a, b = LatencySketch(), LatencySketch()
>>> a.update_many(lat[:10_000]); b.update_many(lat[10_000:])
>>> a.merge(b)
>>> exact = np.percentile(lat, 99)
>>> bool(abs(a.quantile(0.99) - exact) / exact < 0.01), a.count
(True, 20000)
"""

from __future__ import annotations

import math

import numpy as np
from ddsketch import DDSketch

from ._checks import check_float, finite_values
from ._quantile import quantiles
from .window import SlidingWindow

#: Percentile name -> q in [0, 100].
LATENCY_PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
_QS = [q / 100 for q in LATENCY_PERCENTILES.values()]  # as numpy.percentile divides them


class RollingPercentiles:
    """Exact latency percentiles over the last ``size`` values no older than ``window_s``.

    Parameters
    ----------
    size
        Window capacity N.
    window_s
        Age bound (seconds of event time).

    Examples
    --------
    >>> r = RollingPercentiles(size=100)
    >>> r.update_many(list(range(1, 101)), ts=[float(i) for i in range(100)])
    >>> s = r.summary()
    >>> s["p50"], s["p99"], s["max"], s["mean"], s["throughput_eps"]
    (50.5, 99.01, 100.0, 50.5, 1.0)
    """

    def __init__(self, size: int = 1000, window_s: float = math.inf) -> None:
        self.window = SlidingWindow(size=size, window_s=window_s)

    def reset(self) -> None:
        self.window.reset()

    def update(self, latency_ms: float, ts: float | None = None) -> None:
        self.window.update(latency_ms, ts)

    def update_many(self, latency_ms, ts=None) -> None:
        """Add a batch; non-finite latencies are skipped (``window.n_skipped``)."""
        self.window.update_many(latency_ms, ts)

    def summary(self, now: float | None = None) -> dict | None:
        """``{p50, p95, p99, mean, max, n, throughput_eps?}`` over the window, None when empty.

        ``throughput_eps`` is ``(n - 1) / (newest ts - oldest ts)`` and absent when the window holds
        fewer than 2 timestamped values or they all share one timestamp.
        """
        v, t = self.window.rows(now)
        v = v[:, 0]
        if not v.size:
            return None
        p = quantiles(v, _QS)  # numpy.percentile's values, bit for bit, faster
        out = dict(zip(LATENCY_PERCENTILES, p))
        out.update(mean=float(v.mean()), max=float(v.max()), n=int(v.size))
        t = t[~np.isnan(t)]
        if t.size >= 2:
            span = float(t.max() - t.min())
            if span > 0:
                out["throughput_eps"] = (t.size - 1) / span
        return out

    def to_dict(self) -> dict:
        return {"window": self.window.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> RollingPercentiles:
        r = cls.__new__(cls)
        r.window = SlidingWindow.from_dict(d["window"])
        return r


class LatencySketch:
    """A DDSketch of all values seen, mergeable and serialisable to plain JSON.

    Parameters
    ----------
    relative_accuracy
        Relative error bound alpha of every quantile, in (0, 1).  Default 0.01 (1%).

    Non-finite values are skipped and counted in ``n_skipped``.  Negative values are allowed
    (stored in the negative store), zero goes to the zero bucket.

    Examples
    --------
    >>> s = LatencySketch(relative_accuracy=0.01)
    >>> s.update_many([10.0, 20.0, 30.0, float("inf")])
    >>> abs(s.quantile(0.5) - 20.0) <= 0.01 * 20.0, s.count, s.n_skipped
    (True, 3, 1)
    >>> t = LatencySketch.from_dict(s.to_dict()); t.quantile(0.5) == s.quantile(0.5)
    True
    """

    def __init__(self, relative_accuracy: float = 0.01) -> None:
        self.relative_accuracy = check_float("relative_accuracy", relative_accuracy, 0.0, 1.0,
                                             lo_open=True, hi_open=True)
        self.reset()

    def reset(self) -> None:
        self.sketch = DDSketch(self.relative_accuracy)
        self.n_skipped = 0

    @property
    def count(self) -> int:
        return int(self.sketch.count)

    def update(self, x: float) -> None:
        self.update_many([x])

    def update_many(self, values) -> None:
        v, skipped = finite_values("values", values)
        self.n_skipped += skipped
        if not v.size:
            return
        sk = self.sketch
        mp = sk._mapping
        pos = v > mp.min_possible
        neg = v < -mp.min_possible
        for mask, store, sign in ((pos, sk._store, 1.0), (neg, sk._negative_store, -1.0)):
            if mask.any():
                # same key as LogarithmicMapping.key: ceil(log2(x) * multiplier) + offset
                keys = np.ceil(np.log2(sign * v[mask]) * mp._multiplier) + mp._offset
                uk, cnt = np.unique(keys.astype(np.int64), return_counts=True)
                for k, c in zip(uk.tolist(), cnt.tolist()):
                    store.add(k, float(c))
        sk._zero_count += float(v.size - pos.sum() - neg.sum())
        sk._count += float(v.size)
        sk._sum += float(v.sum())
        sk._min = min(sk._min, float(v.min()))
        sk._max = max(sk._max, float(v.max()))

    def quantile(self, q: float) -> float | None:
        """Value at quantile ``q`` in [0, 1] (relative error <= alpha); None when empty."""
        check_float("q", q, 0.0, 1.0)
        return None if self.sketch.count == 0 else float(self.sketch.get_quantile_value(q))

    def merge(self, other: LatencySketch) -> None:
        """Add everything ``other`` holds into this sketch (same ``relative_accuracy`` needed)."""
        if other.relative_accuracy != self.relative_accuracy:
            raise ValueError(f"other.relative_accuracy must equal {self.relative_accuracy}, "
                             f"got {other.relative_accuracy!r}")
        self.sketch.merge(other.sketch)
        self.n_skipped += other.n_skipped

    @staticmethod
    def _store_dict(store) -> dict:
        if store.count == 0:
            return {"min_key": 0, "counts": []}
        lo, hi = store.min_key, store.max_key
        return {"min_key": int(lo), "counts": store.bins[lo - store.offset: hi - store.offset + 1]}

    def to_dict(self) -> dict:
        sk = self.sketch
        return {
            "relative_accuracy": self.relative_accuracy,
            "positive": self._store_dict(sk._store),
            "negative": self._store_dict(sk._negative_store),
            "zero_count": sk._zero_count,
            "count": sk._count,
            "sum": sk._sum,
            "min": None if sk._count == 0 else sk._min,
            "max": None if sk._count == 0 else sk._max,
            "n_skipped": self.n_skipped,
        }

    @classmethod
    def from_dict(cls, d: dict) -> LatencySketch:
        s = cls(relative_accuracy=d["relative_accuracy"])
        sk = s.sketch
        for key, store in (("positive", sk._store), ("negative", sk._negative_store)):
            lo = d[key]["min_key"]
            for i, c in enumerate(d[key]["counts"]):
                if c:
                    store.add(lo + i, float(c))
        sk._zero_count = d["zero_count"]
        sk._count = d["count"]
        sk._sum = d["sum"]
        sk._min = math.inf if d["min"] is None else d["min"]
        sk._max = -math.inf if d["max"] is None else d["max"]
        s.n_skipped = d["n_skipped"]
        return s
