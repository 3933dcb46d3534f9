"""The monitor's core: messages in, counted events, dead letters, snapshots and alerts out (no I/O).

The Faust agent (:mod:`agents.app`) feeds every message of the predictions topic to
:meth:`Monitor.handle` and calls :meth:`Monitor.evaluate` when a key is due; everything it then
sends or stores comes back from these calls, so tests drive the whole decision path without a
broker.

State is kept per partition (:class:`PartitionState`): the detector bank of every
(model, version) key in it, the rule engine's fingerprints, the join buffer for late feedback and
the offset of the last message handled.  A message at or below that offset was already counted
(Faust re-delivers after a rebalance or restart) and is skipped, which together with the
checkpoint makes the count exact: every message is either counted into a window or dead-lettered,
once.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Callable

import msgspec
import numpy as np

from agents.columns import Columns, from_column_batch, to_columns
from agents.rule_engine import RuleEngine
from detectors.bank import MonitorConfig, VersionMonitor
from streams import metric_names as mn
from streams.errors import ContractError
from streams.records import (
    Alert,
    ColumnBatch,
    DeadLetter,
    EventBatch,
    MetricSnapshot,
    PredictionEvent,
    WindowInfo,
    dead_letter,
    decode_payload,
    encode,
)
from streams.rules import Rule

ReferenceLookup = Callable[[str, str], "dict | None"]
_KIND, _VERSION, _TS = attrgetter("kind"), attrgetter("version"), attrgetter("ts")
#: Runs of at least this many predictions are buffered as columns, shorter ones as events.
COLUMNS_FROM = 32


@dataclass
class MonitorSettings:
    """How the monitor windows, evaluates and joins (defaults from :class:`streams.settings.Settings`)."""

    eval_events: int = 1000
    eval_interval_s: float = 5.0
    flush_events: int = 1000  # buffered events of a key are pushed into its bank at this size
    feedback_ttl_s: float = 3600.0  # a prediction waits this long (event time) for its feedback
    feedback_max_pending: int = 20_000  # per key
    detectors: MonitorConfig = field(default_factory=MonitorConfig)

    def __post_init__(self) -> None:
        if self.eval_events < 1:
            raise ValueError(f"eval_events must be >= 1, got {self.eval_events!r}")
        if not self.eval_interval_s > 0:
            raise ValueError(f"eval_interval_s must be > 0, got {self.eval_interval_s!r}")


@dataclass
class Outcome:
    """What one message did."""

    counted: int = 0  # prediction events and matched feedback counted into windows
    deadletters: list[DeadLetter] = field(default_factory=list)
    duplicate: bool = False  # offset already handled: skipped
    key: str | None = None
    evaluations: list[tuple[MetricSnapshot, list[Alert]]] = field(default_factory=list)


class KeyState:
    """Everything kept for one (model, version)."""

    def __init__(self, model: str, version: str, bank: VersionMonitor) -> None:
        self.model, self.version, self.bank = model, version, bank
        self.key = key_of(model, version)
        self.events_total = 0
        self.feedback_total = 0
        self.since_eval = 0
        self.last_eval = 0.0  # wall clock of the last evaluation (not checkpointed)
        self.max_ts = 0.0
        self.buf: list[Columns | list[PredictionEvent]] = []  # predictions not yet in the bank
        self.buffered = 0  # their number
        self.fb_buf: list[tuple[float, float, float]] = []
        self.pending: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def to_dict(self) -> dict[str, Any]:
        assert not self.buf and not self.fb_buf, "flush before checkpointing"
        return {"model": self.model, "version": self.version, "bank": self.bank.to_dict(),
                "events_total": self.events_total, "feedback_total": self.feedback_total,
                "since_eval": self.since_eval, "max_ts": self.max_ts,
                "pending": [[k, t, p] for k, (t, p) in self.pending.items()]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "KeyState":
        ks = cls(d["model"], d["version"], VersionMonitor.from_dict(d["bank"]))
        ks.events_total, ks.feedback_total = d["events_total"], d["feedback_total"]
        ks.since_eval, ks.max_ts = d["since_eval"], d["max_ts"]
        ks.pending = OrderedDict((k, (t, p)) for k, t, p in d["pending"])
        return ks


class PartitionState:
    """The state of one partition of the predictions topic."""

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self.offset = -1
        self.keys: dict[str, KeyState] = {}
        self.rules = RuleEngine()
        self.invalid: dict[str, int] = {}  # by message key (the model name), "" when none

    def to_dict(self) -> dict[str, Any]:
        return {"partition": self.partition, "offset": self.offset,
                "keys": {k: ks.to_dict() for k, ks in self.keys.items()},
                "rules": self.rules.to_dict(), "invalid": dict(self.invalid)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PartitionState":
        ps = cls(d["partition"])
        ps.offset = d["offset"]
        ps.keys = {k: KeyState.from_dict(v) for k, v in d["keys"].items()}
        ps.rules = RuleEngine.from_dict(d["rules"])
        ps.invalid = dict(d.get("invalid", {}))
        return ps


def key_of(model: str, version: str) -> str:
    return f"{model}@{version}"


class Monitor:
    """Per-partition state and the decisions made on it."""

    def __init__(self, settings: MonitorSettings | None = None, reference_for: ReferenceLookup | None = None) -> None:
        self.settings = settings or MonitorSettings()
        self.reference_for = reference_for or (lambda model, version: None)
        self.partitions: dict[int, PartitionState] = {}
        self.rules: list[Rule] = []  # applied at every evaluation
        self.context_for: Callable[[str], dict[str, Any]] = lambda model: {}
        self.evaluate_inline = True  # evaluate every eval_events events inside handle()
        self.on_latencies: Callable[[str, str, np.ndarray], None] | None = None  # e.g. a Prometheus histogram
        self.last_evaluation_s = 0.0

    # --- input ------------------------------------------------------------------------------------

    def partition(self, partition: int) -> PartitionState:
        ps = self.partitions.get(partition)
        if ps is None:
            ps = self.partitions[partition] = PartitionState(partition)
        return ps

    def handle(self, partition: int, offset: int, raw: bytes | None, *, topic: str, key: bytes | None = None,
               now: float | None = None) -> Outcome:
        """Count one message of the predictions topic into its windows, or dead-letter it."""
        ps = self.partition(partition)
        if offset <= ps.offset:
            return Outcome(duplicate=True)
        ps.offset = offset
        try:
            if raw is None:
                raise ContractError([("$", None, "a JSON message (got a record without a value)")], reason="not_json")
            events = decode_payload(raw)
        except ContractError as exc:
            name = (key or b"").decode("utf-8", "replace")[:128]
            ps.invalid[name] = ps.invalid.get(name, 0) + 1
            return Outcome(deadletters=[dead_letter(raw, exc, topic=topic, partition=partition, offset=offset,
                                                    ts=time.time() if now is None else now)])
        out = Outcome()
        if type(events) is ColumnBatch:  # a columnar envelope: one key, predictions only, columns already
            ks = self._key(ps, events.model, events.version)
            out.key = ks.key
            self._add_predictions(ks, None, out, partition, self._every(), cols=from_column_batch(events),
                                  ids=events.event_id)
            self._bound(ks)
            return out
        if len(events) == 1 or len(events.versions if isinstance(events, EventBatch)
                                   else set(map(_VERSION, events))) == 1:
            groups = {events[0].version: events}
        else:
            groups = {}
            for e in events:
                groups.setdefault(e.version, []).append(e)
        for version, evs in groups.items():
            ks = self._key(ps, evs[0].model, version)
            out.key = ks.key
            self._add(ks, evs, out, topic=topic, partition=partition, offset=offset, now=now)
        return out

    def _key(self, ps: PartitionState, model: str, version: str) -> KeyState:
        k = key_of(model, version)
        ks = ps.keys.get(k)
        if ks is None:
            reference = self.reference_for(model, version)
            ks = ps.keys[k] = KeyState(model, version, VersionMonitor(self.settings.detectors, reference=reference))
            ks.last_eval = time.monotonic()
        return ks

    def _add(self, ks: KeyState, events: list[PredictionEvent], out: Outcome, *, topic: str, partition: int,
             offset: int, now: float | None) -> None:
        """Count events in order: runs of predictions, and feedback joined to the predictions before it."""
        every = self._every()
        if (isinstance(events, EventBatch) or len(events) == 1 and events[0].kind == "prediction"
                or "feedback" not in set(map(_KIND, events))):
            self._add_predictions(ks, events, out, partition, every)  # the common case: predictions only
        else:
            start = 0
            for i, e in enumerate(events):
                if e.kind == "prediction":
                    continue
                if i > start:
                    self._add_predictions(ks, events[start:i], out, partition, every)
                start = i + 1
                self._add_feedback(ks, e, out, topic=topic, partition=partition, offset=offset, now=now)
            if start < len(events):
                self._add_predictions(ks, events[start:], out, partition, every)
        self._bound(ks)

    def _every(self) -> int:
        """Events between inline evaluations (none when the caller evaluates)."""
        return self.settings.eval_events if self.evaluate_inline else 1 << 62

    def _bound(self, ks: KeyState) -> None:
        """Keep the feedback join buffer bounded and push full buffers into the bank."""
        s = self.settings
        pending = ks.pending
        while len(pending) > s.feedback_max_pending:
            pending.popitem(last=False)
        if ks.buffered >= s.flush_events or len(ks.fb_buf) >= s.flush_events:
            self.flush(ks)

    def _add_predictions(self, ks: KeyState, events: list[PredictionEvent] | None, out: Outcome, partition: int,
                         every: int, cols: Columns | None = None, ids: list[str] | None = None) -> None:
        """Predictions, in chunks that end exactly at evaluation points (every N events, also
        inside a large envelope).

        A run of ``COLUMNS_FROM`` events or more is turned into columns at once and buffered as
        column parts; shorter runs (single-event messages) are buffered as events, which become
        columns at flush (numpy costs microseconds per array, whatever its length).  A columnar
        envelope comes as ``cols`` with its event ids (``events`` None).
        """
        pending = ks.pending
        if cols is None:
            n = len(events)
            cols = to_columns(events) if n >= COLUMNS_FROM else None
        else:
            n = len(cols)
        i = 0
        while i < n:
            take = min(n - i, every - ks.since_eval) if every > ks.since_eval else 1
            if cols is not None:
                chunk = cols.slice(i, i + take) if take < n else cols
                ks.buf.append(chunk)
                waiting = np.flatnonzero(np.isnan(chunk.ground_truth))  # no ground truth: may get feedback
                if waiting.size:
                    for j, t, p in zip((waiting + i).tolist(), chunk.ts[waiting].tolist(),
                                       chunk.prediction[waiting].tolist()):
                        pending[events[j].event_id if ids is None else ids[j]] = (t, p)
                top = float(chunk.ts.max())
            else:
                run = events[i:i + take] if take < n else events
                if ks.buf and type(ks.buf[-1]) is list:
                    ks.buf[-1].extend(run)
                else:
                    ks.buf.append(list(run))
                for e in run:
                    if e.ground_truth is None:
                        pending[e.event_id] = (e.ts, e.prediction)
                top = run[0].ts if take == 1 else max(map(_TS, run))
            ks.buffered += take
            i += take
            if top > ks.max_ts:
                ks.max_ts = top
            out.counted += take
            ks.events_total += take
            ks.since_eval += take
            if ks.since_eval >= every:
                out.evaluations.append(self.evaluate(partition, ks.key))

    def _add_feedback(self, ks: KeyState, e: PredictionEvent, out: Outcome, *, topic: str, partition: int,
                      offset: int, now: float | None) -> None:
        """Late ground truth joined to its prediction by event id, or dead-lettered when there is none."""
        hit = ks.pending.pop(e.event_id, None)
        if hit is None:
            err = ContractError([("event_id", e.event_id, "the id of a prediction of this model version "
                                  f"seen in the last {self.settings.feedback_ttl_s:g}s")], reason="feedback_unmatched")
            out.deadletters.append(dead_letter(encode(e), err, topic=topic, partition=partition, offset=offset,
                                               ts=time.time() if now is None else now))
            return
        ks.fb_buf.append((e.ts, hit[1], e.ground_truth))
        ks.feedback_total += 1
        out.counted += 1

    def flush(self, ks: KeyState) -> None:
        """Push the buffered events of a key into its detector bank (one vectorised update)."""
        if ks.buf:
            cols = Columns.concat([to_columns(p) if type(p) is list else p for p in ks.buf])
            ks.buf, ks.buffered = [], 0
            ks.bank.update_batch(ts=cols.ts, latency_ms=cols.latency_ms, prediction=cols.prediction,
                                 ground_truth=cols.ground_truth, features=cols.features)
            if self.on_latencies is not None:
                self.on_latencies(ks.model, ks.version, cols.latency_ms)
        if ks.fb_buf:
            arr = np.asarray(ks.fb_buf, dtype=np.float64)
            ks.fb_buf = []
            ks.bank.add_feedback(ts=arr[:, 0], prediction=arr[:, 1], ground_truth=arr[:, 2])
        # expire predictions that waited too long for feedback (event time)
        horizon = ks.max_ts - self.settings.feedback_ttl_s
        pending = ks.pending
        while pending:
            first = next(iter(pending.values()))
            if first[0] >= horizon:
                break
            pending.popitem(last=False)

    def flush_all(self) -> None:
        for ps in self.partitions.values():
            for ks in ps.keys.values():
                self.flush(ks)

    # --- evaluation -------------------------------------------------------------------------------

    def due(self, now_monotonic: float | None = None) -> list[tuple[int, str]]:
        """Keys to evaluate: ``eval_events`` new events, or ``eval_interval_s`` since the last time."""
        now = time.monotonic() if now_monotonic is None else now_monotonic
        s = self.settings
        return [(p, k) for p, ps in self.partitions.items() for k, ks in ps.keys.items()
                if ks.since_eval >= s.eval_events or (ks.since_eval > 0 or ks.fb_buf or ks.buf)
                and now - ks.last_eval >= s.eval_interval_s]

    def evaluate(self, partition: int, key: str, *, rules: list[Rule] | None = None,
                 context: dict[str, Any] | None = None,
                 now_monotonic: float | None = None) -> tuple[MetricSnapshot, list[Alert]]:
        """Metrics of one key now, and the alerts the rules (default: ``self.rules``) raise on them."""
        ps = self.partitions[partition]
        ks = ps.keys[key]
        rules = self.rules if rules is None else rules
        context = self.context_for(ks.model) if context is None else context
        t0 = time.perf_counter()
        self.flush(ks)
        metrics = ks.bank.evaluate(ks.max_ts)
        metrics[mn.EVENTS_TOTAL] = float(ks.events_total)
        metrics[mn.INVALID_EVENTS_TOTAL] = float(ps.invalid.get(ks.model, 0))
        ks.since_eval = 0
        ks.last_eval = time.monotonic() if now_monotonic is None else now_monotonic
        _, ts = ks.bank.latency.window.rows(ks.max_ts)  # the window the metrics were computed over
        ts = ts[~np.isnan(ts)]
        window = WindowInfo(events=int(ts.size), seconds=round(float(ts.max() - ts.min()), 3) if ts.size else 0.0)
        snapshot = MetricSnapshot(model=ks.model, version=ks.version, ts=ks.max_ts, window=window,
                                  metrics={k: float(v) for k, v in metrics.items() if math.isfinite(v)})
        alerts = ps.rules.evaluate(ks.model, ks.version, snapshot.metrics, ts=ks.max_ts, rules=rules,
                                   context=context)
        self.last_evaluation_s = time.perf_counter() - t0
        return snapshot, alerts

    # --- state ------------------------------------------------------------------------------------

    def checkpoint(self, partition: int) -> bytes:
        """The partition's state as JSON bytes (buffers flushed first)."""
        ps = self.partitions[partition]
        for ks in ps.keys.values():
            self.flush(ks)
        return msgspec.json.encode(ps.to_dict())

    def restore(self, partition: int, data: bytes) -> PartitionState:
        ps = PartitionState.from_dict(msgspec.json.decode(data))
        now = time.monotonic()
        for ks in ps.keys.values():
            ks.last_eval = now
        self.partitions[partition] = ps
        return ps

    def drop(self, partition: int) -> None:
        """Forget a partition (revoked from this worker)."""
        self.partitions.pop(partition, None)

    def set_reference(self, model: str, version: str, reference: dict) -> bool:
        """Install an explicit reference for a key held here (after a promotion or rollback)."""
        for ps in self.partitions.values():
            ks = ps.keys.get(key_of(model, version))
            if ks is not None:
                self.flush(ks)
                ks.bank.set_reference(reference)
                return True
        return False

    def keys(self) -> list[tuple[str, str]]:
        return [(ks.model, ks.version) for ps in self.partitions.values() for ks in ps.keys.values()]
