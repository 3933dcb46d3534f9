"""The v1 records: round trips and rejection of malformed input (property tests)."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams import records
from streams.errors import ContractError
from streams.records import Alert, DeadLetter, MetricSnapshot, PredictionEvent, WindowInfo

names = st.from_regex(r"[A-Za-z0-9._-]{1,40}", fullmatch=True)
versions = st.builds(lambda a, b, c, pre: f"{a}.{b}.{c}" + (f"-{pre}" if pre else ""),
                     st.integers(0, 99), st.integers(0, 99), st.integers(0, 999),
                     st.sampled_from(["", "rc.1", "alpha", "beta.2"]))
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
feature_values = st.one_of(finite, st.text(max_size=30), st.booleans(), st.integers(-10**6, 10**6))
events = st.builds(
    lambda model, version, ts, lat, pred, gt, feats: records.make_event(
        model=model, version=version, ts=ts, latency_ms=lat, prediction=pred, ground_truth=gt, features=feats),
    names, versions, st.floats(1.0, 4e9), st.floats(0, 1e6), finite, st.one_of(st.none(), finite),
    st.dictionaries(names, feature_values, max_size=8),
)


@given(events)
@settings(max_examples=200, deadline=None)
def test_event_round_trips(event):
    assert records.decode_event(records.encode(event)) == event


@given(st.lists(events, min_size=1, max_size=20))
@settings(max_examples=50, deadline=None)
def test_envelope_round_trips_when_one_model(evs):
    evs = [msgspec.structs.replace(e, model=evs[0].model) for e in evs]
    assert records.decode_message(records.encode_batch(evs)) == evs


def test_feedback_round_trips_and_has_no_latency():
    fb = records.make_event(kind="feedback", model="tok", version="1.0.0", event_id="e1", ts=5.0, ground_truth=3.0)
    raw = records.encode(fb)
    assert b"latency_ms" not in raw and b"prediction" not in raw
    assert records.decode_event(raw) == fb


def test_other_records_round_trip():
    snap = MetricSnapshot(model="m", version="1.0.0", ts=1.0, window=WindowInfo(events=10, seconds=2.5),
                          metrics={"latency_p95_ms": 12.0})
    assert records.decode_snapshot(records.encode(snap)) == snap
    alert = Alert(alert_id="a", fingerprint="m/1.0.0/r", status="firing", model="m", version="1.0.0", rule="r",
                  metric="mae", value=3.0, threshold=2.0, condition=">", severity="warning", message="x",
                  started_at=1.0, ts=2.0, labels={"team": "nlp"}, context={"production": "1.0.0"})
    assert records.decode_alert(records.encode(alert)) == alert
    dl = records.dead_letter(b"\xff\xfe", ContractError([("$", 1, "x")], reason="not_utf8"), topic="t",
                             partition=0, offset=7, ts=1.0)
    assert records.decode_deadletter(records.encode(dl)) == dl
    assert dl.raw_encoding == "base64" and dl.reason == "not_utf8"


def _reject(raw, reason):
    with pytest.raises(ContractError) as info:
        records.decode_message(raw)
    assert info.value.reason == reason, info.value
    return info.value


@given(st.binary(max_size=200).filter(lambda b: not b.strip().startswith(b"{")))
@settings(max_examples=200, deadline=None)
def test_non_json_or_non_object_is_rejected(raw):
    with pytest.raises(ContractError) as info:
        records.decode_message(raw)
    assert info.value.reason in {"not_json", "not_utf8", "not_object"}


GOOD = {"v": 1, "event_id": "e", "model": "tok", "version": "1.0.0", "ts": 10.0, "latency_ms": 1.0, "prediction": 2.0}


@pytest.mark.parametrize("field,value,words", [
    ("latency_ms", -1.0, ">= 0"),
    ("latency_ms", "fast", ">= 0"),
    ("prediction", True, "finite number"),
    ("model", "bad model!", "[A-Za-z0-9._-]"),
    ("model", "x" * 129, "1-128"),
    ("version", "2", "semantic version"),
    ("ts", -5, "epoch seconds"),
    ("kind", "guess", "'prediction' or 'feedback'"),
    ("features", {"a": [1, 2]}, "number, a string or a boolean"),
    ("features", {f"f{i}": 1 for i in range(65)}, "at most 64"),
    ("surprise", 1, "no such field"),
])
def test_bad_field_is_named_with_value_and_accepted(field, value, words):
    bad = dict(GOOD, **{field: value})
    err = _reject(msgspec.json.encode(bad), "invalid_field")
    assert any(f.startswith(field) for f, _, _ in err.problems), err.problems
    assert words in str(err) and field in str(err)


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_nan_and_inf_are_rejected(token):
    raw = msgspec.json.encode(GOOD).replace(b'"prediction":2.0', b'"prediction":' + token)
    with pytest.raises(ContractError):
        records.decode_message(raw)


def test_every_problem_is_reported_at_once():
    bad = dict(GOOD, latency_ms=-3, version="x", model="")
    err = _reject(msgspec.json.encode(bad), "invalid_field")
    assert {f for f, _, _ in err.problems} >= {"latency_ms", "version", "model"}


@given(st.integers().filter(lambda v: v not in (1, 2)))  # 2 is the columnar envelope (test_records_columnar)
def test_unknown_version_is_rejected_never_guessed(v):
    _reject(msgspec.json.encode(dict(GOOD, v=v)), "unsupported_version")
    _reject(msgspec.json.encode({"v": v, "batch": [GOOD]}), "unsupported_version")


def test_oversize_and_too_large_batches_are_rejected():
    _reject(b'{"v":1,"batch":[' + b" " * (1 << 20) + b"]}", "oversize")
    small = {"v": 1, "event_id": "e", "model": "m", "version": "1.0.0", "ts": 1, "latency_ms": 0, "prediction": 0}
    raw = msgspec.json.encode({"v": 1, "batch": [small] * 10_001})
    assert len(raw) < (1 << 20)
    _reject(raw, "batch_too_large")
    _reject(b'{"v":1,"batch":[]}', "empty_batch")


def test_envelope_with_two_models_or_one_bad_event_is_rejected_whole():
    _reject(msgspec.json.encode({"v": 1, "batch": [GOOD, dict(GOOD, model="other")]}), "mixed_models")
    err = _reject(msgspec.json.encode({"v": 1, "batch": [GOOD, dict(GOOD, latency_ms=-1)]}), "invalid_field")
    assert err.problems[0][0] == "batch[1].latency_ms"


def test_feedback_rules():
    fb = {"v": 1, "kind": "feedback", "event_id": "e", "model": "m", "version": "1.0.0", "ts": 1.0}
    err = _reject(msgspec.json.encode(fb), "invalid_field")
    assert err.problems[0][0] == "ground_truth"
    _reject(msgspec.json.encode(dict(fb, ground_truth=1.0, latency_ms=3.0)), "invalid_field")
    assert records.decode_event(msgspec.json.encode(dict(fb, ground_truth=1.0))).kind == "feedback"


def test_event_ids_are_uuid4_and_unique():
    import uuid

    ids = {records.new_event_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(uuid.UUID(i).version == 4 for i in list(ids)[:100])


def test_struct_construction_validates_too():
    with pytest.raises(ContractError):
        PredictionEvent(v=1, event_id="e", model="m", version="1.0.0", ts=1.0, latency_ms=math.nan, prediction=1.0)


def test_deadletter_keeps_first_4k_as_text():
    raw = b"x" * 10_000
    dl = records.dead_letter(raw, ValueError("boom"), topic="t", partition=1, offset=2, ts=3.0)
    assert dl.raw == "x" * 4096 and dl.raw_encoding == "text" and dl.reason == "ValueError"
    assert isinstance(records.decode_deadletter(records.encode(dl)), DeadLetter)


def test_v_is_always_on_the_wire():
    e = records.make_event(model="m", version="1.0.0", ts=1.0, latency_ms=1.0, prediction=2.0)
    assert msgspec.json.decode(records.encode(e))["v"] == 1
    env = msgspec.json.decode(records.encode_batch([e, e]))
    assert env["v"] == 1 and all(item["v"] == 1 for item in env["batch"])
    snap = MetricSnapshot(model="m", version="1.0.0", ts=1.0, window=WindowInfo(events=1, seconds=0.0), metrics={})
    assert msgspec.json.decode(records.encode(snap))["v"] == 1


def test_bad_event_in_a_large_envelope_is_named_by_index():
    evs = [records.make_event(model="m", version="1.0.0", ts=1.0 + i, latency_ms=1.0, prediction=2.0,
                              features={"lang": "en"}) for i in range(500)]
    raw = records.encode_batch(evs)
    assert len(records.decode_message(raw)) == 500  # the vectorised path accepts it
    bad = msgspec.json.decode(raw)
    bad["batch"][321]["latency_ms"] = -4.0
    err = _reject(msgspec.json.encode(bad), "invalid_field")
    assert [(f, v) for f, v, _ in err.problems] == [("batch[321].latency_ms", -4.0)]
    bad["batch"][321]["latency_ms"] = 4.0
    bad["batch"][7]["features"] = {"lang": "x" * 300}
    err = _reject(msgspec.json.encode(bad), "invalid_field")
    assert err.problems[0][0] == "batch[7].features.lang"
