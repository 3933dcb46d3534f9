"""The worker end to end on the embedded broker and a real Redis: alerts, no false alarms, restarts.

Each test waits on conditions with a deadline (the worker's /health counters and the output topics).
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from streams.publisher import PredictionPublisher
from streams.settings import Settings
from tests.agents.worker_proc import TopicReader, WorkerProcess

pytestmark = pytest.mark.services
RULES = Path(__file__).with_name("e2e_rules.yaml")


def publish(pub, rng, model, n, *, t0, rate=100.0, latency_ms=20.0, shift=0.0, error=0.02, version="1.0.0"):
    """n events of a token counter: prediction ~ N(100+shift, 10), truth = prediction * (1 + error noise)."""
    lat = rng.lognormal(np.log(latency_ms), 0.25, n)
    pred = rng.normal(100.0 + shift, 10.0, n)
    truth = pred * (1.0 + rng.normal(0.0, error, n))
    lang = rng.choice(["en", "de", "ja"], n, p=[0.6, 0.3, 0.1])
    chars = rng.integers(20, 2000, n)
    for i in range(n):
        pub.track_prediction(model, version, prediction=float(pred[i]), latency_ms=float(lat[i]),
                             ground_truth=float(truth[i]), ts=t0 + i / rate,
                             features={"lang": str(lang[i]), "chars": int(chars[i])})
    return t0 + n / rate


@pytest.fixture(scope="module")
def fleet(kafka_url, kafka_bootstrap, redis_url, tmp_path_factory):
    """One worker watching four models, each driven through a scenario; "drift" is published in
    v1 batch envelopes, the others in columnar (v2) ones, so the worker reads both contracts."""
    prefix = "e2efleet"
    worker = WorkerProcess(kafka_url=kafka_url, redis_url=redis_url, prefix=prefix,
                           state_dir=tmp_path_factory.mktemp("fleet"), rules=RULES).start()
    settings = Settings(kafka=kafka_url, topic_prefix=prefix, partitions=2)
    rng = np.random.default_rng(20261127)
    total = 0
    with PredictionPublisher(settings=settings) as pub, PredictionPublisher(settings=settings, columnar=False) as v1:
        t = publish(pub, rng, "stationary", 20_000, t0=1_800_000_000.0)
        total += 20_000
        t = publish(pub, rng, "latency", 3_000, t0=1_800_000_000.0)
        t = publish(pub, rng, "latency", 3_000, t0=t, latency_ms=600.0)
        publish(pub, rng, "latency", 3_000, t0=t)
        total += 9_000
        t = publish(v1, rng, "drift", 3_000, t0=1_800_000_000.0)
        publish(v1, rng, "drift", 3_000, t0=t, shift=30.0)
        total += 6_000
        t = publish(pub, rng, "accuracy", 3_000, t0=1_800_000_000.0)
        publish(pub, rng, "accuracy", 4_000, t0=t, error=0.6)
        total += 7_000
    worker.wait_for(lambda: worker.health()["counters"]["events_counted"] >= total, 120, f"{total} events counted")
    alerts = TopicReader(kafka_bootstrap, f"{prefix}.alerts")
    yield worker, alerts, total
    alerts.close()
    worker.stop()


def test_every_event_is_counted_and_nothing_dead_lettered(fleet):
    worker, _, total = fleet
    c = worker.health()["counters"]
    assert c["events_counted"] == total and c["deadlettered"] == 0 and c["duplicates_skipped"] == 0


def test_stationary_stream_of_20000_events_raises_no_alert(fleet):
    worker, alerts, _ = fleet
    # the other models' alerts arrive, so the stream has been evaluated to the end
    worker.wait_for(lambda: any(a["model"] == "accuracy" for a in alerts.json()), 60, "accuracy alerts")
    metrics = worker.text("/metrics")
    assert 'monitor_events_total{model="stationary",version="1.0.0"} 20000.0' in metrics
    assert [a for a in alerts.json() if a["model"] == "stationary"] == []


def test_latency_regression_fires_then_resolves(fleet):
    worker, alerts, _ = fleet

    def p95_alerts():
        return [a for a in alerts.json() if a["model"] == "latency" and a["rule"] == "latency-p95"]

    worker.wait_for(lambda: len(p95_alerts()) >= 2, 60, "latency-p95 firing and resolved")
    got = p95_alerts()
    assert [a["status"] for a in got] == ["firing", "resolved"]
    assert got[0]["alert_id"] == got[1]["alert_id"] and got[0]["fingerprint"] == "latency/1.0.0/latency-p95"
    assert got[0]["metric"] == "latency_p95_ms" and got[0]["value"] > 200 and got[1]["value"] < 100
    # the latency change is also seen as drift of the latency_ms field (and only of it)
    drift = {a["metric"] for a in alerts.json() if a["model"] == "latency" and a["rule"].startswith("drift")}
    assert drift <= {"drift.latency_ms.ks_drift"}


def test_prediction_shift_raises_drift_alert_naming_test_and_field(fleet):
    worker, alerts, _ = fleet
    drift = worker.wait_for(lambda: [a for a in alerts.json() if a["model"] == "drift" and a["status"] == "firing"], 60,
                            "drift alert")
    assert {a["metric"] for a in drift} >= {"drift.prediction.ks_drift"}
    ks = next(a for a in drift if a["metric"] == "drift.prediction.ks_drift")
    assert "KS drift on field 'prediction'" in ks["message"]
    # features and latency did not drift (the shift also raises the error level: concept drift may fire)
    assert all(a["metric"].startswith("drift.prediction.") for a in drift if a["rule"].startswith("drift"))


def test_rising_error_raises_accuracy_or_concept_drift_alert(fleet):
    worker, alerts, _ = fleet
    got = worker.wait_for(lambda: {a["rule"] for a in alerts.json() if a["model"] == "accuracy" and a["status"] == "firing"},
                          60, "accuracy alert")
    assert got & {"accuracy-mape", "concept-drift"}
    mape = [a for a in alerts.json() if a["model"] == "accuracy" and a["rule"] == "accuracy-mape"]
    assert mape and mape[0]["severity"] == "critical" and mape[0]["value"] > 0.25


def test_restart_mid_stream_keeps_windows_loses_nothing_and_duplicates_no_alert(kafka_url, kafka_bootstrap, redis_url,
                                                                                 tmp_path):
    prefix = "e2erestart"
    settings = Settings(kafka=kafka_url, topic_prefix=prefix, partitions=2)
    first = WorkerProcess(kafka_url=kafka_url, redis_url=redis_url, prefix=prefix, state_dir=tmp_path, rules=RULES).start()
    rng = np.random.default_rng(7)
    from confluent_kafka import Producer

    raw = Producer({"bootstrap.servers": kafka_bootstrap})
    bad = 0
    with PredictionPublisher(settings=settings, max_batch_events=250) as pub:
        t = publish(pub, rng, "restart", 4_000, t0=1_800_000_000.0)
        t = publish(pub, rng, "restart", 3_000, t0=t, latency_ms=600.0)  # regression spans the restart
        for i in range(10):
            raw.produce(f"{prefix}.predictions", b"\xffnot json %d" % i, key=b"restart")
            bad += 1
        raw.flush(10)
        pub.flush()
        first.wait_for(lambda: first.health()["counters"]["events_counted"] >= 7_000, 60, "first half counted")
        firing_before = TopicReader(kafka_bootstrap, f"{prefix}.alerts")
        first.wait_for(lambda: [a for a in firing_before.json() if a["status"] == "firing"], 30, "firing alert")
        assert first.stop(signal.SIGTERM) == 0
        t = publish(pub, rng, "restart", 2_000, t0=t, latency_ms=600.0)
        t = publish(pub, rng, "restart", 3_000, t0=t)
    second = WorkerProcess(kafka_url=kafka_url, redis_url=redis_url, prefix=prefix, state_dir=tmp_path, rules=RULES).start()
    try:
        snapshots = TopicReader(kafka_bootstrap, f"{prefix}.metrics")
        last = second.wait_for(lambda: [s for s in snapshots.json() if s["metrics"].get("events_total") == 12_000], 90,
                               "final snapshot with 12,000 events")[-1]
        # count in = counted + dead-lettered, exactly
        dead = TopicReader(kafka_bootstrap, f"{prefix}.deadletter")
        second.wait_for(lambda: len({(d["partition"], d["offset"]) for d in dead.json()}) >= bad, 30, "dead letters")
        assert len({(d["partition"], d["offset"]) for d in dead.json()}) == bad
        assert second.health()["counters"]["events_counted"] == 5_000  # the second worker counted only the rest
        # no new warm-up: the first snapshot after the restart already has drift tests and latency
        after = [s for s in snapshots.json() if s["metrics"]["events_total"] > 7_000]
        assert "drift.prediction.ks_stat" in after[0]["metrics"] and "latency_p95_ms" in after[0]["metrics"]
        assert last["metrics"]["events_total"] == 12_000
        # the regression fired once, before the restart, and resolved once after it
        second.wait_for(lambda: [a for a in firing_before.json() if a["status"] == "resolved"], 30, "resolved alert")
        statuses = Counter((a["alert_id"], a["status"]) for a in firing_before.json() if a["rule"] == "latency-p95")
        assert sorted(s for _, s in statuses) == ["firing", "resolved"] and max(statuses.values()) == 1
    finally:
        second.stop()


def test_an_owner_killed_before_its_first_checkpoint_loses_no_event(kafka_url, kafka_bootstrap, redis_url, tmp_path):
    """Faust commits what a worker handled every second; the worker checkpoints its state every
    few seconds.  An owner killed in between leaves the group's committed offsets ahead of its
    checkpoint (here: no checkpoint at all).  The next owner must read from what its state holds
    (the start), not from the committed offsets, or those events are never counted."""
    from confluent_kafka import Consumer, TopicPartition

    from registry.monitoring import CheckpointStore

    prefix = "e2enocheckpoint"
    settings = Settings(kafka=kafka_url, topic_prefix=prefix, partitions=1)
    env = {"PREDWATCH_PARTITIONS": "1"}
    first = WorkerProcess(kafka_url=kafka_url, redis_url=redis_url, prefix=prefix, state_dir=tmp_path, rules=RULES,
                          env=env, checkpoint_interval_s=3600).start()
    rng = np.random.default_rng(11)
    with PredictionPublisher(settings=settings, max_batch_events=250) as pub:
        publish(pub, rng, "killed-early", 3_000, t0=1_800_000_000.0)
    first.wait_for(lambda: first.health()["counters"]["events_counted"] == 3_000, 60, "3,000 events counted")
    group = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"{prefix}-monitor"})
    topic = f"{prefix}.predictions"
    _, end = group.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)
    first.wait_for(lambda: group.committed([TopicPartition(topic, 0)], timeout=5)[0].offset >= end, 30,
                   f"the group's offset committed past all {end} messages")
    group.close()
    assert CheckpointStore(redis_url, prefix=prefix).load(f"{prefix}-monitor", topic, 0) is None
    assert first.stop(signal.SIGKILL) != 0
    second = WorkerProcess(kafka_url=kafka_url, redis_url=redis_url, prefix=prefix, state_dir=tmp_path, rules=RULES,
                           env=env).start()
    try:
        second.wait_for(lambda: second.health()["counters"]["events_counted"] >= 3_000, 60, "3,000 events counted again")
        snapshots = TopicReader(kafka_bootstrap, f"{prefix}.metrics")
        second.wait_for(lambda: [s for s in snapshots.json() if s["metrics"]["events_total"] == 3_000], 30,
                        "a snapshot of all 3,000 events")
        assert second.health()["counters"]["events_counted"] == 3_000
        snapshots.close()
    finally:
        second.stop()


def test_rule_changes_reach_the_running_worker(fleet, kafka_url, redis_url):
    from agents.alerting import AlertManager

    worker, _, _ = fleet
    manager = AlertManager(Settings(kafka=kafka_url, redis=redis_url, topic_prefix="e2efleet"))
    try:
        manager.configure_alert({"name": "hot-reloaded", "metric": "mae", "condition": ">", "threshold": 1e9})
        worker.wait_for(lambda: "hot-reloaded" in worker.health()["rules"], 15, "the new rule in force")
        assert manager.delete("hot-reloaded")
        worker.wait_for(lambda: "hot-reloaded" not in worker.health()["rules"], 15, "the rule removed")
    finally:
        manager.close()


def test_registry_reference_is_used_and_a_new_one_reaches_the_worker(kafka_url, kafka_bootstrap, redis_url, tmp_path):
    from detectors.reference import Reference
    from registry import ModelRegistry

    prefix = "e2eref"
    rng = np.random.default_rng(5)
    reg = ModelRegistry(redis_url, prefix=prefix)
    reg.register_model("refmodel", "1.0.0", {})
    reg.set_reference("refmodel", "1.0.0", Reference.from_samples({"prediction": rng.normal(100, 10, 2000).tolist()}).to_dict())
    worker = WorkerProcess(kafka_url=kafka_url, redis_url=redis_url, prefix=prefix, state_dir=tmp_path, rules=RULES,
                           env={"PREDWATCH_REFERENCE_REFRESH_S": "1"}).start()
    try:
        settings = Settings(kafka=kafka_url, topic_prefix=prefix, partitions=2)
        snapshots = TopicReader(kafka_bootstrap, f"{prefix}.metrics")
        alerts = TopicReader(kafka_bootstrap, f"{prefix}.alerts")
        with PredictionPublisher(settings=settings) as pub:
            t = publish(pub, rng, "refmodel", 500, t0=1_800_000_000.0)
        first = worker.wait_for(lambda: snapshots.json(), 60, "a snapshot")[0]
        # an explicit reference means no warm-up: the first 500 events are already drift-tested
        assert first["metrics"]["events_total"] == 500 and "drift.prediction.ks_stat" in first["metrics"]
        assert first["metrics"]["drift.prediction.ks_drift"] == 0.0
        # a new reference (say, after a promotion) that the stream no longer matches
        reg.set_reference("refmodel", "1.0.0",
                          Reference.from_samples({"prediction": rng.normal(150, 10, 2000).tolist()}).to_dict())
        worker.wait_for(lambda: "reference of refmodel@1.0.0 replaced" in worker.log_path.read_text(), 30,
                        "the new reference installed")
        with PredictionPublisher(settings=settings) as pub:
            publish(pub, rng, "refmodel", 500, t0=t)
        drift = worker.wait_for(lambda: [a for a in alerts.json() if a["metric"] == "drift.prediction.ks_drift"], 60,
                                "drift against the new reference")
        assert drift[0]["status"] == "firing"
    finally:
        worker.stop()
        reg.close()
