"""The columnar envelope (contract v2): round trips against v1, and every problem named."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams import records
from streams.errors import ContractError
from streams.records import ColumnBatch

from .test_records import feature_values, finite

rows = st.tuples(st.floats(1.0, 4e9), st.floats(0, 1e6), finite, st.one_of(st.none(), finite),
                 st.dictionaries(st.sampled_from(["lang", "chars", "flag", "x.y-z_0"]), feature_values, max_size=4))

GOOD = {"v": 2, "model": "tok", "version": "1.0.0", "event_id": ["a", "b", "c"], "ts": [1.0, 2.0, 3.0],
        "latency_ms": [5, 6.5, 0], "prediction": [10.0, 11.0, -1.0], "ground_truth": [None, 12.0, None],
        "features": {"lang": ["en", None, "de"], "chars": [10, 20, None], "flag": [True, False, None]}}


def _reject(obj_or_raw, reason):
    raw = obj_or_raw if isinstance(obj_or_raw, bytes) else msgspec.json.encode(obj_or_raw)
    with pytest.raises(ContractError) as info:
        records.decode_payload(raw)
    assert info.value.reason == reason, info.value
    return info.value


@given(st.lists(rows, min_size=1, max_size=30))
@settings(max_examples=100, deadline=None)
def test_columnar_envelope_decodes_to_the_same_events_as_v1(drawn):
    """The same predictions sent as a v1 envelope or a v2 columnar one are the same events."""
    evs = [records.make_event(model="tok", version="1.2.0-rc.1", ts=ts, latency_ms=lat, prediction=pred,
                              ground_truth=gt, features=feats) for ts, lat, pred, gt, feats in drawn]
    raw = records.encode_columnar(evs)
    assert records.decode_message(raw) == records.decode_message(records.encode_batch(evs)) == evs
    batch = records.decode_payload(raw)
    assert isinstance(batch, ColumnBatch) and len(batch) == len(evs) and batch.event_id == [e.event_id for e in evs]
    np.testing.assert_array_equal(batch.latency_ms, [e.latency_ms for e in evs])
    np.testing.assert_array_equal(batch.ground_truth, [np.nan if e.ground_truth is None else e.ground_truth for e in evs])


def test_columns_of_a_columnar_envelope_equal_the_columns_of_its_events():
    from agents.columns import from_column_batch, to_columns

    batch = records.decode_payload(msgspec.json.encode(GOOD))
    cols, want = from_column_batch(batch), to_columns(batch.events())
    for f in ("ts", "latency_ms", "prediction", "ground_truth"):
        np.testing.assert_array_equal(getattr(cols, f), getattr(want, f))
    assert sorted(cols.features) == sorted(want.features) == ["chars", "flag", "lang"]
    assert cols.features["flag"].tolist() == want.features["flag"].tolist() == ["true", "false", None]
    assert cols.features["lang"].tolist() == ["en", None, "de"]
    np.testing.assert_array_equal(cols.features["chars"], [10.0, 20.0, np.nan])
    # a feature no event has is left out, as in v1
    empty = records.decode_payload(msgspec.json.encode(dict(GOOD, features={"x": [None] * 3})))
    assert from_column_batch(empty).features == {}


def test_ground_truth_and_features_may_be_absent():
    obj = {k: v for k, v in GOOD.items() if k not in ("ground_truth", "features")}
    batch = records.decode_payload(msgspec.json.encode(obj))
    assert np.isnan(batch.ground_truth).all() and batch.features == {}
    assert [e.ground_truth for e in batch.events()] == [None] * 3


@pytest.mark.parametrize("change,field,words", [
    ({"latency_ms": [5, -1, 0]}, "latency_ms[1]", ">= 0"),
    ({"ts": [1.0, 0, 3.0]}, "ts[1]", "> 0"),
    ({"prediction": [1.0, "x", 2.0]}, "prediction[1]", "finite number"),
    ({"prediction": [1.0, 2.0]}, "prediction", "3 entries"),
    ({"ground_truth": [1.0, True, None]}, "ground_truth[1]", "number or null"),
    ({"event_id": ["a", "", "c"]}, "event_id[1]", "non-empty"),
    ({"event_id": ["a", "b", "x" * 129]}, "event_id[2]", "128"),
    ({"event_id": "abc"}, "event_id", "a list of event ids"),
    ({"model": "bad model"}, "model", "[A-Za-z0-9._-]"),
    ({"version": "2.0"}, "version", "semantic version"),
    ({"features": {"lang": ["en", "de"]}}, "features.lang", "3 entries"),
    ({"features": {"lang": ["en", "y" * 257, None]}}, "features.lang[1]", "256"),
    ({"features": {"lang": ["en", [1], None]}}, "features.lang[1]", "a boolean or null"),
    ({"features": {"bad key": [1, 2, 3]}}, "features.bad key", "a key of"),
    ({"features": {f"f{i}": [1, 2, 3] for i in range(65)}}, "features", "at most 64"),
    ({"kind": "feedback"}, "kind", "no such field"),
])
def test_bad_column_is_named_with_index_value_and_accepted(change, field, words):
    err = _reject(dict(GOOD, **change), "invalid_field")
    named = {f: (v, a) for f, v, a in err.problems}
    assert field in named and words in named[field][1], err
    assert field in str(err)


def test_missing_fields_and_every_problem_at_once():
    obj = {"v": 2, "model": "tok", "event_id": ["a", "b"], "ts": [1, -1], "latency_ms": [-2, 1]}
    err = _reject(obj, "invalid_field")
    assert {f for f, _, _ in err.problems} == {"version", "prediction", "ts[1]", "latency_ms[0]"}


def test_problem_list_is_bounded():
    n = 500
    obj = dict(GOOD, event_id=[f"e{i}" for i in range(n)], ts=[1.0] * n, latency_ms=[-1.0] * n, prediction=[0.0] * n,
               ground_truth=None, features={})
    err = _reject(obj, "invalid_field")
    assert len(err.problems) == records.MAX_PROBLEMS + 1 and "450 more problems" in err.problems[-1][2]


def test_sizes_and_versions():
    _reject(dict(GOOD, event_id=[], ts=[], latency_ms=[], prediction=[], ground_truth=None, features={}),
            "empty_batch")
    n = records.MAX_BATCH_EVENTS + 1
    big = {"v": 2, "model": "m", "version": "1.0.0", "event_id": ["e"] * n, "ts": [1] * n, "latency_ms": [0] * n,
           "prediction": [0] * n}
    assert len(msgspec.json.encode(big)) < records.MAX_MESSAGE_BYTES
    _reject(big, "batch_too_large")
    _reject(dict(GOOD, v=3), "unsupported_version")
    _reject(b'{"v":2,"model":"tok","event_id":[' + b'"e",' * 300_000 + b'"e"]}', "oversize")
    # a v2 envelope is never a single event, and v1 events inside "batch" stay v1
    with pytest.raises(ContractError):
        records.decode_event(msgspec.json.encode(GOOD))
    err = _reject({"v": 2, "batch": [dict(GOOD)]}, "invalid_field")
    assert "batch" in {f for f, _, _ in err.problems}


def test_a_single_event_with_brackets_in_a_string_is_still_a_single_event():
    e = records.make_event(model="m", version="1.0.0", ts=1.0, latency_ms=1.0, prediction=1.0,
                           features={"text": "[1, 2]"})
    assert records.decode_message(records.encode(e)) == [e]


def test_encode_columnar_refuses_feedback_and_mixed_versions():
    a = records.make_event(model="m", version="1.0.0", ts=1.0, latency_ms=1.0, prediction=1.0)
    b = records.make_event(model="m", version="2.0.0", ts=1.0, latency_ms=1.0, prediction=1.0)
    fb = records.make_event(kind="feedback", model="m", version="1.0.0", event_id=a.event_id, ts=2.0, ground_truth=1.0)
    for bad in ([a, b], [a, fb]):
        with pytest.raises(ValueError, match="one model version"):
            records.encode_columnar(bad)


def test_columnar_envelope_is_half_the_bytes_of_v1():
    evs = [records.make_event(model="tok-counter", version="1.2.0", ts=1.8e9 + i / 1000, latency_ms=20.0 + i % 7,
                              prediction=100.0 + i % 13, ground_truth=101.0, features={"lang": "en", "chars": i})
           for i in range(1000)]
    assert len(records.encode_columnar(evs)) < 0.6 * len(records.encode_batch(evs))


def test_any_key_order_and_spacing_is_read():
    """The publisher writes ``{"v":2,`` first (read without looking further); plain JSON from
    anyone else may order and space keys as it likes."""
    reordered = dict(reversed(list(GOOD.items())))
    spaced = b'{ "v" : 2, ' + msgspec.json.encode({k: v for k, v in GOOD.items() if k != "v"})[1:]
    want = records.decode_message(msgspec.json.encode(GOOD))
    assert records.decode_message(msgspec.json.encode(reordered)) == want
    assert records.decode_message(spaced) == want
    err = _reject(msgspec.json.encode(dict(reversed(list(dict(GOOD, latency_ms=[1, 2, -3]).items())))),
                  "invalid_field")
    assert err.problems[0][0] == "latency_ms[2]"
