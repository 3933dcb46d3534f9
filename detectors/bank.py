"""All detectors of one (model, version): :class:`VersionMonitor`, configured by :class:`MonitorConfig`.

``update_batch`` is vectorised numpy (the only per-event Python loops are the sampled River anomaly
feed and the concept-drift detector on the error of events that carry ground truth); the
expensive tests run in ``evaluate``.  Metric names follow ``streams/metric_names.py`` (copied, not
imported: detectors stay standalone).

Semantics worth knowing:

- **Windows**: the last ``window_events`` values per field, no older than ``window_s`` seconds of
  event time before the ``now`` given to ``evaluate`` (``now`` is event time).  Latency, accuracy and
  the anomaly verdicts use the same bounds.
- **Reference**: given (``Reference.to_dict()``) or built from the first ``reference_size`` events.
  Events that went into a stream-built reference do not enter the drift windows, so window and
  reference are independent samples.  Fields first seen after the reference was built, or with
  no usable value in it, are not drift-tested.  A column's kind follows its reference field; a
  numeric field whose column cannot be read as float is skipped for that batch (``n_type_errors``).
- **Drift tests**: numeric fields (``prediction``, ``latency_ms``, numeric features) get KS, PSI and
  z-score; categorical fields chi-square and PSI.  They run once a field's window holds at least
  ``min(30, window_events)`` values.  With ``calibrate`` (default) each threshold comes from the
  field's reference resampled at the window size; a window not yet full is judged with the null of
  the largest power of two not above its size (conservative; the full size is calibrated exactly),
  so a field needs at most ~log2(N) calibrations, each computed once (~20-200 ms).  Verdicts are
  Holm-corrected over *all* (field, test) pairs of the evaluation at ``false_alarm_rate``.  With
  ``calibrate=False``: KS/chi2/z p-values from scipy, Holm-corrected, and PSI > 0.1 (uncorrected).
  ``drift.<f>.ks_pvalue`` and ``chi2_pvalue`` are the analytic (scipy) p-values whatever the mode.
- **Accuracy** (mae, rmse, r2, mape as a fraction, rows with |y| < 1e-9 left out of MAPE): over the
  window of events carrying ground truth, from ``update_batch`` or ``add_feedback``.
- **Concept drift**: the absolute error ``|ground_truth - prediction|`` of every such event feeds
  ADWIN or Page-Hinkley; ``concept_drift.error`` is its current error level.
- **Anomaly**: every ``anomaly_sample_every``-th event (counted over the whole stream) is scored
  once the reference is complete, on its numeric fields standardised by the reference mean and sd
  (missing values imputed as the reference mean, clipped to ±10 sd).  HalfSpaceTrees uses
  ``BANK_HST_TREES`` trees with limits of ±4 sd and gives scores after ~350 scored events (its
  first window plus 100 scores for the quantile threshold).  ``anomaly.score`` is the mean score
  and ``anomaly.rate`` the share flagged among scored events in the window.  A new reference
  (``set_reference``) restarts the anomaly detector (its scaling changed).
- **Not idempotent**: ``evaluate`` consumes the concept-drift flag (``concept_drift.detected`` is
  1.0 once per detection).  Duplicated events (at-least-once input) are counted again; windows
  hold the last N values whatever they are.
- **State**: ``to_dict`` holds windows, reference (or the partial one), sketches, accuracy
  moments and detectors; River models as base64 pickles (``detectors._state``).  Calibrated nulls
  are not stored: they are recomputed on demand from the reference with the same seeds, so a
  restored monitor gives identical results (its first evaluation is slower).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from ._checks import check_choice, check_float, check_int, to_float_column
from .accuracy import Accuracy
from .anomaly import (
    HalfSpaceTreesAnomaly,
    OneClassSVMAnomaly,
    ReconstructionAnomaly,
    anomaly_from_dict,
)
from .concept import ADWINDrift, PageHinkleyDrift
from .drift import CategoricalDriftTest, NumericDriftTest, correct
from .percentiles import LatencySketch, RollingPercentiles
from .reference import CATEGORICAL, NUMERIC, Reference, ReferenceBuilder
from .window import SlidingWindow

ANOMALY_CHOICES = ("halfspacetrees", "oneclasssvm", "autoencoder", "none")
CONCEPT_CHOICES = ("adwin", "pagehinkley", "none")
#: A field's window needs this many values (capped by window_events) before it is drift-tested.
MIN_DRIFT_EVENTS = 30
#: Calibration resamples per (field, window size).
N_RESAMPLES = 400
#: HalfSpaceTrees in the bank: 5 trees of height 6 (row by row ~12 µs per scored event; the sampled
#: rows of a batch go through ``update_many``, ~2.6 µs per scored row for 100 rows, so ~0.3 µs per
#: event at the default 1-in-10 sampling; 10 trees detect a little better at twice the cost, see
#: tests/detectors/test_det_anomaly.py).
BANK_HST_TREES = 5
_CLIP_SD = 10.0


@dataclass
class MonitorConfig:
    """Settings of one :class:`VersionMonitor` (see the module docstring for their meaning).

    Examples
    --------
    >>> MonitorConfig(window_events=500).window_events
    500
    >>> MonitorConfig(false_alarm_rate=2.0)
    Traceback (most recent call last):
    ...
    ValueError: false_alarm_rate must be in (0.0, 1.0), got 2.0
    """

    window_events: int = 1000
    window_s: float = 3600.0
    reference_size: int = 1000
    false_alarm_rate: float = 0.01
    calibrate: bool = True
    anomaly_detector: str = "halfspacetrees"
    anomaly_sample_every: int = 10
    concept_drift: str = "adwin"
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("window_events", self.window_events, 2)
        check_float("window_s", self.window_s, 0.0, lo_open=True)
        check_int("reference_size", self.reference_size, 2)
        check_float("false_alarm_rate", self.false_alarm_rate, 0.0, 1.0, lo_open=True, hi_open=True)
        if not isinstance(self.calibrate, bool):
            raise ValueError(f"calibrate must be a bool, got {self.calibrate!r}")  # noqa: TRY004
        check_choice("anomaly_detector", self.anomaly_detector, ANOMALY_CHOICES)
        check_int("anomaly_sample_every", self.anomaly_sample_every, 1)
        check_choice("concept_drift", self.concept_drift, CONCEPT_CHOICES)
        check_int("seed", self.seed, 0)

    def to_dict(self) -> dict:
        d = asdict(self)
        if math.isinf(d["window_s"]):
            d["window_s"] = None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> MonitorConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"config keys must be among {sorted(known)}, got unknown {sorted(unknown)}")
        d = dict(d)
        if d.get("window_s", 0.0) is None:
            d["window_s"] = math.inf
        return cls(**d)


def _null_size(n: int, full: int) -> int:
    """Window size the calibrated null is taken at: n when full, else the power of two <= n."""
    return n if n >= full else 1 << (int(n).bit_length() - 1)


class VersionMonitor:
    """All detectors of one (model, version).

    Parameters
    ----------
    config
        A :class:`MonitorConfig` (defaults when None).
    reference
        ``Reference.to_dict()`` output (e.g. from the registry); None builds the reference from the
        first ``config.reference_size`` events.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mon = VersionMonitor(MonitorConfig(window_events=500, reference_size=500,
    ...                                    anomaly_detector="none"))
    >>> def batch(n, shift=0.0, t0=0.0):
    ...     p = rng.normal(shift, 1, n)
    ...     return dict(ts=t0 + np.arange(n) / 100, latency_ms=rng.lognormal(3, 0.5, n), prediction=p,
    ...                 ground_truth=p + rng.normal(0, 0.1, n), features={"c": rng.choice(["a", "b"], n).astype(object)})
    >>> mon.update_batch(**batch(500)); mon.reference_complete, mon.is_warm
    (True, False)
    >>> mon.update_batch(**batch(500, shift=1.0, t0=5.0))
    >>> m = mon.evaluate(now=10.0)
    >>> m["drift.prediction.ks_drift"], m["drift.c.chi2_drift"], m["events_total"]
    (1.0, 0.0, 1000.0)
    """

    def __init__(self, config: MonitorConfig | None = None, reference: dict | None = None) -> None:
        self.config = config if config is not None else MonitorConfig()
        c = self.config
        self.latency = RollingPercentiles(size=c.window_events, window_s=c.window_s)
        self.latency_sketch = LatencySketch()
        self.accuracy = Accuracy(window=c.window_events, window_s=c.window_s)
        self.concept = {"adwin": lambda: ADWINDrift(seed=c.seed),
                        "pagehinkley": lambda: PageHinkleyDrift(seed=c.seed),
                        "none": lambda: None}[c.concept_drift]()
        self.events_total = 0
        self.n_type_errors = 0
        self._concept_flag = False
        self._windows: dict[str, SlidingWindow] = {}
        self._codes: dict[str, dict[str, int]] = {}     # categorical field -> category -> code
        self._tests: dict[str, NumericDriftTest | CategoricalDriftTest] = {}
        self.anomaly = None
        self._anomaly_window = SlidingWindow(size=max(1, c.window_events // c.anomaly_sample_every),
                                             window_s=c.window_s, width=2)
        self._reference: Reference | None = None
        self._numeric_fields: list[str] = []
        self._builder: ReferenceBuilder | None = None
        if reference is not None:
            self._install_reference(Reference.from_dict(reference))
        else:
            self._builder = ReferenceBuilder(size=c.reference_size)

    # --- reference --------------------------------------------------------------------------
    @property
    def reference_complete(self) -> bool:
        return self._reference is not None

    def reference_dict(self) -> dict | None:
        return None if self._reference is None else self._reference.to_dict()

    def set_reference(self, reference: dict) -> None:
        """Replace the reference (e.g. after promotion/rollback); windows are kept."""
        self._builder = None
        self._install_reference(Reference.from_dict(reference))

    def _install_reference(self, ref: Reference, keep_windows: bool = True) -> None:
        self._reference = ref
        c = self.config
        old = self._windows
        self._windows, self._tests = {}, {}
        self._codes = {k: v for k, v in self._codes.items() if k in ref and ref.kind(k) == CATEGORICAL}
        for name, f in ref.fields.items():
            if f.kind == NUMERIC and f.n < 2:
                continue
            w = old.get(name) if keep_windows else None
            if w is None or (f.kind == CATEGORICAL) != (name in self._codes):
                w = SlidingWindow(size=c.window_events, window_s=c.window_s)
            self._windows[name] = w
            if f.kind == CATEGORICAL:
                codes = self._codes.setdefault(name, {})
                for cat in f.categories:
                    codes.setdefault(cat, len(codes))
                self._tests[name] = CategoricalDriftTest(f, calibrate=c.calibrate, n_resamples=N_RESAMPLES,
                                                         seed=c.seed, alpha=c.false_alarm_rate, name=name)
            else:
                self._tests[name] = NumericDriftTest(f, calibrate=c.calibrate, n_resamples=N_RESAMPLES,
                                                     seed=c.seed, alpha=c.false_alarm_rate, name=name)
            self._tests[name].compute_thresholds = False  # correct() sets them at the Holm level
        self._numeric_fields = sorted(k for k, t in self._tests.items() if isinstance(t, NumericDriftTest))
        self._make_anomaly()

    def _make_anomaly(self) -> None:
        c = self.config
        self._anomaly_window.reset()
        if c.anomaly_detector == "none" or self._reference is None or not self._numeric_fields:
            self.anomaly = None
            return
        if c.anomaly_detector == "halfspacetrees":
            self.anomaly = HalfSpaceTreesAnomaly(limits={k: (-4.0, 4.0) for k in self._numeric_fields},
                                                 n_trees=BANK_HST_TREES, seed=c.seed)
        elif c.anomaly_detector == "oneclasssvm":
            self.anomaly = OneClassSVMAnomaly(seed=c.seed)
        else:
            self.anomaly = ReconstructionAnomaly(n_components=max(1, len(self._numeric_fields) // 2),
                                                 seed=c.seed)

    # --- updates ----------------------------------------------------------------------------
    def update_batch(self, *, ts: np.ndarray, latency_ms: np.ndarray, prediction: np.ndarray,
                     ground_truth: np.ndarray, features: dict[str, np.ndarray]) -> None:
        """Add n events (all arrays of length n; see the module docstring)."""
        ts = np.asarray(ts, dtype=np.float64)
        n = ts.shape[0]
        cols = {"prediction": np.asarray(prediction, dtype=np.float64),
                "latency_ms": np.asarray(latency_ms, dtype=np.float64)}
        gt = np.asarray(ground_truth, dtype=np.float64)
        for name, col in [*cols.items(), ("ground_truth", gt), *features.items()]:
            if len(col) != n:
                raise ValueError(f"{name} must have the length of ts ({n}), got {len(col)}")
        cols.update(features)
        if n == 0:
            return
        first_index = self.events_total
        self.events_total += n
        self.latency.update_many(cols["latency_ms"], ts)
        self.latency_sketch.update_many(cols["latency_ms"])
        self._feed_truth(ts, cols["prediction"], gt)

        start = 0
        if self._builder is not None:
            start = self._builder.update_many(cols)
            if self._builder.complete:
                ref = self._builder.reference()
                self._builder = None
                self._install_reference(ref, keep_windows=False)
        if self._reference is None or start >= n:
            return
        sl = slice(start, n)
        t = ts[sl]
        for name, w in self._windows.items():
            col = cols.get(name)
            if col is None:
                continue
            col = col[sl]
            if name in self._codes:
                w.update_many(self._encode(name, col), t)
            else:
                try:
                    w.update_many(to_float_column(col), t)
                except (TypeError, ValueError):
                    self.n_type_errors += 1
        if self.anomaly is not None:
            self._feed_anomaly(first_index + start, t, {k: cols[k][sl] for k in self._numeric_fields
                                                        if k in cols})

    def _encode(self, name: str, col) -> np.ndarray:
        """Category codes as floats (NaN = missing); unseen categories get new codes."""
        if getattr(col, "dtype", None) is not None and col.dtype.kind == "b":
            col = np.where(col, "true", "false")  # as the reference spells booleans
        codes = self._codes[name]
        try:  # the common case, every value a known category: one dict lookup each (in C)
            values = col.tolist() if hasattr(col, "tolist") else list(col)
            return np.fromiter(map(codes.__getitem__, values), np.float64, len(values))
        except (KeyError, TypeError):  # missing, unseen or not a string: below
            pass
        arr = np.asarray(col, dtype=object)
        missing = np.equal(arr, None) | (arr != arr)  # None, or a float NaN slipped in  # noqa: PLR0124
        out = np.full(arr.shape[0], np.nan)
        if (~missing).any():
            present = arr[~missing]
            if present.dtype.kind == "O":
                present = present.astype(str)
            u, inv = np.unique(present, return_inverse=True)
            lut = np.array([codes.setdefault(str(x), len(codes)) for x in u.tolist()], dtype=np.float64)
            out[~missing] = lut[inv]
        return out

    def _feed_truth(self, ts, prediction, gt) -> None:
        has = np.isfinite(gt) & np.isfinite(prediction)
        if not has.any():
            return
        self.accuracy.update_many(gt[has], prediction[has], ts[has])
        if self.concept is not None and self.concept.update_many(np.abs(gt[has] - prediction[has])):
            self._concept_flag = True

    def _feed_anomaly(self, first_index: int, ts, cols: dict) -> None:
        k = self.config.anomaly_sample_every
        m = ts.shape[0]
        idx = np.arange((-first_index) % k, m, k)
        if not idx.size:
            return
        z = np.zeros((idx.size, len(self._numeric_fields)))
        for c, name in enumerate(self._numeric_fields):
            ref = self._reference[name]
            sd = ref.std if ref.std > 0 else 1.0
            col = cols.get(name)
            if col is not None:
                try:
                    z[:, c] = (to_float_column(col)[idx] - ref.mean) / sd
                except (TypeError, ValueError):
                    pass  # not numbers in this batch: left at the reference mean
        np.minimum(np.maximum(z, -_CLIP_SD, out=z), _CLIP_SD, out=z)  # infinities clipped too
        z[np.isnan(z)] = 0.0  # missing: imputed as the reference mean
        # finite by construction (imputed, clipped); HalfSpaceTrees takes the rows at once
        scores, flags = self.anomaly.update_many(z, self._numeric_fields)
        scored = ~np.isnan(scores)
        if scored.any():
            self._anomaly_window.update_many(np.column_stack([scores[scored], flags[scored]]), ts[idx][scored])

    def add_feedback(self, *, ts: np.ndarray, prediction: np.ndarray, ground_truth: np.ndarray) -> None:
        """Late ground truth for earlier predictions (joined by the caller): accuracy + concept drift."""
        ts = np.asarray(ts, dtype=np.float64)
        p = np.asarray(prediction, dtype=np.float64)
        g = np.asarray(ground_truth, dtype=np.float64)
        if not (ts.shape == p.shape == g.shape):
            raise ValueError(f"ts, prediction and ground_truth must have one length, got "
                             f"{ts.shape}, {p.shape}, {g.shape}")
        self._feed_truth(ts, p, g)

    # --- evaluation -------------------------------------------------------------------------
    def _min_drift(self) -> int:
        return min(MIN_DRIFT_EVENTS, self.config.window_events)

    @property
    def is_warm(self) -> bool:
        """Reference complete and some field's window holds enough values for drift tests."""
        if self._reference is None or not self._windows:
            return False
        return max(w.count() for w in self._windows.values()) >= self._min_drift()

    def evaluate(self, now: float) -> dict[str, float]:
        """Metrics at event time ``now``; a metric not available yet is absent."""
        out: dict[str, float] = {"events_total": float(self.events_total)}
        lat = self.latency.summary(now)
        if lat is not None:
            out.update(latency_p50_ms=lat["p50"], latency_p95_ms=lat["p95"], latency_p99_ms=lat["p99"],
                       latency_mean_ms=lat["mean"], latency_max_ms=lat["max"])
            if "throughput_eps" in lat:
                out["throughput_eps"] = lat["throughput_eps"]
        for key, value in self.accuracy.windowed(now).items():
            if key != "n":
                out[key] = float(value)
        out.update(self._drift(now))
        if self.anomaly is not None:
            a = self._anomaly_window.values(now)
            if len(a):
                out["anomaly.score"] = float(a[:, 0].mean())
                out["anomaly.rate"] = float(a[:, 1].mean())
        if self.concept is not None and self.concept.n_seen:
            err = self.concept.error
            if err is not None:
                out["concept_drift.error"] = float(err)
            out["concept_drift.detected"] = 1.0 if self._concept_flag else 0.0
            self._concept_flag = False
        return out

    def drift_results(self, now: float) -> dict:
        """``{(field, test): DriftResult}`` after the Holm correction (what ``evaluate`` reports)."""
        if self._reference is None:
            return {}
        results = {}
        full = self.config.window_events
        for name, w in self._windows.items():
            v = w.values(now)
            if v.size < self._min_drift():
                continue
            test = self._tests[name]
            if isinstance(test, CategoricalDriftTest):
                codes = self._codes[name]
                counts = np.bincount(v.astype(np.int64), minlength=len(codes))
                names = list(codes)
                res = test.evaluate({names[i]: int(x) for i, x in enumerate(counts.tolist()) if x},
                                    null_n=_null_size(v.size, full))
            else:
                res = test.evaluate(v, null_n=_null_size(v.size, full))
            for t, r in res.items():
                results[(name, t)] = r
        return correct(results, self.config.false_alarm_rate)

    def _drift(self, now: float) -> dict[str, float]:
        out = {}
        for (name, test), r in self.drift_results(now).items():
            p = f"drift.{name}."
            if test == "ks":
                out[p + "ks_stat"] = r.statistic
                out[p + "ks_pvalue"] = r.pvalue
            elif test == "psi":
                out[p + "psi"] = r.statistic
            elif test == "chi2":
                out[p + "chi2_pvalue"] = r.pvalue
            elif test == "zscore":
                out[p + "zscore"] = r.statistic
            out[p + f"{test}_drift"] = 1.0 if r.drift else 0.0
        return {k: float(v) for k, v in out.items()}

    # --- state ------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain-JSON state (River models pickled in base64, see ``detectors._state``)."""
        return {
            "v": 1,
            "config": self.config.to_dict(),
            "reference": self.reference_dict(),
            "builder": None if self._builder is None else self._builder.to_dict(),
            "events_total": self.events_total,
            "n_type_errors": self.n_type_errors,
            "concept_flag": self._concept_flag,
            "latency": self.latency.to_dict(),
            "latency_sketch": self.latency_sketch.to_dict(),
            "accuracy": self.accuracy.to_dict(),
            "concept": None if self.concept is None else self.concept.to_dict(),
            "windows": {k: w.to_dict() for k, w in self._windows.items()},
            "codes": {k: dict(v) for k, v in self._codes.items()},
            "anomaly": None if self.anomaly is None else self.anomaly.to_dict(),
            "anomaly_window": self._anomaly_window.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> VersionMonitor:
        if d.get("v") != 1:
            raise ValueError(f"monitor state v must be 1, got {d.get('v')!r}")
        m = cls(MonitorConfig.from_dict(d["config"]), reference=d["reference"])
        if d["builder"] is not None:
            m._builder = ReferenceBuilder.from_dict(d["builder"])
        m.events_total = d["events_total"]
        m.n_type_errors = d["n_type_errors"]
        m._concept_flag = d["concept_flag"]
        m.latency = RollingPercentiles.from_dict(d["latency"])
        m.latency_sketch = LatencySketch.from_dict(d["latency_sketch"])
        m.accuracy = Accuracy.from_dict(d["accuracy"])
        if d["concept"] is not None:
            m.concept = (ADWINDrift if d["concept"]["kind"] == "adwin" else PageHinkleyDrift).from_dict(d["concept"])
        m._windows = {k: SlidingWindow.from_dict(w) for k, w in d["windows"].items()}
        m._codes = {k: dict(v) for k, v in d["codes"].items()}
        m.anomaly = None if d["anomaly"] is None else anomaly_from_dict(d["anomaly"])
        m._anomaly_window = SlidingWindow.from_dict(d["anomaly_window"])
        return m
