"""Fixtures for the dashboard tests.

``metrics_target`` yields ``(host_port, model, version)`` of a real ``predwatch worker`` (on the
session's embedded broker and Redis) serving its Prometheus metrics on ``http://host_port/metrics``,
while a thread keeps publishing two models' predictions to it: ``tok-counter@1.0.0``, whose
``lang`` feature drifts after its reference was taken (a ``de`` the reference never saw) and
whose latency makes the ``latency-alert`` rule fire, and ``text-compressor@0.3.1``.  A few
malformed messages are sent too, so invalid-event and dead-letter series exist.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from streams.publisher import PredictionPublisher
from streams.settings import Settings
from tests.agents.worker_proc import WorkerProcess

MODEL, VERSION = "tok-counter", "1.0.0"
OTHER_MODEL = ("text-compressor", "0.3.1")
PREFIX = "dashboards"
RULES = """rules:
  - name: latency-alert
    metric: latency_p50_ms
    condition: ">"
    threshold: 10
    severity: warning
  - name: drift-chi2
    metric: "drift.*.chi2_drift"
    condition: ">="
    threshold: 1
    severity: warning
"""


def _feed(settings: Settings, stop: threading.Event, kafka_bootstrap: str) -> None:
    from confluent_kafka import Producer

    rng = np.random.default_rng(11)
    raw = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(3):
        raw.produce(f"{PREFIX}.predictions", b"not json %d" % i, key=MODEL.encode())
    raw.flush(10)
    sent = 0
    with PredictionPublisher(settings=settings, linger_ms=20) as pub:
        start = time.monotonic()
        while not stop.is_set():
            target = int((time.monotonic() - start) * 2000)  # 2,000 events/s
            for _ in range(max(0, target - sent)):
                model, version = (MODEL, VERSION) if sent % 2 == 0 else OTHER_MODEL
                langs = ["en", "fr"] if sent < 2_400 else ["en", "fr", "de"]  # de: after the reference
                pred = float(rng.normal(120, 15))
                pub.track_prediction(model, version, prediction=pred, latency_ms=float(rng.lognormal(np.log(40), 0.5)),
                                     ground_truth=pred * float(1 + rng.normal(0, 0.05)),
                                     features={"lang": str(rng.choice(langs)), "n_chars": int(rng.integers(20, 3000))})
                sent += 1
            time.sleep(0.01)


@pytest.fixture(scope="session")
def metrics_target(kafka_url, kafka_bootstrap, redis_url, tmp_path_factory):
    state = tmp_path_factory.mktemp("dashboards")
    rules = Path(state) / "rules.yaml"
    rules.write_text(RULES)
    worker = WorkerProcess(kafka_url=kafka_url, redis_url=redis_url, prefix=PREFIX, state_dir=state, rules=rules,
                           env={"PREDWATCH_EVAL_INTERVAL_S": "1", "PREDWATCH_EVAL_EVENTS": "500",
                                "PREDWATCH_WINDOW_EVENTS": "1000"}).start()
    settings = Settings(kafka=kafka_url, topic_prefix=PREFIX, partitions=2)
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(settings, stop, kafka_bootstrap), daemon=True)
    feeder.start()
    try:
        # every kind of series exists before Prometheus starts scraping: drift, accuracy, anomaly, alerts
        worker.wait_for(lambda: all(s in worker.text("/metrics") for s in (
            f'monitor_drift_detected{{field="lang",model="{MODEL}",test="chi2",version="{VERSION}"}} 1.0',
            "monitor_anomaly_rate_ratio{", "monitor_alerts_total{", "monitor_accuracy{",
            "monitor_invalid_events_total{")), 120, "all series on /metrics")
        yield f"127.0.0.1:{worker.port}", MODEL, VERSION
    finally:
        stop.set()
        feeder.join(30)
        worker.stop()
