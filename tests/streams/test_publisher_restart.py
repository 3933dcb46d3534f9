"""The publisher recovers by itself from a broker restart (Tansu keeps nothing: a fresh broker)."""

import time
from pathlib import Path

from streams.embedded import start_broker, stop
from streams.publisher import PredictionPublisher
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.streams.test_publisher import read_all


def test_stuck_idempotent_producer_is_recreated_and_nothing_is_lost(tmp_path):
    broker = start_broker(tmp_path / "b1")
    settings = Settings(kafka=broker.url, partitions=1)
    failures = []
    pub = PredictionPublisher(settings=settings, linger_ms=5, stall_timeout_s=2.0,
                              on_delivery_error=lambda *a: failures.append(a))
    try:
        for i in range(100):
            pub.track_prediction("m", "1.0.0", prediction=float(i), latency_ms=1.0)
        assert pub.flush(10) == 0 and pub.stats.events_delivered == 100
        stop(broker)
        broker = start_broker(tmp_path / "b2", port=broker.port)  # same address, empty broker
        ensure_topics(settings)
        for i in range(100, 250):
            pub.track_prediction("m", "1.0.0", prediction=float(i), latency_ms=1.0)
        assert pub.flush(30) == 0
        assert pub.stats.producer_recreated >= 1 and pub.stats.events_delivered == 250 and not failures
        got = read_all(broker.url[len("kafka://"):], settings.topic("predictions"), 150, timeout_s=20)
        predictions = [e.prediction for _, _, evs in got for e in evs]
        assert sorted(predictions) == [float(i) for i in range(100, 250)]  # once each, after the restart
    finally:
        pub.close(5)
        stop(broker)


def _librdkafka_threads() -> int:
    return sum(1 for t in Path("/proc/self/task").iterdir()
               if (t / "comm").read_text().startswith("rdk:"))


def test_close_ends_librdkafka_threads_so_nothing_reconnects_after_the_broker_is_gone(tmp_path):
    broker = start_broker(tmp_path / "b")
    try:
        before = _librdkafka_threads()
        pub = PredictionPublisher(settings=Settings(kafka=broker.url, partitions=1), linger_ms=5)
        pub.track_prediction("m", "1.0.0", prediction=1.0, latency_ms=1.0)
        assert pub.flush(10) == 0
        assert _librdkafka_threads() > before
        pub.close(5)
        assert pub.flush(1) == 0  # closed: nothing buffered, nothing to wait for
        deadline = time.monotonic() + 10
        while _librdkafka_threads() > before:  # left alive they would log 'Connect ... failed' once the broker stops
            assert time.monotonic() < deadline, "librdkafka threads still running after close()"
            time.sleep(0.05)
    finally:
        stop(broker)
