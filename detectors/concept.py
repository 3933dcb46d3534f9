"""Concept drift on an error stream: ADWIN and Page-Hinkley (River), debounced.

Both wrappers take one error value per ``update`` (e.g. ``|y - ŷ|``) and expose the same surface:
``drift_detected`` (True right after an accepted detection, until the next update),
``n_detections``, ``detections`` (update indices, 0-based, of accepted detections) and ``error``
(the current error level: ADWIN's window mean, Page-Hinkley's mean since its last reset).

**Debounce**: River resets a detector after each detection; a detection less than ``min_gap``
updates after the previous accepted one is ignored, so one change gives one detection.
Non-finite values are skipped (``n_skipped``), never fed to the detector.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> errors = np.r_[rng.normal(1.0, 0.2, 1000), rng.normal(2.0, 0.2, 1000)]
>>> d = ADWINDrift(seed=0)
>>> d.update_many(errors)
True
>>> d.detections, round(d.error, 1)
([1023], 2.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from river import drift as river_drift

from ._checks import check_float, check_int, finite_values
from ._state import dump_river, load_river


class _Debounced:
    def __init__(self, min_gap: int) -> None:
        self.min_gap = check_int("min_gap", min_gap, 0)

    def reset(self) -> None:
        self.detector = self._make()
        self.n_seen = 0
        self.n_skipped = 0
        self.detections: list[int] = []
        self.drift_detected = False
        self._sum = 0.0
        self._count = 0

    @property
    def n_detections(self) -> int:
        return len(self.detections)

    def update(self, x: float) -> None:
        """Feed one error value (skipped when not finite)."""
        self.drift_detected = False
        if not math.isfinite(x):
            self.n_skipped += 1
            return
        det = self.detector
        det.update(x)
        self._sum += x
        self._count += 1
        i = self.n_seen
        self.n_seen += 1
        if det.drift_detected and (not self.detections or i - self.detections[-1] >= self.min_gap):
            self.detections.append(i)
            self.drift_detected = True
            self._sum, self._count = 0.0, 0

    def update_many(self, values) -> bool:
        """Feed a batch; returns True when an accepted detection happened in it.

        Same result as ``update`` per value (non-finite ones skipped), in a tighter loop.
        """
        v, skipped = finite_values("values", values)
        self.n_skipped += skipped
        if not v.size:
            return False
        base, gap, dets = self.n_seen, self.min_gap, self.detections
        before, last_cut = len(dets), 0
        for j in self._raw_detections(v.tolist()):
            if not dets or base + j - dets[-1] >= gap:
                dets.append(base + j)
                last_cut = j + 1
        self.n_seen = base + v.size
        self.drift_detected = bool(len(dets) > before and dets[-1] == self.n_seen - 1)
        if len(dets) > before:
            self._sum, self._count = float(v[last_cut:].sum()), int(v.size - last_cut)
        else:
            self._sum += float(v.sum())
            self._count += int(v.size)
        return len(dets) > before

    def _raw_detections(self, values: list[float]) -> Iterator[int]:
        """Feed ``values`` to the detector one by one; yield the index of each that flagged drift."""
        det = self.detector
        for j, x in enumerate(values):
            det.update(x)
            if det.drift_detected:
                yield j

    def _state(self) -> dict:
        return {"detector": dump_river(self.detector), "n_seen": self.n_seen,
                "n_skipped": self.n_skipped, "detections": list(self.detections),
                "drift_detected": self.drift_detected, "sum": self._sum, "count": self._count}

    def _restore(self, d: dict) -> None:
        self.detector = load_river(d["detector"])
        self.n_seen, self.n_skipped = d["n_seen"], d["n_skipped"]
        self.detections = list(d["detections"])
        self.drift_detected = d["drift_detected"]
        self._sum, self._count = d["sum"], d["count"]


class ADWINDrift(_Debounced):
    """ADWIN (river.drift.ADWIN) on an error stream, debounced.

    Parameters
    ----------
    delta
        ADWIN confidence, in (0, 1).
    min_gap
        Detections closer than this (in updates) to the previous one are ignored.
    grace_period
        Updates before ADWIN may detect.
    seed
        Unused (ADWIN is deterministic); kept for the common detector surface.

    References
    ----------
    Bifet, A. and Gavaldà, R. (2007). Learning from time-changing data with adaptive windowing.
    SDM 2007.
    """

    def __init__(self, delta: float = 0.002, min_gap: int = 100, grace_period: int = 30,
                 seed: int = 0) -> None:
        super().__init__(min_gap)
        self.delta = check_float("delta", delta, 0.0, 1.0, lo_open=True, hi_open=True)
        self.grace_period = check_int("grace_period", grace_period, 1)
        self.seed = seed
        self.reset()

    def _make(self):
        return river_drift.ADWIN(delta=self.delta, grace_period=self.grace_period)

    @property
    def error(self) -> float | None:
        return None if self.detector.width == 0 else float(self.detector.estimation)

    def _raw_detections(self, values: list[float]) -> Iterator[int]:
        """As the generic loop, without River's Python wrapper per value (a third of the cost).

        ``river.drift.ADWIN.update`` is: reset if the previous update detected drift, then
        ``_drift_detected = _helper.update(x)`` (the Rust ADWIN).  This does exactly that, calling
        the Rust update directly between detections (tests/detectors/test_det_concept.py compares
        it with River's own update, value by value).
        """
        det = self.detector
        if not hasattr(det, "_helper"):  # a River whose ADWIN differs: the generic path
            yield from super()._raw_detections(values)
            return
        j, n = 0, len(values)
        while j < n:
            if det.drift_detected:
                det._reset()
            update = det._helper.update
            for k in range(j, n):
                if update(values[k]):
                    break
            else:
                det._drift_detected = False
                return
            det._drift_detected = True
            yield k
            j = k + 1

    def to_dict(self) -> dict:
        return {"kind": "adwin", "delta": self.delta, "min_gap": self.min_gap,
                "grace_period": self.grace_period, "seed": self.seed, **self._state()}

    @classmethod
    def from_dict(cls, d: dict) -> ADWINDrift:
        o = cls(delta=d["delta"], min_gap=d["min_gap"], grace_period=d["grace_period"], seed=d["seed"])
        o._restore(d)
        return o


class PageHinkleyDrift(_Debounced):
    """Page-Hinkley (river.drift.PageHinkley) on an error stream, debounced.

    Parameters
    ----------
    threshold
        Detection threshold lambda (> 0), in units of the error.
    delta
        Magnitude of changes tolerated (>= 0), in error units.  The default 0.1 (River: 0.005)
        keeps a stationary error stream of unit scale from drifting into false alarms; threshold
        and delta are in the units of the error, so scale them with it.
    min_instances
        Updates before a detection is possible.
    alpha
        Forgetting factor in (0, 1].
    mode
        "up" (error increases only, the default for an error stream), "down" or "both".
    min_gap
        Debounce, in updates.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> d = PageHinkleyDrift(threshold=20.0)
    >>> d.update_many(np.r_[rng.normal(1, 0.2, 500), rng.normal(1.5, 0.2, 500)])
    True
    >>> d.detections
    [551]

    References
    ----------
    Page, E. S. (1954). Continuous inspection schemes. Biometrika 41, 100-115.
    """

    def __init__(self, threshold: float = 50.0, delta: float = 0.1, min_instances: int = 30,
                 alpha: float = 1 - 1e-4, mode: str = "up", min_gap: int = 100, seed: int = 0) -> None:
        super().__init__(min_gap)
        self.threshold = check_float("threshold", threshold, 0.0, lo_open=True)
        self.delta = check_float("delta", delta, 0.0)
        self.min_instances = check_int("min_instances", min_instances, 1)
        self.alpha = check_float("alpha", alpha, 0.0, 1.0, lo_open=True)
        if mode not in ("up", "down", "both"):
            raise ValueError(f"mode must be one of ('up', 'down', 'both'), got {mode!r}")
        self.mode = mode
        self.seed = seed
        self.reset()

    def _make(self):
        return river_drift.PageHinkley(min_instances=self.min_instances, delta=self.delta,
                                       threshold=self.threshold, alpha=self.alpha, mode=self.mode)

    @property
    def error(self) -> float | None:
        return self._sum / self._count if self._count else None

    def to_dict(self) -> dict:
        return {"kind": "pagehinkley", "threshold": self.threshold, "delta": self.delta,
                "min_instances": self.min_instances, "alpha": self.alpha, "mode": self.mode,
                "min_gap": self.min_gap, "seed": self.seed, **self._state()}

    @classmethod
    def from_dict(cls, d: dict) -> PageHinkleyDrift:
        o = cls(threshold=d["threshold"], delta=d["delta"], min_instances=d["min_instances"],
                alpha=d["alpha"], mode=d["mode"], min_gap=d["min_gap"], seed=d["seed"])
        o._restore(d)
        return o
