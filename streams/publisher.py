"""PredictionPublisher: the SDK a model server uses to publish one event per prediction.

Events are validated before anything is sent, grouped into envelopes (bounded by event count,
bytes and linger time), keyed by model, and produced by an idempotent confluent-kafka producer.
Predictions go out as columnar envelopes (contract v2, one per model version: half the bytes of
v1 and about a third of the consumer's decoding) unless ``columnar=False``; feedback goes out in
v1 envelopes per model, always after the predictions of that model queued before it, so that the
join finds them.  Delivery failures reach the ``on_delivery_error`` callback and the
counters in :attr:`PredictionPublisher.stats`; after a fatal producer error (for example an
idempotent producer stuck after a broker restart) the producer is recreated and the envelopes
that were in flight are counted as failed and reported, never silently dropped.

Examples
--------
Nothing is sent when an event is invalid::

    with PredictionPublisher("kafka://127.0.0.1:9092") as pub:
        pub.track_prediction("tok-counter", "1.2.0", prediction=41.0, latency_ms=12.5,
                             features={"lang": "en", "chars": 164})
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import msgspec

from streams import records
from streams.errors import ContractError, PublishError
from streams.records import MAX_BATCH_EVENTS, MAX_MESSAGE_BYTES, PredictionEvent
from streams.settings import Settings
from streams.topics import PREDICTIONS, topic_name

log = logging.getLogger(__name__)

_ENVELOPE_HEAD = b'{"v":1,"batch":['
_ENVELOPE_TAIL = b"]}"


@dataclass
class PublisherStats:
    events_accepted: int = 0  # validated and buffered
    events_delivered: int = 0  # acknowledged by the broker
    events_failed: int = 0  # reported failed (callback called)
    messages_sent: int = 0
    producer_recreated: int = 0
    events_resent: int = 0  # re-sent on a new producer after a fatal error or a stall
    errors: list[str] = field(default_factory=list)  # the last few delivery errors


class _Columns:
    """Predictions of one (model, version) waiting to be sent as one columnar envelope."""

    __slots__ = ("event_id", "features", "first_at", "ground_truth", "has_truth", "latency_ms", "nbytes", "prediction",
                 "ts")

    def __init__(self) -> None:
        self.event_id: list[str] = []
        self.ts: list[float] = []
        self.latency_ms: list[float] = []
        self.prediction: list[float] = []
        self.ground_truth: list[float | None] = []
        self.features: dict[str, list] = {}
        self.has_truth = False
        self.nbytes = 128
        self.first_at = 0.0

    def add(self, e: PredictionEvent, size: int) -> None:
        """Append one event that adds about ``size`` bytes (:func:`_row_bytes`)."""
        n = len(self.event_id)
        self.event_id.append(e.event_id)
        self.ts.append(e.ts)
        self.latency_ms.append(e.latency_ms)
        self.prediction.append(e.prediction)
        self.ground_truth.append(e.ground_truth)
        self.has_truth = self.has_truth or e.ground_truth is not None
        columns = self.features
        for k, val in e.features.items():
            col = columns.get(k)
            if col is None:  # a new feature: null for the events before
                col = columns[k] = [None] * n
                self.nbytes += len(k) + 6 + 5 * n
            col.append(val)
        if len(columns) > len(e.features):  # features this event does not have: null
            for col in columns.values():
                if len(col) == n:
                    col.append(None)
            self.nbytes += 5 * (len(columns) - len(e.features))
        self.nbytes += size

    def envelope(self, model: str, version: str, start: int, stop: int) -> bytes:
        """The JSON of events ``start:stop`` as a columnar envelope."""
        part = slice(start, stop)
        gt = self.ground_truth[part] if self.has_truth else None
        features = {k: col[part] for k, col in self.features.items()}
        if stop - start < len(self.event_id):  # a part: leave out features none of its events has
            features = {k: col for k, col in features.items() if col.count(None) != len(col)}
        return records.encode(records.ColumnarEnvelope(
            v=records.COLUMNAR_VERSION, model=model, version=version, event_id=self.event_id[part], ts=self.ts[part],
            latency_ms=self.latency_ms[part], prediction=self.prediction[part], ground_truth=gt, features=features))

    def __len__(self) -> int:
        return len(self.event_id)


def _row_bytes(e: PredictionEvent) -> int:
    """About what an event adds to a columnar envelope (numbers at their longest; a string whose
    JSON escapes make it longer is caught when the envelope is encoded)."""
    size = len(e.event_id) + 3 + 4 * 25
    for val in e.features.values():
        size += len(val) + 3 if type(val) is str else 25
    return size


class _Buffer:
    __slots__ = ("parts", "nbytes", "first_at")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.nbytes = 0
        self.first_at = 0.0


class PredictionPublisher:
    """Validate, batch and publish prediction events.

    Parameters
    ----------
    kafka
        ``kafka://host:port[,…]``, a bootstrap string ``host:port``, or None for the settings
        (``PREDWATCH_KAFKA``; ``embedded`` is resolved to the shared or a new local broker).
    settings
        Settings to use instead of the environment.
    envelopes
        Send batch envelopes (default).  False sends one message per event (v1).
    columnar
        With envelopes, send predictions as columnar envelopes (contract v2, default); False
        sends v1 batch envelopes, for consumers that read v1 only.
    max_batch_events, max_batch_bytes, linger_ms
        Bounds of one envelope: it is sent when any is reached.
    stall_timeout_s
        With messages outstanding and no acknowledgement for this long, the producer is replaced
        and they are re-sent (an idempotent producer can stay stuck after a broker restart).
    on_delivery_error
        Called as ``f(model, n_events, error_text)`` from the publisher's thread for every
        message the broker did not acknowledge.
    """

    def __init__(self, kafka: str | None = None, *, settings: Settings | None = None, envelopes: bool = True,
                 columnar: bool = True,
                 max_batch_events: int = 5000, max_batch_bytes: int = 900_000, linger_ms: float = 50.0,
                 on_delivery_error: Callable[[str, int, str], None] | None = None,
                 producer_config: Mapping[str, Any] | None = None, create_topics: bool = True,
                 stall_timeout_s: float = 15.0) -> None:
        if not 1 <= max_batch_events <= MAX_BATCH_EVENTS:
            raise ValueError(f"max_batch_events must be in [1, {MAX_BATCH_EVENTS}], got {max_batch_events!r}")
        if not 1024 <= max_batch_bytes <= MAX_MESSAGE_BYTES - 64:
            raise ValueError(f"max_batch_bytes must be in [1024, {MAX_MESSAGE_BYTES - 64}], got {max_batch_bytes!r}")
        if not 0 <= linger_ms <= 60_000:
            raise ValueError(f"linger_ms must be in [0, 60000], got {linger_ms!r}")
        settings = settings or Settings.from_env()
        if kafka is not None:
            settings = settings.replace(kafka=kafka if kafka.startswith(("kafka://", "embedded")) else f"kafka://{kafka}")
        if settings.kafka_is_embedded:
            from streams.embedded import resolve

            settings, self._owned_services = resolve(settings.replace(redis="redis://unused"))
        else:
            self._owned_services = None
        self.settings = settings
        self.topic = topic_name(settings, PREDICTIONS)
        if create_topics:
            from streams.topics import ensure_topics

            ensure_topics(settings, (PREDICTIONS,))
        self.envelopes = envelopes
        self.columnar = envelopes and columnar
        self.max_batch_events = max_batch_events
        self.max_batch_bytes = max_batch_bytes
        self.linger_s = linger_ms / 1000.0
        self.on_delivery_error = on_delivery_error
        self.stats = PublisherStats()
        self._conf = {
            **settings.confluent_config(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "message.max.bytes": MAX_MESSAGE_BYTES + 4096,
            "queue.buffering.max.kbytes": 256 * 1024,
            **(producer_config or {}),
        }
        self._lock = threading.RLock()
        self.stall_timeout_s = stall_timeout_s
        self._unacked: dict[int, tuple[str, bytes, int]] = {}
        self._seq = 0
        self._generation = 0
        self._last_ack = time.monotonic()
        self._buffers: dict[str, _Buffer] = {}  # v1 envelopes, per model
        self._columns: dict[tuple[str, str], _Columns] = {}  # columnar envelopes, per (model, version)
        self._valid_ids: set[tuple[str, str]] = set()
        self._producer = self._new_producer()
        self._closed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._background, name="predwatch-publisher", daemon=True)
        self._thread.start()

    # --- public API ------------------------------------------------------------------------------

    def track_prediction(self, model: str, version: str, prediction: float, latency_ms: float,
                         ground_truth: float | None = None, features: Mapping[str, Any] | None = None,
                         event_id: str | None = None, ts: float | None = None) -> str:
        """Validate and queue one prediction event; returns its ``event_id``.

        Numbers may be numpy scalars (``np.float64``, ``np.int64``, ``np.bool_`` features): they are
        sent as the plain values they hold.
        """
        event_id = event_id or records.new_event_id()
        ts = time.time() if ts is None else ts
        if type(prediction) is not float or type(latency_ms) is not float or type(ts) is not float:
            prediction, latency_ms, ts = _plain(prediction), _plain(latency_ms), _plain(ts)
        if ground_truth is not None and type(ground_truth) is not float:
            ground_truth = _plain(ground_truth)
        if features:
            features = _plain_features(features)
        if (model, version) not in self._valid_ids or not _fast_ok(prediction, latency_ms, ground_truth, ts, event_id):
            # the thorough path names every problem; afterwards the pair is known good
            event = records.make_event(kind="prediction", model=model, version=version, prediction=prediction,
                                       latency_ms=latency_ms, ground_truth=ground_truth,
                                       features=features or None, event_id=event_id, ts=ts)
            self._valid_ids.add((model, version))
        else:
            event = PredictionEvent(v=1, event_id=event_id, model=model, version=version, ts=ts,
                                    latency_ms=latency_ms, prediction=prediction, ground_truth=ground_truth,
                                    features=features or {})
        self._append_prediction(event)
        return event_id

    def track_feedback(self, model: str, version: str, event_id: str, ground_truth: float,
                       ts: float | None = None) -> str:
        """Queue late ground truth for the earlier prediction ``event_id``."""
        event = records.make_event(kind="feedback", model=model, version=version, event_id=event_id,
                                   ground_truth=ground_truth, ts=time.time() if ts is None else ts)
        self._append(model, records.encode(event))
        return event_id

    def publish_many(self, events: Iterable[PredictionEvent | Mapping[str, Any]]) -> int:
        """Validate every event first, then queue them all; returns how many were queued.

        A ContractError (naming the index of the bad event) queues nothing.
        """
        checked: list[PredictionEvent] = []
        for i, item in enumerate(events):
            try:
                if isinstance(item, PredictionEvent):
                    event = msgspec.convert(msgspec.to_builtins(item), PredictionEvent) if item.v == 1 else None
                    if event is None:
                        raise ContractError([("v", item.v, "1")], reason="unsupported_version")
                else:
                    event = records.make_event(**dict(item))
            except ContractError as exc:
                raise ContractError([(f"events[{i}].{f}", v, a) for f, v, a in exc.problems], reason=exc.reason) from None
            except msgspec.ValidationError as exc:
                raise ContractError([(f"events[{i}]", item, str(exc))]) from None
            checked.append(event)
        for event in checked:
            if event.kind == "prediction":
                self._append_prediction(event)
            else:
                self._append(event.model, records.encode(event))
        return len(checked)

    def flush(self, timeout: float = 30.0) -> int:
        """Send every buffered envelope and wait for acknowledgements; returns messages not yet acknowledged."""
        if self._producer is None:  # closed: everything was flushed then
            return len(self._unacked)
        deadline = time.monotonic() + timeout
        with self._lock:
            for key in list(self._columns):
                self._send_columns(key)
            for model in list(self._buffers):
                self._send(model)
        while True:
            remaining = deadline - time.monotonic()
            self._producer.flush(max(0.0, min(remaining, 0.5)))  # the producer may be replaced meanwhile
            if not self._unacked or remaining <= 0:
                return len(self._unacked)

    def close(self, timeout: float = 30.0) -> None:
        """Flush and stop; raises PublishError if messages could not be delivered in time."""
        if self._closed:
            return
        remaining = self.flush(timeout)
        self._closed = True
        self._stop.set()
        self._thread.join(timeout=5)
        # librdkafka's threads end with the producer; kept, they go on reconnecting (and logging
        # "Connect ... failed" to stderr) once the broker is gone
        if not self._thread.is_alive():
            self._producer = None
        if self._owned_services is not None:
            self._owned_services.stop()
        if remaining:
            raise PublishError(f"{remaining} message(s) not acknowledged within {timeout}s")

    def __enter__(self) -> "PredictionPublisher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ------------------------------------------------------------------------------

    def _append(self, model: str, data: bytes) -> None:
        if self._closed:
            raise PublishError("publisher is closed")
        with self._lock:
            self.stats.events_accepted += 1
            if not self.envelopes:
                self._produce(model, data, 1)
                return
            buf = self._buffers.get(model)
            if buf is None:
                buf = self._buffers[model] = _Buffer()
            if buf.parts and buf.nbytes + len(data) + 1 > self.max_batch_bytes:
                self._send(model)
                buf = self._buffers[model] = _Buffer()
            if not buf.parts:
                buf.first_at = time.monotonic()
            buf.parts.append(data)
            buf.nbytes += len(data) + 1
            if len(buf.parts) >= self.max_batch_events:
                self._send(model)

    def _append_prediction(self, event: PredictionEvent) -> None:
        if not self.columnar:
            self._append(event.model, records.encode(event))
            return
        if self._closed:
            raise PublishError("publisher is closed")
        key = (event.model, event.version)
        with self._lock:
            self.stats.events_accepted += 1
            buf = self._columns.get(key)
            size = _row_bytes(event)
            if buf is None:
                buf = self._columns[key] = _Columns()
            elif buf.nbytes + size + 5 * len(buf.features) > self.max_batch_bytes:
                self._send_columns(key)
                buf = self._columns[key] = _Columns()
            if not buf.event_id:
                buf.first_at = time.monotonic()
            buf.add(event, size)
            if len(buf) >= self.max_batch_events:
                self._send_columns(key)

    def _send_columns(self, key: tuple[str, str]) -> None:
        buf = self._columns.pop(key, None)
        if buf is None or not buf.event_id:
            return
        model, version = key
        parts = [(0, len(buf))]
        while parts:  # halved until each fits (a string whose JSON escapes outgrew the estimate)
            start, stop = parts.pop(0)
            try:
                payload = buf.envelope(model, version, start, stop)
            except (TypeError, msgspec.EncodeError) as exc:  # not expected: values are plain after validation
                self._failed(model, stop - start, f"could not encode a columnar envelope: {exc}")
                continue
            if len(payload) > min(self.max_batch_bytes, MAX_MESSAGE_BYTES - 1024) and stop - start > 1:
                mid = (start + stop) // 2
                parts[:0] = [(start, mid), (mid, stop)]
                continue
            self._produce(model, payload, stop - start)

    def _send(self, model: str) -> None:
        buf = self._buffers.pop(model, None)
        if buf is None or not buf.parts:
            return
        for key in [k for k in self._columns if k[0] == model]:  # predictions before the feedback
            self._send_columns(key)
        payload = _ENVELOPE_HEAD + b",".join(buf.parts) + _ENVELOPE_TAIL
        self._produce(model, payload, len(buf.parts))

    def _produce(self, model: str, payload: bytes, n: int) -> None:
        """Produce one message; it stays in ``_unacked`` until the broker acknowledges it."""
        self._seq += 1
        seq, generation = self._seq, self._generation
        if not self._unacked:
            self._last_ack = time.monotonic()  # the stall clock starts with the first outstanding message
        self._unacked[seq] = (model, payload, n)

        def on_delivery(err: Any, msg: Any) -> None:
            if generation != self._generation:
                return  # purged from a replaced producer: already re-sent on the new one
            if err is not None and err.fatal():
                self._fatal = True  # kept in _unacked: re-sent by _recreate
                return
            self._unacked.pop(seq, None)
            self._last_ack = time.monotonic()
            if err is None:
                self.stats.events_delivered += n
            else:
                self._failed(model, n, str(err))

        while True:
            try:
                self._producer.produce(self.topic, payload, key=model.encode(), on_delivery=on_delivery)
                self.stats.messages_sent += 1
                return
            except BufferError:
                self._producer.poll(0.005)

    def _failed(self, model: str, n: int, error: str) -> None:
        self.stats.events_failed += n
        self.stats.errors = (self.stats.errors + [error])[-10:]
        log.warning("delivery of %d event(s) of model %s failed: %s", n, model, error)
        if self.on_delivery_error is not None:
            try:
                self.on_delivery_error(model, n, error)
            except Exception:  # a user callback must not kill the publisher thread
                log.exception("on_delivery_error callback raised")

    _fatal = False

    def _new_producer(self):
        from confluent_kafka import Producer

        def on_error(err: Any) -> None:
            if err.fatal():
                log.error("fatal producer error: %s; the producer will be recreated", err)
                self._fatal = True

        return Producer({**self._conf, "error_cb": on_error})

    def _recreate(self, why: str) -> None:
        """Replace the producer and re-send what it had not delivered (at-least-once)."""
        with self._lock:
            old = self._producer
            self._fatal = False
            self._generation += 1
            self._producer = self._new_producer()
            self.stats.producer_recreated += 1
            pending = list(self._unacked.values())
            self._unacked.clear()
            for model, payload, n in pending:
                self._produce(model, payload, n)
                self.stats.events_resent += n
        log.warning("producer recreated (%s); %d message(s) re-sent", why, len(pending))
        old.purge(in_queue=True, in_flight=True)
        old.flush(0)  # serves the purged messages' callbacks, which ignore the old generation

    def _background(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.02)
            if self._fatal:
                self._recreate("fatal error")
            elif self._unacked and time.monotonic() - self._last_ack > self.stall_timeout_s:
                # an idempotent producer can stay stuck after a broker restart, with no error at all
                self._recreate(f"no acknowledgement for {self.stall_timeout_s:g}s")
            if self.linger_s >= 0 and (self._buffers or self._columns):
                now = time.monotonic()
                with self._lock:
                    for key, cols in list(self._columns.items()):
                        if cols.event_id and now - cols.first_at >= self.linger_s:
                            self._send_columns(key)
                    for model, buf in list(self._buffers.items()):
                        if buf.parts and now - buf.first_at >= self.linger_s:
                            self._send(model)


_PLAIN_TYPES = (bool, int, float, str)


def _plain(x: Any) -> Any:
    """A numpy scalar as the Python value it holds (anything else unchanged: validation names it)."""
    t = type(x)
    if t is float or t is int or t is str or t is bool or x is None:
        return x
    item = getattr(x, "item", None)  # numpy scalars
    if item is not None and getattr(x, "ndim", None) == 0:
        value = item()
        if isinstance(value, _PLAIN_TYPES):
            return value
    for kind in _PLAIN_TYPES:  # subclasses (np.float64 is a float, IntEnum an int)
        if isinstance(x, kind):
            return kind(x)
    return x


def _plain_features(features: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``features`` with numpy scalars and subclasses of str/int/float as plain values."""
    out = dict(features)
    for k, v in out.items():
        t = type(v)
        if t is not float and t is not str and t is not int and t is not bool:
            out[k] = _plain(v)
    return out


def _fast_ok(prediction: Any, latency_ms: Any, ground_truth: Any, ts: Any, event_id: Any) -> bool:
    """True when the per-event numbers are plainly valid (the common case, checked cheaply)."""
    try:
        return (math.isfinite(prediction) and math.isfinite(latency_ms) and latency_ms >= 0 and ts > 0
                and math.isfinite(ts) and (ground_truth is None or math.isfinite(ground_truth))
                and type(event_id) is str and 0 < len(event_id) <= 128
                and not isinstance(prediction, bool) and not isinstance(latency_ms, bool))
    except TypeError:
        return False
