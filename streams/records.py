"""The contract: typed records and the one codec that decodes and validates them.

Every record is a UTF-8 JSON object with ``"v": 1``, except the columnar envelope of predictions,
``"v": 2`` (:class:`ColumnarEnvelope`: one array per field instead of one object per event, which
is half the bytes and about a third of the worker's cost to decode).  A consumer reads both.
Decoding goes through msgspec (typed, validated in C, about as fast as orjson parses untyped
JSON).  When the fast path rejects a
message, a second pass over the parsed JSON collects *every* problem as (field, value, accepted),
so a producer sees all that is wrong at once; the message of :class:`~streams.errors.ContractError`
lists them.  ``ContractError.reason`` is one of :data:`REASONS` (a small closed set, used as a
metric label and in dead letters).

Choices where the design is silent:

* unknown fields are rejected (a misspelt ``ground_truht`` must not silently drop ground truth);
  adding a field is therefore a new ``v``;
* ``ts`` must be positive; ``features`` keys follow the model-name alphabet (1-128 chars);
* a feedback event carries ``event_id`` of the prediction it completes and a non-null
  ``ground_truth``, and no ``latency_ms``/``prediction``;
* a columnar envelope holds predictions of one model *version* (its arrays share one key of the
  monitor's state) and no feedback (that stays a v1 event, usually sent on its own later).

Examples
--------
>>> e = decode_event(b'{"v":1,"event_id":"a1","model":"tok","version":"1.0.0","ts":1.5,'
...                  b'"latency_ms":12.5,"prediction":40.0}')
>>> (e.model, e.latency_ms, e.kind)
('tok', 12.5, 'prediction')
>>> decode_event(b'{"v":1,"event_id":"a1","model":"tok","version":"1.0","ts":1.5,"latency_ms":-1,"prediction":1}')
Traceback (most recent call last):
...
streams.errors.ContractError: version: got '1.0', expected a semantic version like 2.0.0; latency_ms: got -1, expected a finite number >= 0
"""

from __future__ import annotations

import base64
import math
import os
import re
import threading
from collections.abc import Callable, Iterable
from operator import attrgetter
from types import SimpleNamespace
from typing import Annotated, Any

import msgspec
import numpy as np

from streams.errors import ContractError

VERSION = 1
COLUMNAR_VERSION = 2  # the columnar envelope; every other record is VERSION
MAX_BATCH_EVENTS = 10_000
MAX_MESSAGE_BYTES = 1 << 20  # 1 MiB
MAX_FEATURES = 64
MAX_RAW_IN_DEADLETTER = 4096

REASONS = ("not_utf8", "not_json", "not_object", "oversize", "unsupported_version", "invalid_field",
           "batch_too_large", "mixed_models", "empty_batch", "feedback_unmatched")

NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# semver.org 2.0.0 regular expression
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
KINDS = ("prediction", "feedback")
V_ACCEPTED = (f"{VERSION} for an event or a batch envelope, {COLUMNAR_VERSION} for a columnar envelope "
              "(this consumer reads contract versions 1 and 2)")
FeatureValue = float | str | bool
# the decoder enforces these bounds in C; key names are checked per envelope (see _check_batch)
_FeatureString = Annotated[str, msgspec.Meta(max_length=256)]
_Features = Annotated[dict[str, float | _FeatureString | bool], msgspec.Meta(max_length=64)]


class PredictionEvent(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True, gc=False):
    """One prediction (or, with ``kind="feedback"``, late ground truth for an earlier one).

    ``v`` has no default so that it is always on the wire (the other defaults are omitted).
    """

    v: int
    kind: str = "prediction"
    event_id: str
    model: str
    version: str
    ts: float
    latency_ms: float | None = None
    prediction: float | None = None
    ground_truth: float | None = None
    features: _Features = {}

    def __post_init__(self) -> None:
        if _local.trusted:  # decoding an envelope: _check_batch checks it whole, vectorised
            return
        # the common case is checked with a few comparisons (names seen before are cached);
        # anything unusual goes through _event_problems, which names every problem
        lat, pred, gt = self.latency_ms, self.prediction, self.ground_truth
        if (self.v == 1 and self.kind == "prediction" and self.model in _GOOD_NAMES
                and self.version in _GOOD_VERSIONS and 0 < len(self.event_id) <= 128 and 0 < self.ts < _INF
                and lat is not None and 0 <= lat < _INF and pred is not None and -_INF < pred < _INF
                and (gt is None or -_INF < gt < _INF)):
            features = self.features
            if not features:
                return
            if len(features) <= MAX_FEATURES:
                for k, val in features.items():
                    if k not in _GOOD_NAMES:
                        break
                    t = type(val)
                    if t is float:
                        if not -_INF < val < _INF:
                            break
                    elif t is str:
                        if len(val) > 256:
                            break
                    elif t is not int and t is not bool:
                        break
                else:
                    return
        problems = _event_problems(self)
        if problems:
            raise ContractError(problems, reason=_reason(problems))


class BatchEnvelope(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Up to 10,000 events of one model in one message (<= 1 MiB)."""

    v: int = VERSION
    batch: list[PredictionEvent]


_EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_Cell = float | _FeatureString | bool | None
_Columns = Annotated[dict[str, list[_Cell]], msgspec.Meta(max_length=64)]


class ColumnarEnvelope(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True, gc=False):
    """Contract ``v: 2``: up to 10,000 predictions of one (model, version), one array per field.

    ``event_id``, ``ts``, ``latency_ms`` and ``prediction`` have one entry per event;
    ``ground_truth`` (absent when no event has it) has a number or null per event; ``features``
    maps each feature to its values, one per event (null where the event does not have it).  The
    same rules as for a v1 event hold for every entry; there are no feedback events in it (late
    ground truth stays a v1 ``kind=feedback`` event).
    """

    v: int
    model: str
    version: str
    event_id: list[_EventId]
    ts: list[float]
    latency_ms: list[float]
    prediction: list[float]
    ground_truth: list[float | None] | None = None
    features: _Columns = {}


class WindowInfo(msgspec.Struct, kw_only=True):
    events: int
    seconds: float


class MetricSnapshot(msgspec.Struct, kw_only=True):
    """Metrics of one (model, version) at one evaluation tick (topic ``predwatch.metrics``)."""

    v: int = VERSION
    model: str
    version: str
    ts: float
    window: WindowInfo
    metrics: dict[str, float]


class Alert(msgspec.Struct, kw_only=True):
    """A firing or resolved alert (topic ``predwatch.alerts``, key = fingerprint)."""

    v: int = VERSION
    alert_id: str
    fingerprint: str
    status: str  # firing | resolved
    model: str
    version: str
    rule: str
    metric: str
    value: float
    threshold: float
    condition: str
    severity: str  # info | warning | critical
    message: str
    started_at: float
    ts: float
    labels: dict[str, str] = {}
    context: dict[str, Any] = {}


class DeadLetter(msgspec.Struct, kw_only=True):
    """A message that could not be accepted, with why and where it came from."""

    v: int = VERSION
    reason: str
    error: str
    topic: str
    partition: int
    offset: int
    raw: str
    raw_encoding: str = "text"  # text | base64
    ts: float = 0.0


_encoder = msgspec.json.Encoder()
_event_decoder = msgspec.json.Decoder(PredictionEvent)
_batch_decoder = msgspec.json.Decoder(BatchEnvelope)
_columnar_decoder = msgspec.json.Decoder(ColumnarEnvelope)
_any_decoder = msgspec.json.Decoder()


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


_INF = math.inf
_GOOD_NAMES: set[str] = set()  # model names and feature keys already seen valid (bounded)
_GOOD_VERSIONS: set[str] = set()
_CACHE_LIMIT = 100_000


def _remember(cache: set[str], value: str) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache.add(value)


def _event_problems(e: Any) -> list[tuple[str, Any, str]]:
    p: list[tuple[str, Any, str]] = []
    if e.v != VERSION:
        p.append(("v", e.v, V_ACCEPTED))
    if e.kind not in KINDS:
        p.append(("kind", e.kind, "'prediction' or 'feedback'"))
    if not e.event_id or len(e.event_id) > 128:
        p.append(("event_id", e.event_id, "a non-empty string of at most 128 chars"))
    if not isinstance(e.model, str) or not NAME_RE.match(e.model):
        p.append(("model", e.model, "1-128 chars of [A-Za-z0-9._-]"))
    else:
        _remember(_GOOD_NAMES, e.model)
    if not isinstance(e.version, str) or not SEMVER_RE.match(e.version):
        p.append(("version", e.version, "a semantic version like 2.0.0"))
    else:
        _remember(_GOOD_VERSIONS, e.version)
    if not (math.isfinite(e.ts) and e.ts > 0):
        p.append(("ts", e.ts, "event time in epoch seconds, finite and > 0"))
    if e.kind == "feedback":
        if e.ground_truth is None:
            p.append(("ground_truth", None, "a finite number on a feedback event"))
        if e.latency_ms is not None:
            p.append(("latency_ms", e.latency_ms, "absent on a feedback event"))
        if e.prediction is not None:
            p.append(("prediction", e.prediction, "absent on a feedback event"))
    else:
        if e.latency_ms is None or not (math.isfinite(e.latency_ms) and e.latency_ms >= 0):
            p.append(("latency_ms", e.latency_ms, "a finite number >= 0"))
        if e.prediction is None or not math.isfinite(e.prediction):
            p.append(("prediction", e.prediction, "a finite number"))
    if e.ground_truth is not None and not math.isfinite(e.ground_truth):
        p.append(("ground_truth", e.ground_truth, "a finite number or null"))
    if e.features:
        if len(e.features) > MAX_FEATURES:
            p.append(("features", f"<{len(e.features)} keys>", f"at most {MAX_FEATURES} keys"))
        for k, val in e.features.items():
            if not isinstance(k, str) or not NAME_RE.match(k):
                p.append((f"features.{k}", k, "a key of 1-128 chars of [A-Za-z0-9._-]"))
                continue
            _remember(_GOOD_NAMES, k)
            if isinstance(val, bool):
                continue
            elif isinstance(val, float):
                if not math.isfinite(val):
                    p.append((f"features.{k}", val, "a finite number, a string or a boolean"))
            elif not isinstance(val, (str, int)):  # bool is an int
                p.append((f"features.{k}", val, "a finite number, a string or a boolean"))
            elif isinstance(val, str) and len(val) > 256:
                p.append((f"features.{k}", val, "a string of at most 256 chars"))
    return p


def _reason(problems: list[tuple[str, Any, str]]) -> str:
    return "unsupported_version" if any(f == "v" for f, _, _ in problems) else "invalid_field"


_FIELD_TYPES = {
    "v": (int,), "kind": (str,), "event_id": (str,), "model": (str,), "version": (str,), "ts": (int, float),
    "latency_ms": (int, float, type(None)), "prediction": (int, float, type(None)),
    "ground_truth": (int, float, type(None)), "features": (dict,),
}
_ACCEPTED = {
    "v": f"the integer {VERSION}", "kind": "'prediction' or 'feedback'", "event_id": "a non-empty string",
    "model": "1-128 chars of [A-Za-z0-9._-]", "version": "a semantic version like 2.0.0",
    "ts": "event time in epoch seconds", "latency_ms": "a finite number >= 0", "prediction": "a finite number",
    "ground_truth": "a finite number or null", "features": f"an object of at most {MAX_FEATURES} keys",
}
_REQUIRED = ("event_id", "model", "version", "ts")


def explain_event(obj: Any, where: str = "") -> list[tuple[str, Any, str]]:
    """Every problem of a parsed JSON value meant as a PredictionEvent (the slow, thorough path)."""
    if not isinstance(obj, dict):
        return [(where or "$", obj, "a JSON object")]
    problems: list[tuple[str, Any, str]] = []
    v = obj.get("v")
    if v != VERSION or isinstance(v, bool):
        problems.append((f"{where}v", v, V_ACCEPTED))
        return problems  # never guess at the rest of an unknown version
    for name in _REQUIRED:
        if name not in obj:
            problems.append((f"{where}{name}", None, f"required: {_ACCEPTED[name]}"))
    for name, value in obj.items():
        if name not in _FIELD_TYPES:
            problems.append((f"{where}{name}", value, f"no such field; accepted: {sorted(_FIELD_TYPES)}"))
            continue
        types = _FIELD_TYPES[name]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            problems.append((f"{where}{name}", value, _ACCEPTED[name]))
    if "features" in obj and isinstance(obj["features"], dict):
        for k, val in obj["features"].items():
            if not isinstance(val, (int, float, str, bool)):
                problems.append((f"{where}features.{k}", val, "a number, a string or a boolean"))
    if problems:
        return problems
    # types are right: the struct's own checks name the value problems
    values = {"kind": "prediction", "latency_ms": None, "prediction": None, "ground_truth": None, "features": {}}
    values.update(obj)
    found = _event_problems(SimpleNamespace(**values))
    if found:
        return [(f"{where}{f}", val, acc) for f, val, acc in found]
    try:
        msgspec.convert(obj, PredictionEvent)
    except msgspec.ValidationError as exc:
        return [(where or "$", obj, str(exc))]
    return []


def decode_event(raw: bytes | str) -> PredictionEvent:
    """One PredictionEvent from a JSON message; ContractError lists every problem."""
    events = decode_payload(raw)
    if isinstance(events, ColumnBatch) or len(events) != 1 or _looks_like_batch(raw):
        raise ContractError([("batch", "<envelope>", "a single event here")], reason="invalid_field")
    return events[0]


def _looks_like_batch(raw: bytes | str) -> bool:
    return (b'"batch"' in raw) if isinstance(raw, bytes) else ('"batch"' in raw)


def decode_message(raw: bytes | str) -> list[PredictionEvent]:
    """The events of one Kafka message: a single event, a batch envelope or a columnar envelope
    (whose rows become events here; :func:`decode_payload` keeps them as columns).

    Raises ContractError with ``reason`` in :data:`REASONS`.  An envelope is accepted or
    rejected whole: one bad event rejects its message, so nothing is half-counted.
    """
    out = decode_payload(raw)
    return out.events() if isinstance(out, ColumnBatch) else out


def decode_payload(raw: bytes | str) -> list[PredictionEvent] | ColumnBatch:
    """What :func:`decode_message` decodes, with a columnar (v2) envelope kept as a
    :class:`ColumnBatch` (what the monitor reads: no event objects are made)."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ContractError([("$", f"<{len(raw)} bytes>", f"a message of at most {MAX_MESSAGE_BYTES} bytes")],
                            reason="oversize")
    if raw.startswith(_COLUMNAR_HEAD):  # as the publisher writes it: no need to look further
        checked = _try_columns(raw)
        return _decode_slow(raw) if checked is None else checked
    try:
        if b'"batch"' in raw:
            _local.trusted = True
            try:
                envelope = _batch_decoder.decode(raw)
            finally:
                _local.trusted = False
            return _check_envelope(envelope.v, _check_batch(envelope.batch))
        if b"[" in raw:  # arrays: a columnar envelope (or a single event with "[" in a string)
            checked = _try_columns(raw)
            if checked is not None:
                return checked
        return [_event_decoder.decode(raw)]
    except (msgspec.ValidationError, msgspec.DecodeError, ContractError):
        pass
    return _decode_slow(raw)


_COLUMNAR_HEAD = b'{"v":2,'


def _try_columns(raw: bytes) -> ColumnBatch | None:
    try:
        return _check_columns(_columnar_decoder.decode(raw))
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


class _Local(threading.local):
    trusted = False


_local = _Local()


class EventBatch(list):
    """The events of one envelope that passed the whole-envelope check, with what the check
    computed: ``ts``, ``latency_ms`` and ``prediction`` as float64 arrays and the sets of
    ``models`` and ``versions`` (every event is a prediction).  Consumers may use them instead of walking the
    events again; they must not modify them."""

    __slots__ = ("latency_ms", "models", "prediction", "ts", "versions")


# set(map(attrgetter)) runs in C: ~25 ns per event, a set comprehension ~35
_MODEL, _VERSION, _FEATURES = attrgetter("model"), attrgetter("version"), attrgetter("features")


def _check_batch(batch: list[PredictionEvent]) -> list[PredictionEvent]:
    """The checks of ``PredictionEvent.__post_init__`` for a whole envelope at once.

    JSON cannot carry NaN or infinity (msgspec rejects ``1e999``), so only ranges, kinds, names
    and sizes remain to check; any failure sends the envelope to the thorough per-event path.
    Returns an :class:`EventBatch` when the envelope passes.
    """
    if not batch:
        return batch
    models, versions = set(map(_MODEL, batch)), set(map(_VERSION, batch))
    ok = (all(e.kind == "prediction" and e.v == 1 for e in batch)
          and models <= _GOOD_NAMES and versions <= _GOOD_VERSIONS)
    if ok:
        n = len(batch)
        try:
            lat = np.fromiter((e.latency_ms for e in batch), np.float64, n)
            pred = np.fromiter((e.prediction for e in batch), np.float64, n)  # None raises TypeError
            ts = np.fromiter((e.ts for e in batch), np.float64, n)
        except TypeError:
            ok = False
        else:
            ids = [len(e.event_id) for e in batch]
            ok = (bool(lat.min() >= 0) and not np.isnan(pred).any() and bool(ts.min() > 0)
                  and min(ids) > 0 and max(ids) <= 128 and _features_ok(batch))
    if ok:
        checked = EventBatch(batch)
        checked.ts, checked.latency_ms, checked.prediction = ts, lat, pred
        checked.models, checked.versions = models, versions
        return checked
    problems = []
    for i, e in enumerate(batch):
        problems.extend((f"batch[{i}].{f}", v, a) for f, v, a in _event_problems(e))
        if len(problems) > 50:
            break
    if problems:
        raise ContractError(problems, reason=_reason_of(problems))
    return batch


class ColumnBatch:
    """The predictions of a columnar (v2) envelope that passed every check.

    ``model`` and ``version`` are one each; ``event_id`` is a list; ``ts``, ``latency_ms``,
    ``prediction`` and ``ground_truth`` are float64 arrays (ground truth NaN where null);
    ``features`` maps each feature to its values as decoded (a list, None where an event does not
    have it).  Consumers must not modify them.
    """

    __slots__ = ("event_id", "features", "ground_truth", "latency_ms", "model", "prediction", "ts", "version")

    def __init__(self, model: str, version: str, event_id: list[str], ts: np.ndarray, latency_ms: np.ndarray,
                 prediction: np.ndarray, ground_truth: np.ndarray, features: dict[str, list]) -> None:
        self.model, self.version, self.event_id = model, version, event_id
        self.ts, self.latency_ms, self.prediction, self.ground_truth = ts, latency_ms, prediction, ground_truth
        self.features = features

    def __len__(self) -> int:
        return len(self.event_id)

    def events(self) -> list[PredictionEvent]:
        """The rows as v1 prediction events (what the same events sent one by one decode to)."""
        names, cols = list(self.features), list(self.features.values())
        out = []
        for i, (eid, ts, lat, pred, gt) in enumerate(zip(self.event_id, self.ts.tolist(), self.latency_ms.tolist(),
                                                         self.prediction.tolist(), self.ground_truth.tolist())):
            features = {k: c[i] for k, c in zip(names, cols) if c[i] is not None}
            out.append(PredictionEvent(v=VERSION, event_id=eid, model=self.model, version=self.version, ts=ts,
                                       latency_ms=lat, prediction=pred, ground_truth=None if math.isnan(gt) else gt,
                                       features=features))
        return out


def _check_columns(env: ColumnarEnvelope, names_checked: bool = False) -> ColumnBatch | None:
    """The checks of a columnar envelope, vectorised; None when anything is off (then the
    thorough path, :func:`explain_columnar`, names every problem).  The decoder has checked the
    types, the event ids' and strings' lengths and the number of features; JSON carries no NaN
    or infinity."""
    n = len(env.event_id)
    features = env.features
    if not (env.v == COLUMNAR_VERSION and 0 < n <= MAX_BATCH_EVENTS and len(env.ts) == n
            and len(env.latency_ms) == n and len(env.prediction) == n
            and (env.ground_truth is None or len(env.ground_truth) == n)
            and all(len(c) == n for c in features.values())
            and (names_checked or env.model in _GOOD_NAMES and env.version in _GOOD_VERSIONS
                 and features.keys() <= _GOOD_NAMES)):
        return None
    ts = np.array(env.ts, dtype=np.float64)
    lat = np.array(env.latency_ms, dtype=np.float64)
    if not (ts.min() > 0 and lat.min() >= 0):
        return None
    gt = (np.full(n, np.nan) if env.ground_truth is None
          else np.array(env.ground_truth, dtype=np.float64))  # None -> NaN
    return ColumnBatch(env.model, env.version, env.event_id, ts, lat, np.array(env.prediction, dtype=np.float64),
                       gt, features)


COLUMNAR_FIELDS = ("v", "model", "version", "event_id", "ts", "latency_ms", "prediction", "ground_truth", "features")
_COLUMNAR_REQUIRED = ("model", "version", "event_id", "ts", "latency_ms", "prediction")
MAX_PROBLEMS = 50


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _cell(x: Any) -> bool:
    return x is None or isinstance(x, bool) or _number(x) or isinstance(x, str) and len(x) <= 256


def explain_columnar(obj: dict) -> list[tuple[str, Any, str]]:
    """Every problem of a parsed JSON object meant as a columnar (v2) envelope, as (field,
    value, accepted), fields like ``latency_ms[17]`` (at most :data:`MAX_PROBLEMS`, then a note)."""
    p: list[tuple[str, Any, str]] = []
    for k, val in obj.items():
        if k not in COLUMNAR_FIELDS:
            p.append((k, val, f"no such field in a columnar (v 2) envelope; accepted: {', '.join(COLUMNAR_FIELDS)}"))
    p.extend((k, None, "required in a columnar (v 2) envelope") for k in _COLUMNAR_REQUIRED if k not in obj)
    model, version = obj.get("model"), obj.get("version")
    if "model" in obj:
        if isinstance(model, str) and NAME_RE.match(model):
            _remember(_GOOD_NAMES, model)
        else:
            p.append(("model", model, "1-128 chars of [A-Za-z0-9._-]"))
    if "version" in obj:
        if isinstance(version, str) and SEMVER_RE.match(version):
            _remember(_GOOD_VERSIONS, version)
        else:
            p.append(("version", version, "a semantic version like 2.0.0"))
    ids, n = obj.get("event_id"), None
    if isinstance(ids, list):
        n = len(ids)
        if not 0 < n <= MAX_BATCH_EVENTS:
            p.append(("event_id", f"<{n} entries>", f"1 to {MAX_BATCH_EVENTS} events"))
        p.extend((f"event_id[{i}]", e, "a non-empty string of at most 128 chars")
                 for i, e in enumerate(ids) if not (isinstance(e, str) and 0 < len(e) <= 128))
    elif "event_id" in obj:
        p.append(("event_id", ids, "a list of event ids, one per event"))

    def column(name: str, values: Any, ok: Callable[[Any], bool], accepted: str) -> None:
        if not isinstance(values, list):
            p.append((name, values, f"a list of {accepted}, one per event"))
            return
        if n is not None and len(values) != n:
            p.append((name, f"<{len(values)} entries>", f"{n} entries, one per event_id"))
        p.extend((f"{name}[{i}]", x, accepted) for i, x in enumerate(values) if not ok(x))

    if "ts" in obj:
        column("ts", obj["ts"], lambda x: _number(x) and x > 0, "event time in epoch seconds, finite and > 0")
    if "latency_ms" in obj:
        column("latency_ms", obj["latency_ms"], lambda x: _number(x) and x >= 0, "a finite number >= 0")
    if "prediction" in obj:
        column("prediction", obj["prediction"], _number, "a finite number")
    if obj.get("ground_truth") is not None:
        column("ground_truth", obj["ground_truth"], lambda x: x is None or _number(x), "a finite number or null")
    features = obj.get("features", {})
    if not isinstance(features, dict):
        p.append(("features", features, "an object: feature name -> list of values, one per event"))
    else:
        if len(features) > MAX_FEATURES:
            p.append(("features", f"<{len(features)} keys>", f"at most {MAX_FEATURES} keys"))
        for k, values in features.items():
            if NAME_RE.match(k):
                _remember(_GOOD_NAMES, k)
                column(f"features.{k}", values, _cell, "a finite number, a string of at most 256 chars, a boolean or null")
            else:
                p.append((f"features.{k}", k, "a key of 1-128 chars of [A-Za-z0-9._-]"))
    if len(p) > MAX_PROBLEMS:
        p = p[:MAX_PROBLEMS] + [("$", "...", f"({len(p) - MAX_PROBLEMS} more problems not listed)")]
    return p


def _decode_columnar_slow(obj: dict) -> ColumnBatch:
    problems = explain_columnar(obj)
    if problems:
        n = len(obj["event_id"]) if isinstance(obj.get("event_id"), list) else -1
        reason = "empty_batch" if n == 0 else "batch_too_large" if n > MAX_BATCH_EVENTS else "invalid_field"
        raise ContractError(problems, reason=reason)
    try:
        checked = _check_columns(msgspec.convert(obj, ColumnarEnvelope), names_checked=True)
    except msgspec.ValidationError as exc:  # not expected: explain_columnar checks what the type does
        raise ContractError([("$", "<columnar envelope>", f"a columnar envelope ({exc})")],
                            reason="invalid_field") from None
    if checked is None:
        raise ContractError([("$", "<columnar envelope>", "a columnar envelope")], reason="invalid_field")
    return checked


def _features_ok(batch: list[PredictionEvent]) -> bool:
    """Every feature key of the envelope is a known-good name (sizes were bounded by the decoder)."""
    return set().union(*map(_FEATURES, batch)) <= _GOOD_NAMES


def _check_envelope(v: int, batch: list[PredictionEvent]) -> list[PredictionEvent]:
    if v != VERSION:
        raise ContractError([("v", v, f"{VERSION}")], reason="unsupported_version")
    if not batch:
        raise ContractError([("batch", [], "1 to 10000 events")], reason="empty_batch")
    if len(batch) > MAX_BATCH_EVENTS:
        raise ContractError([("batch", f"<{len(batch)} events>", f"at most {MAX_BATCH_EVENTS} events")],
                            reason="batch_too_large")
    model = batch[0].model
    if len(batch.models if isinstance(batch, EventBatch) else set(map(_MODEL, batch))) > 1:
        i, other = next((i, e.model) for i, e in enumerate(batch) if e.model != model)
        raise ContractError([(f"batch[{i}].model", other, f"{model!r}: one model per envelope")],
                            reason="mixed_models")
    return batch


def _decode_slow(raw: bytes) -> list[PredictionEvent] | ColumnBatch:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError([("$", f"<bytes at {exc.start}>", "UTF-8 JSON")], reason="not_utf8") from None
    try:
        obj = _any_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise ContractError([("$", raw[:60].decode("utf-8", "replace"), f"a JSON object ({exc})")],
                            reason="not_json") from None
    if not isinstance(obj, dict):
        raise ContractError([("$", obj, "a JSON object")], reason="not_object")
    v = obj.get("v")
    if v == COLUMNAR_VERSION and not isinstance(v, bool):
        return _decode_columnar_slow(obj)
    if "batch" in obj:
        v = obj.get("v")
        if v != VERSION or isinstance(v, bool):
            raise ContractError([("v", v, V_ACCEPTED)], reason="unsupported_version")
        extra = sorted(set(obj) - {"v", "batch"})
        batch = obj["batch"]
        if not isinstance(batch, list):
            raise ContractError([("batch", batch, "a list of events")], reason="invalid_field")
        if len(batch) > MAX_BATCH_EVENTS:
            raise ContractError([("batch", f"<{len(batch)} events>", f"at most {MAX_BATCH_EVENTS} events")],
                                reason="batch_too_large")
        problems = [(k, obj[k], "no such field in an envelope; accepted: v, batch") for k in extra]
        for i, item in enumerate(batch):
            problems.extend(explain_event(item, f"batch[{i}]."))
            if len(problems) > 50:
                problems.append(("batch", "...", "(more problems not listed)"))
                break
        if problems:
            raise ContractError(problems, reason=_reason_of(problems))
        return _check_envelope(VERSION, [msgspec.convert(item, PredictionEvent) for item in batch])
    problems = explain_event(obj)
    if problems:
        raise ContractError(problems, reason=_reason_of(problems))
    return [msgspec.convert(obj, PredictionEvent)]


def _reason_of(problems: list[tuple[str, Any, str]]) -> str:
    return "unsupported_version" if any(f == "v" or f.endswith(".v") for f, _, _ in problems) else "invalid_field"


# --- building and encoding ----------------------------------------------------------------------

_id_pool: list[str] = []


def new_event_id() -> str:
    """A random uuid4 as 32 hex digits (drawn from a pool made 4,096 at a time: ~0.2 µs each)."""
    try:
        return _id_pool.pop()
    except IndexError:
        raw = bytearray(os.urandom(16 * 4096))
        for i in range(0, len(raw), 16):  # version 4, RFC 4122 variant
            raw[i + 6] = (raw[i + 6] & 0x0F) | 0x40
            raw[i + 8] = (raw[i + 8] & 0x3F) | 0x80
        hexed = raw.hex()
        _id_pool.extend(hexed[i:i + 32] for i in range(0, len(hexed), 32))
        return _id_pool.pop()


def make_event(**fields: Any) -> PredictionEvent:
    """A validated PredictionEvent from keyword fields (``event_id`` defaults to a uuid4).

    Raises ContractError listing every problem.
    """
    fields.setdefault("v", VERSION)
    if fields.get("event_id") is None:
        fields["event_id"] = new_event_id()
    if fields.get("features") is None:
        fields.pop("features", None)
    for key in [k for k, val in fields.items() if val is None and k in ("latency_ms", "prediction", "ground_truth")]:
        del fields[key]
    problems = explain_event(fields)
    if problems:
        raise ContractError(problems, reason=_reason_of(problems))
    return msgspec.convert(fields, PredictionEvent)


def encode(record: msgspec.Struct) -> bytes:
    """JSON bytes of any record."""
    return _encoder.encode(record)


def encode_batch(events: Iterable[PredictionEvent]) -> bytes:
    """A batch envelope (the caller keeps it to one model and <= 10,000 events / 1 MiB)."""
    return _encoder.encode(BatchEnvelope(batch=list(events)))


def encode_columnar(events: Iterable[PredictionEvent]) -> bytes:
    """A columnar (v2) envelope of prediction events of one (model, version).

    Raises ValueError for feedback events or a second model or version (the caller keeps it to
    <= 10,000 events / 1 MiB).
    """
    events = list(events)
    if not events:
        raise ValueError("a columnar envelope needs at least one event")
    model, version = events[0].model, events[0].version
    names: dict[str, None] = {}
    for e in events:
        if e.kind != "prediction" or e.model != model or e.version != version:
            raise ValueError(f"a columnar envelope holds predictions of one model version ({model}@{version}), "
                             f"got a {e.kind} of {e.model}@{e.version}")
        names.update(dict.fromkeys(e.features))
    gt = [e.ground_truth for e in events]
    return _encoder.encode(ColumnarEnvelope(
        v=COLUMNAR_VERSION, model=model, version=version, event_id=[e.event_id for e in events],
        ts=[e.ts for e in events], latency_ms=[e.latency_ms for e in events], prediction=[e.prediction for e in events],
        ground_truth=None if all(g is None for g in gt) else gt,
        features={k: [e.features.get(k) for e in events] for k in names}))


def to_builtins(record: msgspec.Struct) -> dict[str, Any]:
    return msgspec.to_builtins(record)


def _decode_record(raw: bytes | str, kind: type, name: str) -> Any:
    try:
        record = msgspec.json.decode(raw, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ContractError([("$", str(raw)[:60], f"a {name} record ({exc})")], reason="invalid_field") from None
    if record.v != VERSION:
        raise ContractError([("v", record.v, f"{VERSION}")], reason="unsupported_version")
    return record


def decode_alert(raw: bytes | str) -> Alert:
    return _decode_record(raw, Alert, "Alert")


def decode_snapshot(raw: bytes | str) -> MetricSnapshot:
    return _decode_record(raw, MetricSnapshot, "MetricSnapshot")


def decode_deadletter(raw: bytes | str) -> DeadLetter:
    return _decode_record(raw, DeadLetter, "DeadLetter")


def dead_letter(raw: bytes | None, error: Exception, *, topic: str, partition: int, offset: int, ts: float) -> DeadLetter:
    """A DeadLetter for a rejected message, keeping the first 4 KiB as text or base64."""
    head = (raw or b"")[:MAX_RAW_IN_DEADLETTER]
    try:
        text, encoding = head.decode("utf-8"), "text"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(head).decode("ascii"), "base64"
    reason = getattr(error, "reason", None) or type(error).__name__
    return DeadLetter(reason=reason, error=str(error)[:2000], topic=topic, partition=partition, offset=offset,
                      raw=text, raw_encoding=encoding, ts=ts)
