"""agents.metrics: every Prometheus name exists, values land under the right labels and units."""

from __future__ import annotations

import time

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agents.metrics import LATENCY_BUCKETS_S, MAX_FIELDS_PER_KEY, build_metrics
from streams import metric_names as mn

M, V = "tok-counter", "1.2.0"
KEY = {"model": M, "version": V}


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry):
    return build_metrics(registry)


def exported_names(registry) -> set[str]:
    return {s.name for fam in text_string_to_metric_families(generate_latest(registry).decode())
            for s in fam.samples}


def feed_everything(m) -> None:
    m.observe_latencies(M, V, np.array([5.0, 50.0, 500.0]))
    m.count_events(M, V, 3)
    m.count_invalid("schema")
    m.count_deadletter("schema")
    m.record_snapshot(M, V, {
        mn.LATENCY_P50_MS: 50.0, mn.LATENCY_P95_MS: 450.0, mn.LATENCY_P99_MS: 495.0,
        mn.LATENCY_MEAN_MS: 185.0, mn.THROUGHPUT_EPS: 120.0, mn.MAE: 1.5, mn.RMSE: 2.0, mn.R2: 0.9,
        mn.MAPE: 0.05, mn.ANOMALY_RATE: 0.01, mn.ANOMALY_SCORE: 0.3,
        mn.drift_metric("prediction", "psi"): 0.02, mn.drift_metric("prediction", "ks_drift"): 0.0,
        mn.CONCEPT_DRIFT_DETECTED: 1.0,
    })
    m.count_alert(M, V, "warning", "firing")
    m.set_firing(M, V, "warning", 1)
    m.set_consumer_lag("predwatch.predictions", 3, 42)
    m.observe_evaluation(0.004)
    m.set_models(1)


def test_every_prometheus_name_is_exported(registry, metrics):
    feed_everything(metrics)
    names = exported_names(registry)
    prom = {v for k, v in vars(mn).items() if k.startswith("PROM_")}
    histograms = {mn.PROM_LATENCY, mn.PROM_EVALUATION_DURATION}
    for name in prom - histograms:
        assert name in names, f"{name} not exported"
    for name in histograms:
        assert {f"{name}_bucket", f"{name}_sum", f"{name}_count"} <= names


def test_latency_histogram_matches_prometheus_client_observe(registry, metrics):
    rng = np.random.default_rng(7)
    latency_ms = np.concatenate([rng.lognormal(3.0, 1.5, 997), [1.0, 2000.0, 120_000.0]])
    metrics.observe_latencies(M, V, latency_ms[:500])
    metrics.observe_latencies(M, V, latency_ms[500:])

    reference_registry = CollectorRegistry()
    reference = Histogram(mn.PROM_LATENCY, "ref", ("model", "version"), buckets=LATENCY_BUCKETS_S,
                          registry=reference_registry)
    for x in latency_ms:
        reference.labels(M, V).observe(x / 1000.0)
    for le in [*map(str, LATENCY_BUCKETS_S), "+Inf"]:
        got = registry.get_sample_value(f"{mn.PROM_LATENCY}_bucket", {**KEY, "le": le})
        want = reference_registry.get_sample_value(f"{mn.PROM_LATENCY}_bucket", {**KEY, "le": le})
        assert got == want, le
    assert registry.get_sample_value(f"{mn.PROM_LATENCY}_count", KEY) == 1000
    assert registry.get_sample_value(f"{mn.PROM_LATENCY}_sum", KEY) == pytest.approx(
        latency_ms.sum() / 1000.0)


def test_value_on_a_bound_is_counted_in_that_bucket(registry, metrics):
    metrics.observe_latencies(M, V, np.array([1.0, 1.0000001, 2000.0]))  # ms: 0.001 s is a bound
    assert registry.get_sample_value(f"{mn.PROM_LATENCY}_bucket", {**KEY, "le": "0.001"}) == 1
    assert registry.get_sample_value(f"{mn.PROM_LATENCY}_bucket", {**KEY, "le": "0.0025"}) == 2
    assert registry.get_sample_value(f"{mn.PROM_LATENCY}_bucket", {**KEY, "le": "1.0"}) == 2
    assert registry.get_sample_value(f"{mn.PROM_LATENCY}_bucket", {**KEY, "le": "2.0"}) == 3


def test_latency_histogram_ignores_non_finite_and_empty(registry, metrics):
    metrics.observe_latencies(M, V, np.array([]))
    assert registry.get_sample_value(f"{mn.PROM_LATENCY}_count", KEY) is None
    metrics.observe_latencies(M, V, np.array([10.0, np.nan, np.inf]))
    assert registry.get_sample_value(f"{mn.PROM_LATENCY}_count", KEY) == 1
    assert registry.get_sample_value(f"{mn.PROM_LATENCY}_sum", KEY) == pytest.approx(0.01)


def test_observe_latencies_matches_prometheus_histogram(registry, metrics):
    """The vectorised binning gives the same buckets as prometheus_client's own Histogram
    (its speed is measured in bench/worker.py, not asserted here)."""
    values = np.random.default_rng(1).lognormal(3.0, 1.0, 1000)
    ref_registry = CollectorRegistry()
    reference = Histogram("ref_seconds", "ref", ("model", "version"), buckets=LATENCY_BUCKETS_S,
                          registry=ref_registry).labels(M, V)
    metrics.observe_latencies(M, V, values)
    for x in values:
        reference.observe(x / 1000.0)
    for le in LATENCY_BUCKETS_S:
        bound = {"le": f"{le}"} if le != float("inf") else {"le": "+Inf"}
        ours = registry.get_sample_value(f"{mn.PROM_LATENCY}_bucket", {**KEY, **bound})
        theirs = ref_registry.get_sample_value("ref_seconds_bucket", {"model": M, "version": V, **bound})
        assert ours == theirs, le


def test_record_snapshot_units_and_labels(registry, metrics):
    metrics.record_snapshot(M, V, {
        mn.LATENCY_P50_MS: 20.0, mn.LATENCY_P95_MS: 2500.0, mn.LATENCY_P99_MS: 4000.0,
        mn.LATENCY_MEAN_MS: 30.0, mn.THROUGHPUT_EPS: 900.0, mn.R2: 0.75, mn.MAPE: 0.3,
        mn.ANOMALY_RATE: 0.2, mn.ANOMALY_SCORE: 0.6,
        mn.drift_metric("country", "chi2_pvalue"): 0.001, mn.drift_metric("country", "chi2_drift"): 1.0,
        mn.drift_metric("latency_ms", "ks_stat"): 0.4,
        mn.EVENTS_TOTAL: 1000.0, mn.CONCEPT_DRIFT_ERROR: None, "not.a.metric": 3.0,
    }, ts=1_700_000_000.0)
    get = registry.get_sample_value
    assert get(mn.PROM_LATENCY_QUANTILE, {**KEY, "quantile": "0.5"}) == pytest.approx(0.02)
    assert get(mn.PROM_LATENCY_QUANTILE, {**KEY, "quantile": "0.95"}) == pytest.approx(2.5)
    assert get(mn.PROM_LATENCY_QUANTILE, {**KEY, "quantile": "0.99"}) == pytest.approx(4.0)
    assert get(mn.PROM_LATENCY_MEAN, KEY) == pytest.approx(0.03)
    assert get(mn.PROM_THROUGHPUT, KEY) == 900.0
    assert get(mn.PROM_ACCURACY, {**KEY, "metric": "r2"}) == 0.75
    assert get(mn.PROM_ACCURACY, {**KEY, "metric": "mape"}) == 0.3
    assert get(mn.PROM_ACCURACY, {**KEY, "metric": "mae"}) is None
    assert get(mn.PROM_ANOMALY_RATE, KEY) == 0.2
    assert get(mn.PROM_ANOMALY_SCORE, KEY) == 0.6
    assert get(mn.PROM_DRIFT_SCORE, {**KEY, "field": "country", "test": "chi2_pvalue"}) == 0.001
    assert get(mn.PROM_DRIFT_SCORE, {**KEY, "field": "latency_ms", "test": "ks_stat"}) == 0.4
    assert get(mn.PROM_DRIFT_DETECTED, {**KEY, "field": "country", "test": "chi2"}) == 1.0
    assert get(mn.PROM_LAST_EVALUATION, KEY) == 1_700_000_000.0
    # no concept-drift key in the snapshot: the counter is not created
    assert get(mn.PROM_CONCEPT_DRIFT, KEY) is None
    names = exported_names(registry)
    assert not any("not" in n or n.startswith("events") for n in names), names


def test_concept_drift_detection_counts_once_per_snapshot(registry, metrics):
    metrics.record_snapshot(M, V, {mn.CONCEPT_DRIFT_DETECTED: 0.0})
    assert registry.get_sample_value(mn.PROM_CONCEPT_DRIFT, KEY) == 0.0
    metrics.record_snapshot(M, V, {mn.CONCEPT_DRIFT_DETECTED: 1.0})
    metrics.record_snapshot(M, V, {mn.CONCEPT_DRIFT_DETECTED: 0.0})
    metrics.record_snapshot(M, V, {mn.CONCEPT_DRIFT_DETECTED: 1.0})
    assert registry.get_sample_value(mn.PROM_CONCEPT_DRIFT, KEY) == 2.0


def test_counters_and_gauges(registry, metrics):
    metrics.count_events(M, V, 1000)
    metrics.count_events(M, V, 24)
    metrics.count_invalid("schema", 3)
    metrics.count_deadletter("unknown_version")
    metrics.count_alert(M, V, "critical", "firing")
    metrics.count_alert(M, V, "critical", "resolved")
    metrics.set_firing(M, V, "critical", 2)
    metrics.set_consumer_lag("predwatch.predictions", 0, 17)
    metrics.observe_evaluation(0.003)
    metrics.set_models(4)
    get = registry.get_sample_value
    assert get(mn.PROM_EVENTS, KEY) == 1024
    assert get(mn.PROM_INVALID_EVENTS, {"reason": "schema"}) == 3
    assert get(mn.PROM_DEADLETTER, {"reason": "unknown_version"}) == 1
    assert get(mn.PROM_ALERTS, {**KEY, "severity": "critical", "status": "resolved"}) == 1
    assert get(mn.PROM_ALERTS_FIRING, {**KEY, "severity": "critical"}) == 2
    assert get(mn.PROM_CONSUMER_LAG, {"topic": "predwatch.predictions", "partition": "0"}) == 17
    assert get(f"{mn.PROM_EVALUATION_DURATION}_count", {}) == 1
    assert get(mn.PROM_MODELS, {}) == 4
    metrics.forget_partition("predwatch.predictions", 0)
    assert get(mn.PROM_CONSUMER_LAG, {"topic": "predwatch.predictions", "partition": "0"}) is None


@pytest.mark.parametrize("call", [
    lambda m: m.count_alert(M, V, "fatal", "firing"),
    lambda m: m.count_alert(M, V, "warning", "pending"),
    lambda m: m.set_firing(M, V, "urgent", 1),
    lambda m: m.count_invalid("Traceback (most recent call last): ..."),
    lambda m: m.count_deadletter(""),
    lambda m: m.count_events(M, V, -1),
])
def test_open_label_values_are_rejected(metrics, call):
    with pytest.raises(ValueError):
        call(metrics)


def test_forget_removes_only_that_key(registry, metrics):
    feed_everything(metrics)
    metrics.observe_latencies("other", "2.0.0", np.array([1.0]))
    metrics.count_events("other", "2.0.0", 1)
    metrics.forget(M, V)
    text = generate_latest(registry).decode()
    assert f'model="{M}"' not in text
    assert 'model="other"' in text
    assert registry.get_sample_value(mn.PROM_EVENTS, {"model": "other", "version": "2.0.0"}) == 1
    # worker-wide series stay
    assert registry.get_sample_value(mn.PROM_MODELS, {}) == 1
    # the key can come back
    metrics.count_events(M, V, 5)
    assert registry.get_sample_value(mn.PROM_EVENTS, KEY) == 5


def test_drift_fields_per_key_are_capped(registry, metrics):
    snapshot = {mn.drift_metric(f"f{i}", "psi"): 0.1 for i in range(MAX_FIELDS_PER_KEY + 10)}
    metrics.record_snapshot(M, V, snapshot)
    fields = {s.labels["field"] for fam in registry.collect() if fam.name == mn.PROM_DRIFT_SCORE
              for s in fam.samples}
    assert len(fields) == MAX_FIELDS_PER_KEY
    # another key has its own budget
    metrics.record_snapshot("other", V, {mn.drift_metric("f0", "psi"): 0.1})
    assert registry.get_sample_value(mn.PROM_DRIFT_SCORE,
                                     {"model": "other", "version": V, "field": "f0", "test": "psi"}) == 0.1
