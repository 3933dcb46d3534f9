"""Metric names: the one place rules, the worker, Prometheus and dashboards take them from.

Two families live here.

*Snapshot metrics* are the keys of ``MetricSnapshot.metrics`` (DESIGN.md, "Metric names"): what
alert rules refer to.  Per-field drift metrics are built with :func:`drift_metric`.

*Prometheus metrics* are what a worker exports on ``/metrics`` and what dashboards query.  Names
follow ``monitor_<what>_<unit>`` with base units; counters end in ``_total``.  Labels come from
small closed sets: ``model``, ``version``, ``field`` (prediction, latency_ms or a feature name; at
most 64 per model), ``test`` (:data:`DRIFT_TESTS`), ``quantile`` (:data:`LATENCY_QUANTILES`),
``metric`` (:data:`ACCURACY_METRICS`), ``severity``, ``status``, ``reason``.

Examples
--------
>>> drift_metric("prediction", "psi")
'drift.prediction.psi'
>>> parse_drift_metric("drift.country.chi2_pvalue")
('country', 'chi2_pvalue')
"""

from __future__ import annotations

# --- snapshot metrics (MetricSnapshot.metrics keys) -------------------------------------------
LATENCY_P50_MS = "latency_p50_ms"
LATENCY_P95_MS = "latency_p95_ms"
LATENCY_P99_MS = "latency_p99_ms"
LATENCY_MEAN_MS = "latency_mean_ms"
LATENCY_MAX_MS = "latency_max_ms"
THROUGHPUT_EPS = "throughput_eps"
EVENTS_TOTAL = "events_total"
INVALID_EVENTS_TOTAL = "invalid_events_total"
MAE = "mae"
RMSE = "rmse"
R2 = "r2"
MAPE = "mape"
ANOMALY_SCORE = "anomaly.score"
ANOMALY_RATE = "anomaly.rate"
CONCEPT_DRIFT_ERROR = "concept_drift.error"
CONCEPT_DRIFT_DETECTED = "concept_drift.detected"
"""1.0 in the snapshot right after a (debounced) concept-drift detection on the error stream."""

#: Drift statistics per field: ``drift.<field>.<name>``.
DRIFT_STATS = ("ks_stat", "ks_pvalue", "psi", "chi2_pvalue", "zscore")
#: Verdicts (1.0 / 0.0) of the calibrated, multiple-testing corrected drift tests per field:
#: ``drift.<field>.<test>_drift``.  Default drift rules refer to these.
DRIFT_TESTS = ("ks", "psi", "chi2", "zscore")
DRIFT_VERDICTS = tuple(f"{t}_drift" for t in DRIFT_TESTS)

ACCURACY_METRICS = (MAE, RMSE, R2, MAPE)
LATENCY_QUANTILES = {"0.5": LATENCY_P50_MS, "0.95": LATENCY_P95_MS, "0.99": LATENCY_P99_MS}


def drift_metric(field: str, stat: str) -> str:
    """The snapshot metric name of one drift statistic or verdict of one field."""
    if stat not in DRIFT_STATS and stat not in DRIFT_VERDICTS:
        raise ValueError(f"stat must be one of {DRIFT_STATS + DRIFT_VERDICTS}, got {stat!r}")
    return f"drift.{field}.{stat}"


def parse_drift_metric(name: str) -> tuple[str, str] | None:
    """``(field, stat)`` of a drift metric name, or None when ``name`` is not one."""
    if not name.startswith("drift."):
        return None
    field, _, stat = name[len("drift."):].rpartition(".")
    if not field or (stat not in DRIFT_STATS and stat not in DRIFT_VERDICTS):
        return None
    return field, stat


# --- Prometheus metrics (exported by the worker, queried by dashboards) ------------------------
PROM_EVENTS = "monitor_events_total"  # counter{model,version}
PROM_INVALID_EVENTS = "monitor_invalid_events_total"  # counter{reason}
PROM_ALERTS = "monitor_alerts_total"  # counter{model,version,severity,status}
PROM_ALERTS_FIRING = "monitor_alerts_firing"  # gauge{model,version,severity}
PROM_LATENCY = "monitor_latency_seconds"  # histogram{model,version}
PROM_LATENCY_QUANTILE = "monitor_latency_quantile_seconds"  # gauge{model,version,quantile}
PROM_LATENCY_MEAN = "monitor_latency_mean_seconds"  # gauge{model,version}
PROM_THROUGHPUT = "monitor_throughput_events_per_second"  # gauge{model,version}
PROM_CONSUMER_LAG = "monitor_consumer_lag_events"  # gauge{topic,partition}
PROM_DRIFT_SCORE = "monitor_drift_score"  # gauge{model,version,field,test}  test in DRIFT_STATS
PROM_DRIFT_DETECTED = "monitor_drift_detected"  # gauge{model,version,field,test} test in DRIFT_TESTS
PROM_ANOMALY_RATE = "monitor_anomaly_rate_ratio"  # gauge{model,version}
PROM_ANOMALY_SCORE = "monitor_anomaly_score"  # gauge{model,version}
PROM_ACCURACY = "monitor_accuracy"  # gauge{model,version,metric}  metric in ACCURACY_METRICS
PROM_CONCEPT_DRIFT = "monitor_concept_drift_detections_total"  # counter{model,version}
PROM_EVALUATION_DURATION = "monitor_evaluation_duration_seconds"  # histogram (no labels)
PROM_LAST_EVALUATION = "monitor_last_evaluation_timestamp_seconds"  # gauge{model,version}
PROM_DEADLETTER = "monitor_deadletter_total"  # counter{reason}
PROM_MODELS = "monitor_models"  # gauge: (model, version) keys held by this worker

#: Snapshot metric -> (Prometheus name, extra labels) for the per-key gauges.  Used by the worker
#: to export and by the Prometheus rule generator to translate rules.
SNAPSHOT_TO_PROM: dict[str, tuple[str, dict[str, str]]] = {
    LATENCY_P50_MS: (PROM_LATENCY_QUANTILE, {"quantile": "0.5"}),
    LATENCY_P95_MS: (PROM_LATENCY_QUANTILE, {"quantile": "0.95"}),
    LATENCY_P99_MS: (PROM_LATENCY_QUANTILE, {"quantile": "0.99"}),
    LATENCY_MEAN_MS: (PROM_LATENCY_MEAN, {}),
    THROUGHPUT_EPS: (PROM_THROUGHPUT, {}),
    MAE: (PROM_ACCURACY, {"metric": MAE}),
    RMSE: (PROM_ACCURACY, {"metric": RMSE}),
    R2: (PROM_ACCURACY, {"metric": R2}),
    MAPE: (PROM_ACCURACY, {"metric": MAPE}),
    ANOMALY_RATE: (PROM_ANOMALY_RATE, {}),
    ANOMALY_SCORE: (PROM_ANOMALY_SCORE, {}),
}
#: Snapshot metrics in milliseconds exported in seconds (the value is divided by 1000).
MS_METRICS = frozenset({LATENCY_P50_MS, LATENCY_P95_MS, LATENCY_P99_MS, LATENCY_MEAN_MS, LATENCY_MAX_MS})
