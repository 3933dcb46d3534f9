"""PredictionPublisher and AlertSubscriber against the embedded broker."""

from __future__ import annotations

import json
import time
from collections import defaultdict

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from streams import records
from streams.errors import ContractError
from streams.publisher import PredictionPublisher
from streams.records import Alert
from streams.settings import Settings
from streams.subscriber import AlertSubscriber


def read_all(bootstrap: str, topic: str, expect: int, timeout_s: float = 60.0, raw: bool = False) -> list:
    """Every message of ``topic`` read with a plain consumer, until ``expect`` events or the deadline,
    as (partition, offset, events), with ``raw`` (partition, offset, events, value)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader", "enable.auto.commit": False,
                  "fetch.queue.backoff.ms": 10, "log_level": 3})
    md = c.list_topics(topic, timeout=10)
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in md.topics[topic].partitions])
    out, n, deadline = [], 0, time.monotonic() + timeout_s
    while n < expect and time.monotonic() < deadline:
        msg = c.poll(0.2)
        if msg is None or msg.error():
            continue
        evs = records.decode_message(msg.value())
        assert msg.key() == evs[0].model.encode()
        out.append((msg.partition(), msg.offset(), evs) + ((msg.value(),) if raw else ()))
        n += len(evs)
    # a short extra read proves nothing more (no duplicate) arrives
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        msg = c.poll(0.1)
        if msg is not None and not msg.error():
            out.append((msg.partition(), msg.offset(), records.decode_message(msg.value()))
                       + ((msg.value(),) if raw else ()))
    c.close()
    return out


@pytest.mark.parametrize("columnar", [True, False], ids=["v2-columnar", "v1-envelopes"])
def test_50k_events_arrive_once_in_order(kafka_url, kafka_bootstrap, topic_prefix, columnar):
    settings = Settings(kafka=kafka_url, topic_prefix=topic_prefix, partitions=3)
    models = ["tok-a", "tok-b", "zip-c", "tok-d"]
    sent: dict[str, list[str]] = defaultdict(list)
    failures = []
    with PredictionPublisher(settings=settings, max_batch_events=700, columnar=columnar,
                             on_delivery_error=lambda *a: failures.append(a)) as pub:
        for i in range(50_000):
            model = models[i % 4]
            eid = pub.track_prediction(model, "1.0.0", prediction=float(i), latency_ms=5.0 + i % 7,
                                       features={"lang": "en", "n": i % 13})
            sent[model].append(eid)
        assert pub.flush(30) == 0
        assert pub.stats.events_delivered == 50_000 and pub.stats.events_failed == 0
    got = read_all(kafka_bootstrap, f"{topic_prefix}.predictions", 50_000, raw=True)
    assert {json.loads(value)["v"] for *_, value in got} == {2 if columnar else 1}
    received: dict[str, list[str]] = defaultdict(list)
    for _, _, evs, _ in sorted(got, key=lambda x: (x[0], x[1])):
        for e in evs:
            received[e.model].append(e.event_id)
    assert sum(len(v) for v in received.values()) == 50_000  # 0 lost, 0 duplicated
    assert dict(received) == dict(sent)  # per-model order kept
    assert not failures


def test_single_event_messages_and_feedback(kafka_url, kafka_bootstrap, topic_prefix):
    settings = Settings(kafka=kafka_url, topic_prefix=topic_prefix, partitions=1)
    with PredictionPublisher(settings=settings, envelopes=False) as pub:
        eid = pub.track_prediction("m", "2.0.0", prediction=3.0, latency_ms=1.0, event_id="ev-1", ts=100.0)
        pub.track_feedback("m", "2.0.0", eid, ground_truth=4.0, ts=101.0)
        assert pub.publish_many([{"model": "m", "version": "2.0.0", "ts": 102.0, "latency_ms": 2.0, "prediction": 1.0}]) == 1
    got = read_all(kafka_bootstrap, f"{topic_prefix}.predictions", 3)
    evs = [e for _, _, es in got for e in es]
    assert [len(es) for _, _, es in got] == [1, 1, 1]
    assert [e.kind for e in evs] == ["prediction", "feedback", "prediction"]
    assert evs[1].event_id == "ev-1" and evs[1].ground_truth == 4.0


def test_columnar_envelopes_per_version_with_feedback_after_its_prediction(kafka_url, kafka_bootstrap, topic_prefix):
    """Two versions of one model interleaved, features that come and go, feedback right after its
    prediction: predictions arrive as one columnar envelope per version, decoding to exactly the
    events tracked, and every feedback message comes after the message with its prediction."""
    settings = Settings(kafka=kafka_url, topic_prefix=topic_prefix, partitions=1)
    tracked, feedback = [], {}
    with PredictionPublisher(settings=settings, max_batch_events=50, linger_ms=60_000) as pub:
        for i in range(400):
            version = ["1.0.0", "1.1.0-rc.1"][i % 2]
            features = {k: v for k, v in {"lang": ["en", "de"][i % 2], "chars": i, "flag": i % 3 == 0}.items()
                        if (i // 7 + len(k)) % 3}
            eid = pub.track_prediction("tok", version, prediction=float(i), latency_ms=1.0 + i % 5, ts=1000.0 + i,
                                       ground_truth=float(i) if i % 4 == 0 else None, features=features)
            tracked.append(records.make_event(model="tok", version=version, prediction=float(i), latency_ms=1.0 + i % 5,
                                              ts=1000.0 + i, ground_truth=float(i) if i % 4 == 0 else None,
                                              features=features, event_id=eid))
            if i % 9 == 0:
                pub.track_feedback("tok", version, eid, ground_truth=i + 0.5, ts=1000.5 + i)
                feedback[eid] = i + 0.5
    got = read_all(kafka_bootstrap, f"{topic_prefix}.predictions", 400 + len(feedback), raw=True)
    seen_at, predictions, joined = {}, [], 0
    for _, offset, evs, value in sorted(got, key=lambda x: x[1]):
        if evs[0].kind == "prediction":
            obj = json.loads(value)
            assert obj["v"] == 2 and {e.version for e in evs} == {obj["version"]}
            predictions += evs
            seen_at.update((e.event_id, offset) for e in evs)
        else:
            assert json.loads(value)["v"] == 1
            for e in evs:
                assert seen_at[e.event_id] < offset and e.ground_truth == feedback[e.event_id]
                joined += 1
    assert joined == len(feedback)
    by_id = {e.event_id: e for e in predictions}
    assert len(by_id) == 400 and [by_id[e.event_id] for e in tracked] == tracked
    for version in ("1.0.0", "1.1.0-rc.1"):  # per-version order kept
        assert [e.event_id for e in predictions if e.version == version] == \
               [e.event_id for e in tracked if e.version == version]


def test_columnar_envelope_is_split_when_json_escapes_outgrow_the_estimate(kafka_url, kafka_bootstrap, topic_prefix):
    """Control characters cost six bytes each in JSON: envelopes are halved until they fit."""
    settings = Settings(kafka=kafka_url, topic_prefix=topic_prefix, partitions=1)
    with PredictionPublisher(settings=settings, max_batch_events=5000, linger_ms=60_000) as pub:
        for i in range(3000):
            pub.track_prediction("esc", "1.0.0", prediction=1.0, latency_ms=1.0, ts=1000.0 + i,
                                 features={"text": "\x01" * 250 + f"{i:06d}"})
        assert pub.flush(30) == 0 and pub.stats.events_delivered == 3000
    got = read_all(kafka_bootstrap, f"{topic_prefix}.predictions", 3000, raw=True)
    assert len(got) > 1 and all(len(value) <= 900_000 for *_, value in got)
    texts = [e.features["text"] for _, _, evs, _ in sorted(got, key=lambda x: x[1]) for e in evs]
    assert texts == ["\x01" * 250 + f"{i:06d}" for i in range(3000)]


@pytest.mark.parametrize("columnar", [True, False], ids=["v2-columnar", "v1-envelopes"])
def test_numpy_scalars_are_sent_as_plain_values(kafka_url, kafka_bootstrap, topic_prefix, columnar):
    """Model servers hand over numpy numbers: they must arrive as the values they hold, not fail
    later in the publisher's thread (msgspec cannot encode numpy scalars)."""
    import numpy as np

    settings = Settings(kafka=kafka_url, topic_prefix=topic_prefix, partitions=1)
    with PredictionPublisher(settings=settings, columnar=columnar) as pub:
        for i in range(3):  # the first call takes the thorough path, the next ones the fast path
            pub.track_prediction("np", "1.0.0", prediction=np.float64(1.5 + i), latency_ms=np.float32(2.0),
                                 ground_truth=np.int64(4), ts=np.float64(100.0 + i),
                                 features={"n": np.int64(7), "flag": np.bool_(True), "lang": np.str_("en"),
                                           "x": np.float64(0.25)})
        assert pub.flush(30) == 0 and pub.stats.events_failed == 0
    evs = [e for _, _, es in read_all(kafka_bootstrap, f"{topic_prefix}.predictions", 3) for e in es]
    assert [(e.prediction, e.latency_ms, e.ground_truth, e.ts) for e in evs] == \
           [(1.5 + i, 2.0, 4.0, 100.0 + i) for i in range(3)]
    assert all(e.features == {"n": 7.0, "flag": True, "lang": "en", "x": 0.25} for e in evs)


@pytest.mark.parametrize("kwargs,field", [
    (dict(prediction=float("nan"), latency_ms=1.0), "prediction"),
    (dict(prediction=1.0, latency_ms=float("inf")), "latency_ms"),
    (dict(prediction=1.0, latency_ms=-2.0), "latency_ms"),
    (dict(prediction="7", latency_ms=2.0), "prediction"),
    (dict(prediction=1.0, latency_ms=2.0, features={"x": [1]}), "features.x"),
])
def test_bad_input_raises_and_sends_nothing(kafka_url, kafka_bootstrap, topic_prefix, kwargs, field):
    settings = Settings(kafka=kafka_url, topic_prefix=topic_prefix, partitions=1)
    with PredictionPublisher(settings=settings) as pub:
        with pytest.raises(ContractError) as info:
            pub.track_prediction("m", "1.0.0", **kwargs)
        assert any(f == field for f, _, _ in info.value.problems)
        with pytest.raises(ContractError):
            pub.track_prediction("bad model", "1.0.0", prediction=1.0, latency_ms=1.0)
        with pytest.raises(ContractError) as info:  # publish_many is all or nothing
            pub.publish_many([{"model": "m", "version": "1.0.0", "ts": 1.0, "latency_ms": 1.0, "prediction": 1.0},
                              {"model": "m", "version": "1.0", "ts": 1.0, "latency_ms": 1.0, "prediction": 1.0}])
        assert info.value.problems[0][0] == "events[1].version"
        assert pub.stats.events_accepted == 0 and pub.stats.messages_sent == 0
    assert read_all(kafka_bootstrap, f"{topic_prefix}.predictions", 1, timeout_s=1.0) == []


def test_bad_publisher_parameters_are_named():
    with pytest.raises(ValueError, match="max_batch_events"):
        PredictionPublisher("kafka://127.0.0.1:1", max_batch_events=20_000)


def _alert(i: int, model: str, severity: str, status: str = "firing") -> Alert:
    return Alert(alert_id=f"a{i}", fingerprint=f"{model}/1.0.0/r", status=status, model=model, version="1.0.0",
                 rule="r", metric="mae", value=1.0, threshold=0.5, condition=">", severity=severity, message="m",
                 started_at=1.0, ts=2.0)


def test_alert_subscriber_filters_and_reads_from_beginning_or_new(kafka_url, kafka_bootstrap, topic_prefix):
    settings = Settings(kafka=kafka_url, topic_prefix=topic_prefix, partitions=2)
    topic = f"{topic_prefix}.alerts"
    from streams.topics import ensure_topics

    ensure_topics(settings)
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    for i, (model, sev) in enumerate([("tok-a", "warning"), ("zip", "critical"), ("tok-b", "critical")]):
        a = _alert(i, model, sev)
        p.produce(topic, records.encode(a), key=a.fingerprint.encode())
    p.produce(topic, b"not an alert", key=b"x")
    p.flush(10)
    with AlertSubscriber(settings=settings, from_beginning=True, models=["tok-*"], severities=["critical"]) as sub:
        got = sub.poll(10)
        assert got is not None and got.alert_id == "a2"
        assert sub.poll(1.0) is None
    # only new ones: an old alert is not seen, a new one is
    with AlertSubscriber(settings=settings) as sub:
        assert sub.poll(1.0) is None
        p.produce(topic, records.encode(_alert(9, "zip", "info", "resolved")), key=b"k")
        p.flush(10)
        got = sub.poll(10)
        assert got is not None and got.alert_id == "a9" and got.status == "resolved"


def test_alert_subscriber_in_a_consumer_group_with_a_callback(kafka_url, kafka_bootstrap, topic_prefix):
    import threading

    settings = Settings(kafka=kafka_url, topic_prefix=topic_prefix, partitions=1)
    topic = f"{topic_prefix}.alerts"
    got = []
    stop = threading.Event()
    with AlertSubscriber(settings=settings, group_id=f"{topic_prefix}-oncall", statuses=["firing"],
                         from_beginning=True) as sub:
        p = Producer({"bootstrap.servers": kafka_bootstrap})
        for i, status in enumerate(["firing", "resolved", "firing"]):
            p.produce(topic, records.encode(_alert(i, "tok", "warning", status)), key=b"k")
        p.flush(10)

        def on_alert(alert):
            got.append(alert.alert_id)
            if len(got) == 2:
                stop.set()

        n = sub.run(on_alert, stop=stop, duration_s=60)
    assert n == 2 and got == ["a0", "a2"]
