"""/health and /ready of a real worker, and a Redis outage it must survive by itself."""

from __future__ import annotations

import numpy as np
import pytest

from streams.embedded import start_redis, stop
from streams.publisher import PredictionPublisher
from streams.settings import Settings
from tests.agents.worker_proc import WorkerProcess

pytestmark = pytest.mark.services


def _publish(settings, n, t0, seed):
    rng = np.random.default_rng(seed)
    with PredictionPublisher(settings=settings) as pub:
        for i in range(n):
            pub.track_prediction("health", "1.0.0", prediction=float(rng.normal(50, 5)),
                                 latency_ms=float(rng.lognormal(3, 0.3)), ts=t0 + i * 0.01)


def test_health_report_and_redis_outage(kafka_url, tmp_path):
    redis = start_redis(tmp_path / "redis", appendonly=True)
    worker = WorkerProcess(kafka_url=kafka_url, redis_url=redis.url, prefix="health", state_dir=tmp_path)
    try:
        worker.start()
        settings = Settings(kafka=kafka_url, topic_prefix="health", partitions=2)
        _publish(settings, 1_200, 1_800_000_000.0, 1)
        worker.wait_for(lambda: worker.health()["counters"]["events_counted"] >= 1_200, 60, "events counted")
        h = worker.health()
        assert h["status"] == "ok" and h["checks"] == {"broker": True, "redis": True, "assignment": True}
        assert h["models"] == 1 and h["version"] and h["memory_rss_bytes"] > 10_000_000
        assert h["last_evaluation_ms"] is not None and h["last_evaluation_ms"] > 0
        assert worker.get("/ready") == (200, {"ready": True, "reasons": []})

        stop(redis)  # Redis goes away: not ready, but alive and still consuming
        code, body = worker.wait_for(lambda: (lambda r: r if r[0] == 503 else None)(worker.get("/ready")), 30,
                                     "/ready to fail")
        assert "redis unreachable" in body["reasons"]
        assert worker.get("/health")[0] == 200
        _publish(settings, 600, 1_800_000_020.0, 2)
        worker.wait_for(lambda: worker.health()["counters"]["events_counted"] >= 1_800, 60, "counting during outage")
        worker.wait_for(lambda: worker.health()["counters"]["checkpoint_errors"] > 0, 30, "a failed checkpoint")

        redis = start_redis(tmp_path / "redis", port=redis.port, appendonly=True)  # it comes back
        worker.wait_for(worker.ready, 30, "/ready again")
        before = worker.health()["counters"]["checkpoints"]
        _publish(settings, 100, 1_800_000_030.0, 3)
        worker.wait_for(lambda: worker.health()["counters"]["checkpoints"] > before, 30, "checkpoints resume")
        assert worker.proc.poll() is None
    finally:
        worker.stop()
        stop(redis)


def test_worker_consumer_long_poll_is_short(kafka_url, redis_url, tmp_path, topic_prefix):
    """The fetch long-poll Faust hard-codes (1,500 ms) is replaced where aiokafka's fetcher reads it.

    aiokafka keeps one fetch in flight per broker, so a long poll on partitions without data
    holds back partitions that have it: with 1,500 ms the worker idled about half the time
    (bench/worker.py).  This guards the override against Faust or aiokafka changing underneath.
    """
    import asyncio

    from agents.app import FETCH_MAX_WAIT_MS, PredwatchWorker

    worker = PredwatchWorker(Settings(kafka=kafka_url, redis=redis_url, topic_prefix=topic_prefix, partitions=2,
                                      state_dir=tmp_path))

    async def started_fetcher_wait() -> int:
        consumer = worker.app.consumer._new_consumer_thread()._create_worker_consumer(worker.app.transport)
        await consumer.start()
        try:
            return consumer._fetcher._fetch_max_wait_ms
        finally:
            await consumer.stop()

    assert FETCH_MAX_WAIT_MS <= 100
    assert asyncio.run(started_fetcher_wait()) == FETCH_MAX_WAIT_MS
