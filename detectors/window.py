"""Sliding windows over the last N values, also bounded by age, with exact statistics.

A window is a ring buffer of capacity ``size``.  Values arrive one at a time (``update``) or in
batches (``update_many``); every value carries an event time ``ts`` (epoch seconds).  A value
counts while it is among the last ``size`` values *and* ``ts >= now - window_s``.

Non-finite values (NaN, ±inf) are skipped, never stored, and counted in ``n_skipped``.  A value
without a timestamp (``ts`` omitted) never expires by age.

Examples
--------
>>> w = SlidingWindow(size=3, window_s=10.0)
>>> w.update_many([1.0, 2.0, float("nan"), 3.0, 4.0], ts=[0.0, 1.0, 2.0, 3.0, 4.0])
>>> w.values().tolist(), w.n_skipped
([2.0, 3.0, 4.0], 1)
>>> w.values(now=12.5).tolist()      # 2.0 (ts=1) and 3.0 (ts=2) are older than 10 s
[3.0, 4.0]
>>> round(w.mean(now=12.5), 2), w.percentile(50, now=12.5)
(3.5, 3.5)
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import as_float_array, check_float, check_int


class SlidingWindow:
    """The last ``size`` finite values, no older than ``window_s`` seconds of event time.

    Parameters
    ----------
    size
        Capacity N (number of values), >= 1.
    window_s
        Age bound in seconds of event time (> 0, ``inf`` for none).
    width
        Values per row (1 for a plain series; e.g. 2 for (ground truth, prediction) pairs).
        A row with any non-finite value is skipped.

    Examples
    --------
    >>> w = SlidingWindow(size=4)
    >>> for x in [5.0, 1.0, 3.0]:
    ...     w.update(x)
    >>> w.count(), w.max(), w.percentile(50)
    (3, 5.0, 3.0)
    """

    def __init__(self, size: int = 1000, window_s: float = math.inf, width: int = 1) -> None:
        self.size = check_int("size", size, 1)
        self.window_s = check_float("window_s", window_s, 0.0, lo_open=True)
        self.width = check_int("width", width, 1)
        self.reset()

    def reset(self) -> None:
        self._buf = np.empty((self.size, self.width), dtype=np.float64)
        self._ts = np.empty(self.size, dtype=np.float64)
        self._pos = 0  # next write index
        self._filled = 0
        self.n_seen = 0
        self.n_skipped = 0
        self.latest_ts = -math.inf

    # --- updates --------------------------------------------------------------------------
    def update(self, x, ts: float | None = None) -> None:
        """Add one value (or one row when ``width > 1``)."""
        self.update_many(np.asarray(x, dtype=np.float64).reshape(1, -1) if self.width > 1 else [x],
                         None if ts is None else [ts])

    def update_many(self, values, ts=None) -> None:
        """Add a batch: ``values`` of shape (n,) or (n, width); ``ts`` of shape (n,) or None."""
        if self.width == 1:
            v = as_float_array("values", values).reshape(-1, 1)
        else:
            v = np.asarray(values, dtype=np.float64)
            if v.ndim != 2 or v.shape[1] != self.width:
                raise ValueError(f"values must have shape (n, {self.width}), got {v.shape}")
        n = v.shape[0]
        if ts is None:
            t = np.full(n, np.nan)
        else:
            t = as_float_array("ts", ts)
            if t.shape[0] != n:
                raise ValueError(f"ts must have the length of values ({n}), got {t.shape[0]}")
        ok = np.isfinite(v).all(axis=1)
        self.n_seen += n
        if not ok.all():
            self.n_skipped += int(n - ok.sum())
            v, t = v[ok], t[ok]
            n = v.shape[0]
        if n == 0:
            return
        tmax = np.nanmax(t) if not np.isnan(t).all() else -math.inf
        if tmax > self.latest_ts:
            self.latest_ts = float(tmax)
        if n >= self.size:
            v, t, n = v[-self.size:], t[-self.size:], self.size
        first = min(n, self.size - self._pos)
        self._buf[self._pos:self._pos + first] = v[:first]
        self._ts[self._pos:self._pos + first] = t[:first]
        rest = n - first
        if rest:
            self._buf[:rest] = v[first:]
            self._ts[:rest] = t[first:]
        self._pos = (self._pos + n) % self.size
        self._filled = min(self.size, self._filled + n)

    # --- reading --------------------------------------------------------------------------
    def _ordered(self) -> tuple[np.ndarray, np.ndarray]:
        if self._filled < self.size:
            return self._buf[:self._filled], self._ts[:self._filled]
        if self._pos == 0:
            return self._buf, self._ts
        p = self._pos
        return (np.concatenate((self._buf[p:], self._buf[:p])),
                np.concatenate((self._ts[p:], self._ts[:p])))

    def rows(self, now: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(values (k, width), ts (k,))`` in the window, oldest first.

        ``now`` (event-time seconds) defaults to the latest timestamp seen.
        """
        v, t = self._ordered()
        if math.isfinite(self.window_s):
            ref = self.latest_ts if now is None else float(now)
            keep = ~(t < ref - self.window_s)  # NaN ts never expire
            if not keep.all():
                v, t = v[keep], t[keep]
        return v, t

    def values(self, now: float | None = None) -> np.ndarray:
        """Values in the window, oldest first (1-d when ``width == 1``)."""
        v, _ = self.rows(now)
        return v[:, 0] if self.width == 1 else v

    def count(self, now: float | None = None) -> int:
        return int(self.rows(now)[0].shape[0])

    def mean(self, now: float | None = None) -> float | None:
        v = self.values(now)
        return float(v.mean()) if v.size else None

    def max(self, now: float | None = None) -> float | None:
        v = self.values(now)
        return float(v.max()) if v.size else None

    def percentile(self, q, now: float | None = None):
        """Exact percentile(s) ``q`` in [0, 100], as ``numpy.percentile`` (linear); None if empty."""
        v = self.values(now)
        if not v.size:
            return None
        r = np.percentile(v, q)
        return float(r) if np.ndim(r) == 0 else r

    # --- state ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        v, t = self._ordered()
        ts = t.tolist()
        if np.isnan(t).any():  # JSON has no NaN (a full window has none: no per-element check)
            ts = [None if x != x else x for x in ts]  # noqa: PLR0124
        return {
            "size": self.size,
            "window_s": None if math.isinf(self.window_s) else self.window_s,
            "width": self.width,
            "values": v.tolist(),
            "ts": ts,
            "n_seen": self.n_seen,
            "n_skipped": self.n_skipped,
            "latest_ts": None if math.isinf(self.latest_ts) else self.latest_ts,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SlidingWindow:
        w = cls(size=d["size"], window_s=math.inf if d["window_s"] is None else d["window_s"],
                width=d["width"])
        n = len(d["values"])
        if n:
            w._buf[:n] = np.asarray(d["values"], dtype=np.float64).reshape(n, w.width)
            w._ts[:n] = np.array([np.nan if x is None else x for x in d["ts"]], dtype=np.float64)
        w._filled = n
        w._pos = n % w.size
        w.n_seen = d["n_seen"]
        w.n_skipped = d["n_skipped"]
        w.latest_ts = -math.inf if d["latest_ts"] is None else d["latest_ts"]
        return w
