"""Prometheus metrics a worker exports: every name of :mod:`streams.metric_names`, defined once.

:func:`build_metrics` takes the registry to register into, so each test passes a fresh
``CollectorRegistry`` and the worker passes the one it serves on ``/metrics``.  The worker only
calls :class:`WorkerMetrics` methods; it never touches a metric object or a label directly, so
label values always come from closed sets (model, version, field, test, quantile, metric, severity,
status, reason, topic, partition).

The latency histogram is a small custom collector: a batch of latencies is binned with numpy and
added under one lock, which costs a few microseconds for a thousand values where
``Histogram.observe`` in a loop costs about a millisecond.

Examples
--------
>>> import numpy as np
>>> from prometheus_client import CollectorRegistry
>>> registry = CollectorRegistry()
>>> m = build_metrics(registry)
>>> m.observe_latencies("tok-counter", "1.0.0", np.array([12.0, 40.0, 900.0]))
>>> m.record_snapshot("tok-counter", "1.0.0", {"latency_p95_ms": 850.0, "drift.prediction.psi": 0.02})
>>> registry.get_sample_value("monitor_latency_seconds_count", {"model": "tok-counter", "version": "1.0.0"})
3.0
>>> registry.get_sample_value("monitor_latency_quantile_seconds",
...                           {"model": "tok-counter", "version": "1.0.0", "quantile": "0.95"})
0.85
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from streams import metric_names as mn
from streams.rules import SEVERITIES

#: Upper bounds (seconds) of the latency histogram; they bracket the default rule thresholds
#: (p95 > 2 s, p99 > 5 s) so ``histogram_quantile`` is meaningful around them.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0,
                     10.0, 30.0, 60.0)
#: Upper bounds (seconds) of the evaluation-duration histogram (one evaluation of all keys).
EVALUATION_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        5.0)
ALERT_STATUSES = ("firing", "resolved")
#: A reason label is a short identifier chosen by the code (``schema``, ``unknown_version``, ...),
#: never an exception message.
REASON = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
#: At most this many drift fields per (model, version) become label values (DESIGN.md: <= 64 features
#: plus ``prediction`` and ``latency_ms``); further fields are not exported.
MAX_FIELDS_PER_KEY = 66
_QUANTILE_OF_METRIC = {name: q for q, name in mn.LATENCY_QUANTILES.items()}


class LatencyHistogram(Collector):
    """``monitor_latency_seconds{model,version}`` fed with whole numpy batches.

    Parameters
    ----------
    name
        Prometheus metric name (without ``_bucket``).
    buckets_s
        Finite, increasing upper bounds in seconds; ``+Inf`` is added.
    """

    def __init__(self, name: str, documentation: str, buckets_s: Iterable[float]) -> None:
        bounds = [float(b) for b in buckets_s]
        if not bounds or bounds != sorted(set(bounds)) or not all(math.isfinite(b) for b in bounds):
            raise ValueError(f"buckets_s must be finite and strictly increasing, got {bounds!r}")
        self.name = name
        self.documentation = documentation
        self._bounds = np.asarray(bounds, dtype=np.float64)
        self._le = [floatToGoString(b) for b in bounds] + ["+Inf"]
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], np.ndarray] = {}
        self._sums: dict[tuple[str, str], float] = {}

    def observe(self, model: str, version: str, seconds: np.ndarray) -> None:
        """Add a batch of latencies in seconds; non-finite values are ignored."""
        values = np.asarray(seconds, dtype=np.float64).ravel()
        if values.size == 0:
            return
        if not np.isfinite(values).all():
            values = values[np.isfinite(values)]
        # side="left": a value equal to a bound belongs to that bucket (le is inclusive).
        counts = np.bincount(np.searchsorted(self._bounds, values, side="left"),
                             minlength=len(self._le))
        total = float(values.sum())
        key = (model, version)
        with self._lock:
            held = self._counts.get(key)
            if held is None:
                self._counts[key] = counts.astype(np.float64)
                self._sums[key] = total
            else:
                held += counts
                self._sums[key] += total

    def remove(self, model: str, version: str) -> None:
        with self._lock:
            self._counts.pop((model, version), None)
            self._sums.pop((model, version), None)

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(self.name, self.documentation, labels=["model", "version"])

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=["model", "version"])
        with self._lock:
            items = [(k, np.cumsum(c), self._sums[k]) for k, c in self._counts.items()]
        for (model, version), cumulative, total in sorted(items, key=lambda i: i[0]):
            family.add_metric([model, version], list(zip(self._le, cumulative.tolist())), total)
        yield family


@dataclass
class WorkerMetrics:
    """The metric objects of one worker and the only calls the worker makes on them.

    Build it with :func:`build_metrics`.
    """

    events: Counter
    invalid_events: Counter
    deadletter: Counter
    alerts: Counter
    alerts_firing: Gauge
    latency: LatencyHistogram
    latency_quantile: Gauge
    latency_mean: Gauge
    throughput: Gauge
    consumer_lag: Gauge
    drift_score: Gauge
    drift_detected: Gauge
    anomaly_rate: Gauge
    anomaly_score: Gauge
    accuracy: Gauge
    concept_drift: Counter
    evaluation_duration: Histogram
    last_evaluation: Gauge
    models: Gauge
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # (model, version) -> {(metric, label values): child} created for that key: the children are
    # reused (prometheus_client's labels() validates and locks on every call, ~10 us per metric
    # of a snapshot), and forget() removes exactly these series.
    _series: dict[tuple[str, str], dict[tuple[object, tuple[str, ...]], Any]] = field(
        default_factory=dict, repr=False)
    _fields: dict[tuple[str, str], set[str]] = field(default_factory=dict, repr=False)

    # --- per event batch ---------------------------------------------------------------------
    def observe_latencies(self, model: str, version: str, latency_ms: np.ndarray) -> None:
        """Add a batch of latencies (milliseconds, as in the events) to the histogram in seconds."""
        self.latency.observe(model, version, np.asarray(latency_ms, dtype=np.float64) / 1000.0)

    def count_events(self, model: str, version: str, n: int) -> None:
        """Count ``n`` events accepted into the window of ``(model, version)``."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n!r}")
        self._child(self.events, model, version).inc(n)

    def count_invalid(self, reason: str, n: int = 1) -> None:
        """Count ``n`` events rejected by validation, by reason (a short identifier)."""
        self.invalid_events.labels(reason=_reason(reason)).inc(n)

    def count_deadletter(self, reason: str, n: int = 1) -> None:
        """Count ``n`` records sent to the dead-letter topic, by reason (a short identifier)."""
        self.deadletter.labels(reason=_reason(reason)).inc(n)

    # --- per evaluation ----------------------------------------------------------------------
    def record_snapshot(self, model: str, version: str, metrics: dict[str, float],
                        *, ts: float | None = None) -> None:
        """Export one :class:`MetricSnapshot`'s metrics as gauges of ``(model, version)``.

        Latencies are converted from milliseconds to seconds; drift statistics go to
        ``monitor_drift_score{field,test}``, drift verdicts (``<test>_drift``) to
        ``monitor_drift_detected{field,test}``; a ``concept_drift.detected`` of 1 counts one
        detection.  ``None`` values (a detector still warming up) are skipped, and so are names
        with no Prometheus counterpart (``events_total`` is counted by :meth:`count_events`).
        """
        for name, value in metrics.items():
            if value is None:
                continue
            value = float(value)
            target = mn.SNAPSHOT_TO_PROM.get(name)
            if target is not None:
                metric = self._gauges[target[0]]
                labels = target[1]
                if name in mn.MS_METRICS:
                    value /= 1000.0
                self._child(metric, model, version, *labels.values()).set(value)
                continue
            drift = mn.parse_drift_metric(name)
            if drift is not None:
                fld, stat = drift
                if not self._admit_field(model, version, fld):
                    continue
                if stat in mn.DRIFT_STATS:
                    self._child(self.drift_score, model, version, fld, stat).set(value)
                else:
                    test = stat[: -len("_drift")]
                    self._child(self.drift_detected, model, version, fld, test).set(value)
                continue
            if name == mn.CONCEPT_DRIFT_DETECTED and value >= 1.0:
                self._child(self.concept_drift, model, version).inc()
        if mn.CONCEPT_DRIFT_DETECTED in metrics:
            self._child(self.concept_drift, model, version)  # exported at 0 before a detection
        self._child(self.last_evaluation, model, version).set(time.time() if ts is None else ts)

    def count_alert(self, model: str, version: str, severity: str, status: str) -> None:
        """Count one alert transition written to the alert topic."""
        self._child(self.alerts, model, version, _severity(severity), _status(status)).inc()

    def set_firing(self, model: str, version: str, severity: str, n: int) -> None:
        """The number of alerts of ``(model, version)`` firing now at ``severity``."""
        self._child(self.alerts_firing, model, version, _severity(severity)).set(n)

    def observe_evaluation(self, seconds: float) -> None:
        """The wall time of one evaluation tick (all keys of this worker)."""
        self.evaluation_duration.observe(seconds)

    # --- worker-wide -------------------------------------------------------------------------
    def set_consumer_lag(self, topic: str, partition: int, lag: int) -> None:
        """Events between the committed offset and the end of one assigned partition."""
        self.consumer_lag.labels(topic=topic, partition=str(int(partition))).set(lag)

    def forget_partition(self, topic: str, partition: int) -> None:
        """Drop the lag series of a partition this worker no longer owns (after a rebalance)."""
        try:
            self.consumer_lag.remove(topic, str(int(partition)))
        except KeyError:  # pragma: no cover - older prometheus_client raised on a missing set
            pass

    def set_models(self, n: int) -> None:
        """The number of (model, version) keys this worker holds state for."""
        self.models.set(n)

    def forget(self, model: str, version: str) -> None:
        """Remove every series of ``(model, version)`` (the key left this worker or was retired)."""
        with self._lock:
            series = self._series.pop((model, version), {})
            self._fields.pop((model, version), None)
        for metric, labelvalues in series:
            try:
                metric.remove(*labelvalues)
            except KeyError:  # pragma: no cover - older prometheus_client raised on a missing set
                pass
        self.latency.remove(model, version)

    # --- helpers -----------------------------------------------------------------------------
    def __post_init__(self) -> None:
        self._gauges = {
            mn.PROM_LATENCY_QUANTILE: self.latency_quantile,
            mn.PROM_LATENCY_MEAN: self.latency_mean,
            mn.PROM_THROUGHPUT: self.throughput,
            mn.PROM_ACCURACY: self.accuracy,
            mn.PROM_ANOMALY_RATE: self.anomaly_rate,
            mn.PROM_ANOMALY_SCORE: self.anomaly_score,
        }
        missing = {name for name, _ in mn.SNAPSHOT_TO_PROM.values()} - set(self._gauges)
        if missing:  # a name added to SNAPSHOT_TO_PROM needs a gauge here
            raise RuntimeError(f"no gauge for Prometheus metric(s) {sorted(missing)}")

    def _child(self, metric, model: str, version: str, *rest: str):
        labelvalues = (model, version, *rest)
        children = self._series.get((model, version))
        child = None if children is None else children.get((metric, labelvalues))
        if child is None:
            child = metric.labels(*labelvalues)
            with self._lock:
                self._series.setdefault((model, version), {})[(metric, labelvalues)] = child
        return child

    def _admit_field(self, model: str, version: str, fld: str) -> bool:
        with self._lock:
            fields = self._fields.setdefault((model, version), set())
            if fld in fields:
                return True
            if len(fields) >= MAX_FIELDS_PER_KEY:
                return False
            fields.add(fld)
            return True


def build_metrics(registry: CollectorRegistry) -> WorkerMetrics:
    """Define every Prometheus metric of :mod:`streams.metric_names` in ``registry``."""
    key = ("model", "version")
    latency = LatencyHistogram(mn.PROM_LATENCY, "Prediction latency reported by the model server.",
                               LATENCY_BUCKETS_S)
    registry.register(latency)
    metrics = WorkerMetrics(
        events=Counter(mn.PROM_EVENTS, "Prediction events accepted into a window.", key,
                       registry=registry),
        invalid_events=Counter(mn.PROM_INVALID_EVENTS, "Events rejected by validation.", ("reason",),
                               registry=registry),
        deadletter=Counter(mn.PROM_DEADLETTER, "Records sent to the dead-letter topic.", ("reason",),
                           registry=registry),
        alerts=Counter(mn.PROM_ALERTS, "Alert transitions written to the alert topic.",
                       key + ("severity", "status"), registry=registry),
        alerts_firing=Gauge(mn.PROM_ALERTS_FIRING, "Alerts firing now.", key + ("severity",),
                            registry=registry),
        latency=latency,
        latency_quantile=Gauge(mn.PROM_LATENCY_QUANTILE, "Latency quantile over the window.",
                               key + ("quantile",), registry=registry),
        latency_mean=Gauge(mn.PROM_LATENCY_MEAN, "Mean latency over the window.", key,
                           registry=registry),
        throughput=Gauge(mn.PROM_THROUGHPUT, "Events per second over the window.", key,
                         registry=registry),
        consumer_lag=Gauge(mn.PROM_CONSUMER_LAG, "Events not yet consumed, per assigned partition.",
                           ("topic", "partition"), registry=registry),
        drift_score=Gauge(mn.PROM_DRIFT_SCORE, "Drift statistic of a field against its reference.",
                          key + ("field", "test"), registry=registry),
        drift_detected=Gauge(mn.PROM_DRIFT_DETECTED,
                             "1 when the calibrated drift test rejects the reference, else 0.",
                             key + ("field", "test"), registry=registry),
        anomaly_rate=Gauge(mn.PROM_ANOMALY_RATE, "Share of anomalous events over the window.", key,
                           registry=registry),
        anomaly_score=Gauge(mn.PROM_ANOMALY_SCORE, "Mean anomaly score over the window.", key,
                            registry=registry),
        accuracy=Gauge(mn.PROM_ACCURACY, "Accuracy metric over the window (mae, rmse, r2, mape).",
                       key + ("metric",), registry=registry),
        concept_drift=Counter(mn.PROM_CONCEPT_DRIFT, "Concept-drift detections on the error stream.",
                              key, registry=registry),
        evaluation_duration=Histogram(mn.PROM_EVALUATION_DURATION,
                                      "Wall time of one evaluation tick.",
                                      buckets=EVALUATION_BUCKETS_S, registry=registry),
        last_evaluation=Gauge(mn.PROM_LAST_EVALUATION, "Time of the last evaluation of a key.", key,
                              registry=registry),
        models=Gauge(mn.PROM_MODELS, "(model, version) keys held by this worker.",
                     registry=registry),
    )
    return metrics


def _severity(severity: str) -> str:
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {list(SEVERITIES)}, got {severity!r}")
    return severity


def _status(status: str) -> str:
    if status not in ALERT_STATUSES:
        raise ValueError(f"status must be one of {list(ALERT_STATUSES)}, got {status!r}")
    return status


def _reason(reason: str) -> str:
    if not isinstance(reason, str) or not REASON.match(reason):
        raise ValueError(f"reason must be a short identifier matching {REASON.pattern}, got {reason!r}")
    return reason
