"""Regression accuracy over a sliding window and cumulatively: MAE, RMSE, R² and MAPE.

Cumulative values use numerically stable merges of batch moments (Chan et al.'s parallel form of
Welford's update), so a long stream does not lose precision to catastrophic cancellation.
Window values are exact over the rows in the window.

- MAE = mean |y - ŷ|; RMSE = sqrt(mean (y - ŷ)²); R² = 1 - SSE / SST (None when SST = 0 or n < 2).
- **MAPE** = mean(|y - ŷ| / |y|) as a **fraction** (0.1 = 10 %, as in evaluation/ and the dashboards), over the rows with ``|y| >= eps``
  (default ``eps = 1e-9``): rows with (near-)zero ground truth are *excluded* from MAPE only (they
  still count in MAE/RMSE/R²).  None when no row qualifies.
- Rows whose ground truth or prediction is NaN/inf are skipped (absent ground truth) and counted
  in ``n_skipped``; they never enter any average.

Examples
--------
>>> acc = Accuracy(window=3)
>>> acc.update_many(y_true=[1.0, 2.0, 0.0, 4.0], y_pred=[1.5, 2.0, 0.5, float("nan")])
>>> s = acc.cumulative()
>>> s["mae"], round(s["rmse"], 4), s["mape"], s["n"], acc.n_skipped
(0.3333333333333333, 0.4082, 0.25, 3, 1)
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import as_float_array, check_float, check_int
from .window import SlidingWindow


def accuracy_metrics(y_true, y_pred, eps: float = 1e-9) -> dict:
    """Textbook MAE, RMSE, R², MAPE (fraction) on finite rows; ``{}`` when there is no row."""
    y = as_float_array("y_true", y_true)
    p = as_float_array("y_pred", y_pred)
    ok = np.isfinite(y) & np.isfinite(p)
    y, p = y[ok], p[ok]
    if not y.size:
        return {}
    e = y - p
    out = {"n": int(y.size), "mae": float(np.mean(np.abs(e))), "rmse": float(np.sqrt(np.mean(e * e)))}
    sst = float(np.sum((y - y.mean()) ** 2))
    if y.size >= 2 and sst > 0:
        out["r2"] = 1.0 - float(np.sum(e * e)) / sst
    big = np.abs(y) >= eps
    if big.any():
        out["mape"] = float(np.mean(np.abs(e[big]) / np.abs(y[big])))
    return out


class _Moments:
    """Count, mean and M2 (sum of squared deviations) merged batch by batch (Chan/Welford)."""

    __slots__ = ("m2", "mean", "n")

    def __init__(self, n: int = 0, mean: float = 0.0, m2: float = 0.0) -> None:
        self.n, self.mean, self.m2 = n, mean, m2

    def add(self, x: np.ndarray) -> None:
        nb = x.size
        if nb == 0:
            return
        mb = float(x.mean())
        m2b = float(np.sum((x - mb) ** 2))
        n = self.n + nb
        delta = mb - self.mean
        self.mean += delta * nb / n
        self.m2 += m2b + delta * delta * self.n * nb / n
        self.n = n


class Accuracy:
    """MAE, RMSE, R², MAPE over the last ``window`` rows (bounded by ``window_s``) and cumulatively.

    Parameters
    ----------
    window
        Window capacity in rows.
    window_s
        Age bound of the window (seconds of event time).
    eps
        Rows with ``|y_true| < eps`` are excluded from MAPE.
    """

    def __init__(self, window: int = 1000, window_s: float = math.inf, eps: float = 1e-9) -> None:
        self.window_size = check_int("window", window, 1)
        self.window_s = check_float("window_s", window_s, 0.0, lo_open=True)
        self.eps = check_float("eps", eps, 0.0, lo_open=True)
        self.reset()

    def reset(self) -> None:
        self.window = SlidingWindow(size=self.window_size, window_s=self.window_s, width=2)
        self._y = _Moments()       # ground truth: for SST
        self._abs = _Moments()     # |e|
        self._sq = _Moments()      # e^2
        self._ape = _Moments()     # |e| / |y| on |y| >= eps
        self.n_skipped = 0

    def update(self, y_true: float, y_pred: float, ts: float | None = None) -> None:
        self.update_many([y_true], [y_pred], None if ts is None else [ts])

    def update_many(self, y_true, y_pred, ts=None) -> None:
        y = as_float_array("y_true", y_true)
        p = as_float_array("y_pred", y_pred)
        if y.shape != p.shape:
            raise ValueError(f"y_pred must have the shape of y_true {y.shape}, got {p.shape}")
        t = None if ts is None else as_float_array("ts", ts)
        ok = np.isfinite(y) & np.isfinite(p)
        if not ok.all():
            self.n_skipped += int((~ok).sum())
            y, p = y[ok], p[ok]
            t = None if t is None else t[ok]
        if not y.size:
            return
        e = np.abs(y - p)
        self._y.add(y)
        self._abs.add(e)
        self._sq.add(e * e)
        big = np.abs(y) >= self.eps
        self._ape.add(e[big] / np.abs(y[big]))
        self.window.update_many(np.column_stack([y, p]), t)

    def cumulative(self) -> dict:
        """Metrics over everything seen (``{}`` before the first row)."""
        n = self._abs.n
        if n == 0:
            return {}
        out = {"n": n, "mae": self._abs.mean, "rmse": math.sqrt(max(self._sq.mean, 0.0))}
        if n >= 2 and self._y.m2 > 0:
            out["r2"] = 1.0 - self._sq.mean * n / self._y.m2
        if self._ape.n:
            out["mape"] = self._ape.mean
        return out

    def windowed(self, now: float | None = None) -> dict:
        """Metrics over the rows in the window (exact)."""
        v = self.window.values(now)
        return accuracy_metrics(v[:, 0], v[:, 1], self.eps) if len(v) else {}

    def to_dict(self) -> dict:
        m = lambda x: [x.n, x.mean, x.m2]
        return {"window": self.window.to_dict(), "eps": self.eps, "y": m(self._y),
                "abs": m(self._abs), "sq": m(self._sq), "ape": m(self._ape),
                "n_skipped": self.n_skipped}

    @classmethod
    def from_dict(cls, d: dict) -> Accuracy:
        w = SlidingWindow.from_dict(d["window"])
        a = cls(window=w.size, window_s=w.window_s, eps=d["eps"])
        a.window = w
        a._y, a._abs, a._sq, a._ape = (_Moments(*d[k]) for k in ("y", "abs", "sq", "ape"))
        a.n_skipped = d["n_skipped"]
        return a
