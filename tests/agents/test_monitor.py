"""The monitor core without Kafka: counting, dead letters, feedback join, checkpoints, alerts."""

import msgspec
import numpy as np
import pytest

from agents.monitor import Monitor, MonitorSettings
from detectors.bank import MonitorConfig
from streams import records
from streams.rules import Rule

TOPIC = "predwatch.predictions"


def settings(**kw):
    det = MonitorConfig(window_events=200, reference_size=200, anomaly_detector="none", false_alarm_rate=0.001)
    return MonitorSettings(eval_events=200, eval_interval_s=3600, detectors=det, **kw)


def envelope(rng, n, *, t0, shift=0.0, latency=20.0, version="1.0.0", gt=True, model="tok"):
    evs = []
    for i in range(n):
        p = float(rng.normal(100 + shift, 10))
        evs.append(records.make_event(model=model, version=version, ts=t0 + i * 0.01, latency_ms=float(rng.lognormal(np.log(latency), 0.2)),
                                      prediction=p, ground_truth=p + float(rng.normal(0, 2)) if gt else None,
                                      features={"lang": ["en", "de"][i % 2], "chars": int(rng.integers(10, 400))}))
    return evs, records.encode_batch(evs)


def test_counts_envelopes_and_skips_redelivered_offsets():
    rng = np.random.default_rng(1)
    m = Monitor(settings())
    _, raw = envelope(rng, 300, t0=1000)
    assert m.handle(0, 0, raw, topic=TOPIC).counted == 300
    again = m.handle(0, 0, raw, topic=TOPIC)
    assert again.duplicate and again.counted == 0
    assert m.partitions[0].keys["tok@1.0.0"].events_total == 300


@pytest.mark.parametrize("raw,reason", [
    (b"\xff\xfegarbage", "not_utf8"),
    (b"{not json", "not_json"),
    (b'{"v":3,"batch":[]}', "unsupported_version"),
    (b'{"v":2,"batch":[]}', "invalid_field"),  # v2 is the columnar envelope: no "batch"
    (b'{"v":2,"model":"m","version":"1.0.0","event_id":["a","b"],"ts":[1,2],"latency_ms":[1,-1],"prediction":[1,2]}',
     "invalid_field"),
    (b'{"v":2,"model":"m","version":"1.0.0","event_id":[],"ts":[],"latency_ms":[],"prediction":[]}', "empty_batch"),
    (b'{"v":1,"event_id":"e","model":"m","version":"1.0.0","ts":1,"latency_ms":-5,"prediction":1}', "invalid_field"),
    (None, "not_json"),
    (b'{"v":1,"batch":[' + b" " * (1 << 20) + b"]}", "oversize"),
    (b'{"v":1,"batch":[{"v":1,"event_id":"e","model":"a","version":"1.0.0","ts":1,"latency_ms":1,"prediction":1},'
     b'{"v":1,"event_id":"e","model":"b","version":"1.0.0","ts":1,"latency_ms":1,"prediction":1}]}', "mixed_models"),
])
def test_bad_messages_become_dead_letters_with_reason(raw, reason):
    m = Monitor(settings())
    out = m.handle(3, 17, raw, topic=TOPIC, key=b"m", now=5.0)
    assert out.counted == 0 and len(out.deadletters) == 1
    dl = out.deadletters[0]
    assert (dl.reason, dl.partition, dl.offset, dl.topic) == (reason, 3, 17, TOPIC)
    assert m.partitions[3].invalid == {"m": 1}


def test_feedback_joins_by_event_id_and_unmatched_is_dead_lettered():
    m = Monitor(settings())
    rng = np.random.default_rng(2)
    evs, raw = envelope(rng, 250, t0=1000, gt=False)
    m.handle(0, 0, raw, topic=TOPIC)
    fb = [records.make_event(kind="feedback", model="tok", version="1.0.0", event_id=e.event_id,
                             ground_truth=e.prediction + 1.0, ts=e.ts + 5) for e in evs[:240]]
    fb.append(records.make_event(kind="feedback", model="tok", version="1.0.0", event_id="never-seen", ground_truth=1.0, ts=2000))
    out = m.handle(0, 1, records.encode_batch(fb), topic=TOPIC)
    assert out.counted == 240 and [d.reason for d in out.deadletters] == ["feedback_unmatched"]
    snap, _ = m.evaluate(0, "tok@1.0.0", rules=[])
    assert snap.metrics["mae"] == pytest.approx(1.0)  # the join used the stored predictions
    # a feedback for an already-joined prediction is unmatched (no double counting)
    out = m.handle(0, 2, records.encode(fb[0]), topic=TOPIC)
    assert out.counted == 0 and out.deadletters[0].reason == "feedback_unmatched"


def test_checkpoint_restore_continues_identically():
    rng = np.random.default_rng(3)
    a = Monitor(settings())
    batches = [envelope(rng, 250, t0=1000 + 10 * i)[1] for i in range(6)]
    for off, raw in enumerate(batches[:3]):
        a.handle(0, off, raw, topic=TOPIC)
    b = Monitor(settings())
    b.restore(0, a.checkpoint(0))
    assert b.partitions[0].offset == 2
    for m in (a, b):
        for off, raw in enumerate(batches[3:], start=3):
            m.handle(0, off, raw, topic=TOPIC)
    sa, _ = a.evaluate(0, "tok@1.0.0", rules=[])
    sb, _ = b.evaluate(0, "tok@1.0.0", rules=[])
    assert sa.metrics == sb.metrics and sa.metrics["events_total"] == 1500
    assert b.handle(0, 1, batches[1], topic=TOPIC).duplicate  # restored offset still dedups


def test_latency_regression_fires_and_recovery_resolves():
    rule = Rule.from_dict({"name": "latency-p95", "metric": "latency_p95_ms", "condition": ">", "threshold": 100,
                           "resolve_threshold": 60, "for": "0s", "cooldown": "0s"})
    rng = np.random.default_rng(4)
    m = Monitor(settings())
    m.rules = [rule]
    seen = []
    # one message per phase: the monitor still evaluates every 200 events inside each envelope
    for i, (latency, n) in enumerate([(20, 800), (300, 600), (20, 600)]):
        out = m.handle(0, i, envelope(rng, n, t0=1000 + 10 * i, latency=latency)[1], topic=TOPIC)
        seen += [(i, j, a.status, a.rule) for j, (_, alerts) in enumerate(out.evaluations) for a in alerts]
        assert len(out.evaluations) == n // 200
    assert seen == [(1, 0, "firing", "latency-p95"), (2, 0, "resolved", "latency-p95")]  # window of 200


def test_prediction_shift_raises_drift_alert_naming_test_and_field():
    rule = Rule.from_dict({"name": "drift-ks", "metric": "drift.*.ks_drift", "condition": ">=", "threshold": 1})
    rng = np.random.default_rng(5)
    m = Monitor(settings())
    m.rules = [rule]
    alerts = []
    for i in range(4):
        out = m.handle(0, i, envelope(rng, 200, t0=1000 + 2 * i, shift=0 if i < 2 else 15)[1], topic=TOPIC)
        alerts += [a for _, al in out.evaluations for a in al]
    assert {a.metric for a in alerts} == {"drift.prediction.ks_drift"}
    assert "KS drift on field 'prediction'" in alerts[0].message


def test_versions_of_one_model_are_separate_keys():
    rng = np.random.default_rng(6)
    m = Monitor(settings())
    a, _ = envelope(rng, 10, t0=1000, version="1.0.0")
    b, _ = envelope(rng, 5, t0=1000, version="2.0.0")
    out = m.handle(0, 0, records.encode_batch(a + b), topic=TOPIC)
    assert out.counted == 15
    assert {k: ks.events_total for k, ks in m.partitions[0].keys.items()} == {"tok@1.0.0": 10, "tok@2.0.0": 5}


def test_explicit_reference_from_lookup_is_used():
    from detectors.reference import Reference

    rng = np.random.default_rng(7)
    ref = Reference.from_samples({"prediction": rng.normal(100, 10, 500).tolist()}).to_dict()
    calls = []

    def lookup(model, version):
        calls.append((model, version))
        return ref if version == "1.0.0" else None

    m = Monitor(settings(), reference_for=lookup)
    m.handle(0, 0, envelope(rng, 3, t0=1)[1], topic=TOPIC)
    m.handle(0, 1, envelope(rng, 3, t0=2, version="2.0.0")[1], topic=TOPIC)
    assert calls == [("tok", "1.0.0"), ("tok", "2.0.0")]
    keys = m.partitions[0].keys
    assert keys["tok@1.0.0"].bank.reference_complete  # no warm-up with an explicit reference
    assert not keys["tok@2.0.0"].bank.reference_complete  # built from its first events


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="eval_events"):
        MonitorSettings(eval_events=0)


def test_columns_keep_types_exact():
    from agents.columns import column

    assert column([1, 2.5, 3]).tolist() == [1.0, 2.5, 3.0]
    assert column([1, True]).tolist() == ["1", "true"]  # a boolean makes the column categorical
    assert column(["a", "b"]).dtype == object and column(["a", None]).tolist() == ["a", None]
    assert np.isnan(column([1.0, None])[1])


def test_columnar_envelope_joins_feedback_and_skips_redelivery():
    rng = np.random.default_rng(12)
    m = Monitor(settings())
    evs, _ = envelope(rng, 300, t0=1000, gt=False)
    out = m.handle(0, 0, records.encode_columnar(evs), topic=TOPIC)
    assert out.counted == 300 and out.key == "tok@1.0.0" and len(out.evaluations) == 1  # every 200 events
    assert m.handle(0, 0, records.encode_columnar(evs), topic=TOPIC).duplicate
    fb = [records.make_event(kind="feedback", model="tok", version="1.0.0", event_id=e.event_id,
                             ground_truth=e.prediction + 3.0, ts=e.ts + 5) for e in evs[::3]]
    assert m.handle(0, 1, records.encode_batch(fb), topic=TOPIC).counted == len(fb)
    snap, _ = m.evaluate(0, "tok@1.0.0", rules=[])
    assert snap.metrics["mae"] == pytest.approx(3.0) and snap.metrics["events_total"] == 300


def test_snapshot_window_is_the_evaluated_window():
    rng = np.random.default_rng(8)
    m = Monitor(settings())  # window of 200 events
    out = m.handle(0, 0, envelope(rng, 600, t0=1000)[1], topic=TOPIC)
    last = out.evaluations[-1][0]
    assert last.window.events == 200 and last.window.seconds == pytest.approx(1.99)  # 200 events 10 ms apart
    assert last.metrics["events_total"] == 600


def test_feedback_in_the_same_envelope_joins_the_predictions_before_it():
    m = Monitor(settings())
    rng = np.random.default_rng(9)
    evs, _ = envelope(rng, 3, t0=1000, gt=False)
    fb = records.make_event(kind="feedback", model="tok", version="1.0.0", event_id=evs[1].event_id,
                            ground_truth=1.0, ts=1001)
    early = records.make_event(kind="feedback", model="tok", version="1.0.0", event_id=evs[2].event_id,
                               ground_truth=1.0, ts=1001)
    out = m.handle(0, 0, records.encode_batch([evs[0], evs[1], fb, early, evs[2]]), topic=TOPIC)
    assert out.counted == 4 and [d.reason for d in out.deadletters] == ["feedback_unmatched"]


def test_buffered_parts_give_the_columns_of_all_their_events():
    """The monitor buffers a key's predictions as column parts (one per message or chunk) and
    joins them at flush: that must equal the columns of all those events taken at once, also
    when parts disagree on a feature's keys or kind."""
    from agents.columns import Columns, to_columns

    rng = np.random.default_rng(4)
    kinds = [lambda i: float(i), lambda i: ["a", "b"][i % 2], lambda i: bool(i % 2), lambda i: int(i)]
    events, parts = [], []
    for p in range(12):
        feats = {f"f{k}": kinds[int(rng.integers(0, 4))] for k in rng.choice(5, int(rng.integers(0, 4)), replace=False)}
        part = [records.make_event(model="m", version="1.0.0", ts=1.0 + len(events) + i, latency_ms=1.0, prediction=2.0,
                                   ground_truth=None if i % 3 else 1.5,
                                   features={k: f(i) for k, f in feats.items() if (i + p) % 4})
                for i in range(int(rng.integers(1, 6)))]
        events += part
        parts.append(to_columns(part))
    whole, joined = to_columns(events), Columns.concat(parts)
    for f in ("ts", "latency_ms", "prediction", "ground_truth"):
        np.testing.assert_array_equal(getattr(joined, f), getattr(whole, f))
    assert sorted(joined.features) == sorted(whole.features) and len(whole.features) >= 3
    for k, col in whole.features.items():
        assert joined.features[k].dtype == col.dtype, k
        assert [_missing_as_none(v) for v in joined.features[k].tolist()] == \
               [_missing_as_none(v) for v in col.tolist()], k


def _missing_as_none(v):
    return None if isinstance(v, float) and np.isnan(v) else v


def test_single_events_small_and_large_envelopes_give_identical_metrics():
    """Runs shorter than COLUMNS_FROM are buffered as events, longer ones as columns: the
    windows, the feedback join and every metric must not depend on how events were packed."""
    from agents.monitor import COLUMNS_FROM

    rng = np.random.default_rng(6)
    evs = []
    for i in range(3):
        part, _ = envelope(rng, 250, t0=1000 + 10 * i, gt=i != 1, shift=5.0 * i)
        evs += part
    packings = {"single": [1] * len(evs), "small": [COLUMNS_FROM - 1] * len(evs),
                "mixed": [1, COLUMNS_FROM, 3, 400] * len(evs), "large": [len(evs)],
                # columnar (v2) envelopes, also of one event and mixed with v1 messages
                "columnar": [len(evs)], "columnar-small": [1, 7, COLUMNS_FROM - 1] * len(evs),
                "columnar-mixed": [1, 333, 3, COLUMNS_FROM] * len(evs)}
    snapshots = {}
    for name, sizes in packings.items():
        m = Monitor(settings())
        i = off = 0
        for k, size in enumerate(sizes):
            if i >= len(evs):
                break
            chunk = evs[i:i + size]
            if name.startswith("columnar") and (name != "columnar-mixed" or k % 2):
                raw = records.encode_columnar(chunk)
            else:
                raw = records.encode(chunk[0]) if len(chunk) == 1 else records.encode_batch(chunk)
            assert m.handle(0, off, raw, topic=TOPIC).counted == len(chunk)
            i, off = i + size, off + 1
        fb = [records.make_event(kind="feedback", model="tok", version="1.0.0", event_id=e.event_id,
                                 ground_truth=e.prediction + 2.0, ts=e.ts + 1) for e in evs[250:500:5]]
        assert m.handle(0, off, records.encode_batch(fb), topic=TOPIC).counted == len(fb)
        snapshots[name] = m.evaluate(0, "tok@1.0.0", rules=[])[0].metrics
    assert snapshots["single"]["events_total"] == 750 and "drift.prediction.ks_stat" in snapshots["single"]
    for name in packings:
        assert snapshots[name] == snapshots["single"], name
