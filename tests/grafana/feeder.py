"""A stand-in metrics target: a registry built by ``build_metrics``, fed realistic snapshots.

``feed(metrics, model, version, tick, rng)`` is one evaluation tick of a worker; tests call it
directly.  Run as a script it serves the registry on a free loopback port, prints ``PORT <n>``,
feeds a tick every ``--interval`` seconds and exits when its stdin closes (its parent is gone)::

    python -m tests.grafana.feeder --model tok-counter --version 1.0.0
"""

from __future__ import annotations

import argparse
import sys
import threading

import numpy as np

from streams import metric_names as mn

NUMERIC_FIELDS = ("prediction", "latency_ms", "n_chars")
CATEGORICAL_FIELDS = ("lang",)
OTHER_MODEL = ("text-compressor", "0.3.1")


def feed(metrics, model: str, version: str, tick: int, rng: np.random.Generator) -> None:
    """One worker evaluation tick for ``(model, version)``: events, latencies, a full snapshot."""
    latency_ms = rng.lognormal(np.log(40.0), 0.6, 500)
    metrics.observe_latencies(model, version, latency_ms)
    metrics.count_events(model, version, latency_ms.size)
    p50, p95, p99 = np.percentile(latency_ms, [50, 95, 99])
    snapshot = {
        mn.LATENCY_P50_MS: p50, mn.LATENCY_P95_MS: p95, mn.LATENCY_P99_MS: p99,
        mn.LATENCY_MEAN_MS: float(latency_ms.mean()), mn.LATENCY_MAX_MS: float(latency_ms.max()),
        mn.THROUGHPUT_EPS: 480.0 + rng.normal(0, 10), mn.EVENTS_TOTAL: 500.0 * (tick + 1),
        mn.MAE: 1.8 + rng.normal(0, 0.1), mn.RMSE: 2.6 + rng.normal(0, 0.1), mn.R2: 0.93,
        mn.MAPE: 0.04 + abs(rng.normal(0, 0.01)),
        mn.ANOMALY_SCORE: 0.3 + abs(rng.normal(0, 0.05)), mn.ANOMALY_RATE: 0.01,
        mn.CONCEPT_DRIFT_ERROR: 0.05, mn.CONCEPT_DRIFT_DETECTED: 1.0 if tick % 5 == 2 else 0.0,
    }
    for field in NUMERIC_FIELDS:
        snapshot[mn.drift_metric(field, "ks_stat")] = 0.03 + abs(rng.normal(0, 0.01))
        snapshot[mn.drift_metric(field, "ks_pvalue")] = 0.6
        snapshot[mn.drift_metric(field, "psi")] = 0.02 + abs(rng.normal(0, 0.005))
        snapshot[mn.drift_metric(field, "zscore")] = rng.normal(0, 1)
        for test in ("ks", "psi", "zscore"):
            snapshot[mn.drift_metric(field, f"{test}_drift")] = 0.0
    for field in CATEGORICAL_FIELDS:  # this one drifted: the reference had no "de"
        snapshot[mn.drift_metric(field, "chi2_pvalue")] = 1e-6
        snapshot[mn.drift_metric(field, "psi")] = 0.4
        snapshot[mn.drift_metric(field, "chi2_drift")] = 1.0
        snapshot[mn.drift_metric(field, "psi_drift")] = 1.0
    metrics.record_snapshot(model, version, snapshot)
    if tick == 0:
        metrics.count_alert(model, version, "warning", "firing")
    metrics.set_firing(model, version, "warning", 2)
    metrics.set_firing(model, version, "critical", 0)
    metrics.count_invalid("schema", int(rng.integers(0, 3)))
    metrics.count_deadletter("schema", int(rng.integers(0, 3)))
    for partition, lag in enumerate(rng.integers(0, 200, 2)):
        metrics.set_consumer_lag("predwatch.predictions", partition, int(lag))
    metrics.observe_evaluation(0.002 + abs(rng.normal(0, 0.001)))


def feed_all(metrics, model: str, version: str, tick: int, rng: np.random.Generator) -> None:
    feed(metrics, model, version, tick, rng)
    feed(metrics, *OTHER_MODEL, tick, rng)
    metrics.set_models(2)


def main(argv: list[str] | None = None) -> int:
    from prometheus_client import CollectorRegistry, start_http_server

    from agents.metrics import build_metrics

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tok-counter")
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--interval", type=float, default=0.25)
    args = parser.parse_args(argv)

    registry = CollectorRegistry()
    metrics = build_metrics(registry)
    rng = np.random.default_rng(7)
    feed_all(metrics, args.model, args.version, 0, rng)
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    print(f"PORT {server.server_port}", flush=True)

    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    tick = 1
    while not stop.wait(args.interval):
        feed_all(metrics, args.model, args.version, tick, rng)
        tick += 1
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
