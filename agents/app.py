"""The predwatch worker: a Faust app whose agent feeds the monitor and publishes what it decides.

One agent (concurrency 1) consumes ``predwatch.predictions``; for every message it calls
:meth:`agents.monitor.Monitor.handle` and sends dead letters.  A timer evaluates due keys
(every N events or T seconds), publishes MetricSnapshots and alerts, updates Prometheus, reloads
rules when their Redis version changes, and checkpoints each partition's state (with the offset of
its last handled message) to Redis.  On assignment, a partition's checkpoint is restored and the
consumer is moved to the offset after it, so a restarted worker continues where it was: no new
warm-up, no event counted twice, none lost.

Outputs go through one lock with the input, so a checkpoint never records an offset whose dead
letters or alerts were not yet sent.  Alerts are claimed in Redis (``SET NX`` on their
deterministic id) before publishing: a re-processed stream cannot publish a firing alert twice.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import resource
import time
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from agents.metrics import WorkerMetrics, build_metrics
from agents.monitor import Monitor, MonitorSettings, key_of
from detectors.bank import MonitorConfig
from registry.errors import RegistryError
from registry.monitoring import AlertLog, CheckpointStore, RuleStore
from streams.records import Alert, encode
from streams.rules import Rule, default_rules, load_rules
from streams.settings import Settings
from streams.topics import ALERTS, DEADLETTER, METRICS, PREDICTIONS, ensure_topics, topic_name

log = logging.getLogger("predwatch.worker")

__version__ = "0.1.0"
#: Events scored by the anomaly detector: 1 in 50 (River's HalfSpaceTrees row by row cost ~50 µs per
#: scored event here; the bank's batch path now costs ~3 µs per scored row plus ~0.1 ms per update,
#: ~0.2 µs per event at 1 in 50 and ~0.4 at 1 in 10).
ANOMALY_SAMPLE_EVERY = 50
#: How long the broker may hold a fetch open waiting for data.  aiokafka keeps one fetch in
#: flight per broker, and partitions without data make it a long poll: the partitions that do
#: have data wait for it to return.  Faust hard-codes 1,500 ms (and measured stalls of ~0.5-0.7 s
#: every few hundred ms of work halved the worker's throughput); 20 ms bounds those stalls.
FETCH_MAX_WAIT_MS = 20


@dataclass
class WorkerStatus:
    started_at: float = field(default_factory=time.time)
    redis_ok: bool = False
    broker_ok: bool = False
    last_message_at: float = 0.0  # monotonic
    last_evaluation_ms: float | None = None
    messages: int = 0
    counted: int = 0
    deadlettered: int = 0
    duplicates_skipped: int = 0
    early_skipped: int = 0  # read before the partition's assignment was handled: read again
    alerts_published: int = 0
    alerts_deduplicated: int = 0
    checkpoints: int = 0
    handle_seconds: float = 0.0  # CPU spent deciding (Monitor.handle), for /health
    checkpoint_seconds: float = 0.0
    checkpoint_errors: int = 0
    rules_version: int = -1
    lag: dict[int, int] = field(default_factory=dict)
    assigned: set[int] = field(default_factory=set)
    assignment_done: bool = False


class PredwatchWorker:
    """Wires the Faust app, the monitor, Redis stores, Prometheus metrics and the web endpoints."""

    def __init__(self, settings: Settings, *, monitor_settings: MonitorSettings | None = None,
                 checkpoint_interval_s: float = 2.0, tick_interval_s: float = 0.25,
                 metrics_registry: CollectorRegistry | None = None) -> None:
        if settings.kafka_is_embedded or settings.redis_is_embedded:
            raise ValueError("resolve embedded services first (streams.embedded.resolve)")
        self.settings = settings
        self.group = f"{settings.topic_prefix}-monitor"
        self.monitor = Monitor(monitor_settings or MonitorSettings(
            eval_events=settings.eval_events, eval_interval_s=settings.eval_interval_s,
            detectors=MonitorConfig(window_events=settings.window_events, reference_size=settings.window_events,
                                    false_alarm_rate=settings.false_alarm_rate,
                                    anomaly_sample_every=ANOMALY_SAMPLE_EVERY)), reference_for=self._reference_for)
        self.checkpoint_interval_s = checkpoint_interval_s
        self.tick_interval_s = tick_interval_s
        self.registry = metrics_registry or CollectorRegistry()
        self.metrics: WorkerMetrics = build_metrics(self.registry)
        self.status = WorkerStatus()
        self.rules_store = RuleStore(settings.redis, prefix=settings.topic_prefix)
        self.alert_log = AlertLog(settings.redis, prefix=settings.topic_prefix)
        self.checkpoints = CheckpointStore(settings.redis, prefix=settings.topic_prefix)
        self.file_rules: list[Rule] = load_rules(settings.config_path) if settings.config_path else default_rules()
        self.rules: list[Rule] = list(self.file_rules)
        self.monitor.rules = self.rules
        self.monitor.context_for = self._context
        self.monitor.on_latencies = self.metrics.observe_latencies
        self._model_registry = None
        self._context_cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = asyncio.Lock()
        self._last_checkpoint = time.monotonic()
        self._dirty: set[int] = set()
        # assigned partitions whose assignment was handled (restored, sought); messages of other
        # partitions wait for it (see _on_assigned)
        self._placed: set[int] = set()
        self._uncounted: dict[str, int] = {}
        self._inflight: list[Any] = []
        self._events_per_message: dict[int, float] = {}  # moving average, for lag in events
        self._last_reference_refresh = time.monotonic()
        self._admin: Any = None
        self._last_health_check = 0.0
        self.topics = {s.suffix: topic_name(settings, s) for s in (PREDICTIONS, METRICS, ALERTS, DEADLETTER)}
        ensure_topics(settings)
        self.app = self._build_app()

    # --- Faust wiring -------------------------------------------------------------------------

    def _build_app(self) -> faust.App:
        s = self.settings
        brokers = ";".join(f"kafka://{h}" for h in s.kafka_bootstrap.split(","))
        datadir = s.state_dir / "faust"
        datadir.mkdir(parents=True, exist_ok=True)
        app = faust.App(
            self.group, broker=brokers, store="memory://", autodiscover=False,
            web_enabled=True, web_port=s.web_port, web_bind="0.0.0.0", web_host="127.0.0.1",
            datadir=str(datadir), topic_partitions=s.partitions,
            broker_session_timeout=10, broker_heartbeat_interval=1, broker_rebalance_timeout=20,
            consumer_auto_offset_reset="earliest", broker_commit_interval=1.0,
            stream_buffer_maxsize=4096, broker_max_poll_records=500, producer_linger=0.005,
            producer_max_request_size=2_000_000, consumer_max_fetch_size=4 * 1024 * 1024,
            broker_credentials=_credentials(s), table_cleanup_interval=3600,
        )
        app.transport = ShortPollTransport(app.conf.broker_consumer, app)
        self.predictions = app.topic(self.topics["predictions"], key_type=bytes, value_type=bytes,
                                     key_serializer="raw", value_serializer="raw", partitions=s.partitions)
        self.metrics_topic = app.topic(self.topics["metrics"], key_serializer="raw", value_serializer="raw")
        self.alerts_topic = app.topic(self.topics["alerts"], key_serializer="raw", value_serializer="raw")
        self.deadletter_topic = app.topic(self.topics["deadletter"], key_serializer="raw", value_serializer="raw")

        @app.agent(self.predictions, concurrency=1, name="monitor")
        async def monitor_agent(stream):
            async for event in stream.events():
                await self._on_message(event.message)

        @app.task
        async def freeze_startup_objects() -> None:
            # The worker's own objects (modules, Faust, the app) live as long as the process:
            # frozen, full collections no longer walk them (measured: 5 full collections of ~85 ms
            # each in 10 s of envelope processing, most of the worker's GC time).
            gc.freeze()

        @app.timer(self.tick_interval_s, name="tick")
        async def tick() -> None:
            await self._tick()

        app.on_partitions_assigned.connect(self._on_assigned)
        app.on_partitions_revoked.connect(self._on_revoked)
        worker = self

        @app.page("/metrics")
        async def metrics_page(web, request):
            return web.bytes(generate_latest(worker.registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

        @app.page("/health")
        async def health_page(web, request):
            return web.json(worker.health())

        @app.page("/ready")
        async def ready_page(web, request):
            ready, reasons = worker.readiness()
            return web.json({"ready": ready, "reasons": reasons}, status=200 if ready else 503)

        app.predwatch_positions = self._seek_positions  # read by _Consumer.perform_seek
        self.app = app
        return app

    def _position(self, partition: int) -> int:
        """Where a partition is read from: just after the last message its state holds, or the
        start without state (never the group's committed offset, see _on_assigned)."""
        ps = self.monitor.partitions.get(partition)
        return ps.offset + 1 if ps is not None else 0

    def _seek_positions(self) -> dict[Any, int]:
        """:meth:`_position` of every partition whose assignment was handled."""
        topic = self.topics["predictions"]
        return {TP(topic, p): self._position(p) for p in self._placed}

    async def _on_message(self, message: Any) -> None:
        async with self._lock:
            if message.partition not in self._placed:
                # read before this worker restored the partition and sought (Faust's recovery
                # resumes from the group's committed offsets, which may run ahead of the
                # checkpoint): it is read again from the right place, so it is not handled now
                self.status.early_skipped += 1
                return
            st = self.status
            st.messages += 1
            st.last_message_at = time.monotonic()
            t0 = time.perf_counter()
            outcome = self.monitor.handle(message.partition, message.offset, message.value, topic=message.topic,
                                          key=message.key)
            st.handle_seconds += time.perf_counter() - t0
            if outcome.duplicate:
                st.duplicates_skipped += 1
                return
            self._dirty.add(message.partition)
            epm = self._events_per_message.get(message.partition, 1.0)
            self._events_per_message[message.partition] = 0.9 * epm + 0.1 * max(1, outcome.counted)
            if outcome.counted and outcome.key:
                # Prometheus counters are bumped once per tick, not per message (a label lookup costs µs)
                self._uncounted[outcome.key] = self._uncounted.get(outcome.key, 0) + outcome.counted
                st.counted += outcome.counted
            for dl in outcome.deadletters:
                self.metrics.count_invalid(dl.reason)
                self.metrics.count_deadletter(dl.reason)
                log.warning("dead-lettered %s[%d]@%d: %s: %s", dl.topic, dl.partition, dl.offset, dl.reason,
                            dl.error[:300])
                await self._send(self.deadletter_topic, f"{dl.topic}/{dl.partition}/{dl.offset}".encode(), encode(dl))
                st.deadlettered += 1
            for snapshot, alerts in outcome.evaluations:
                await self._publish_evaluation(message.partition, snapshot, alerts)

    async def _send(self, topic: Any, key: bytes, value: bytes, *, wait: bool = False) -> None:
        """Produce; unless ``wait``, the acknowledgement is awaited before the next checkpoint."""
        fut = await topic.send(key=key, value=value)
        if wait:
            await fut
        else:
            self._inflight.append(fut)

    async def _settle(self) -> None:
        """Wait until every output sent so far is acknowledged (a checkpoint may then cover it)."""
        inflight, self._inflight = self._inflight, []
        for fut in inflight:
            await fut

    async def _evaluate(self, partition: int, key: str) -> None:
        snapshot, alerts = self.monitor.evaluate(partition, key)
        await self._publish_evaluation(partition, snapshot, alerts)

    async def _publish_evaluation(self, partition: int, snapshot: Any, alerts: list[Alert]) -> None:
        model, version = snapshot.model, snapshot.version
        self._flush_counts()
        self.status.last_evaluation_ms = self.monitor.last_evaluation_s * 1000.0
        self.metrics.observe_evaluation(self.monitor.last_evaluation_s)
        self.metrics.record_snapshot(model, version, snapshot.metrics)
        await self._send(self.metrics_topic, model.encode(), encode(snapshot))
        for alert in alerts:
            await self._publish_alert(alert)
        firing: dict[str, int] = {}
        for st in self.monitor.partitions[partition].rules.firing():
            if st.model == model and st.version == version:
                firing[st.severity] = firing.get(st.severity, 0) + 1
        for severity in ("info", "warning", "critical"):
            self.metrics.set_firing(model, version, severity, firing.get(severity, 0))
        self._dirty.add(partition)

    async def _publish_alert(self, alert: Alert) -> None:
        try:
            first = self.alert_log.claim(alert)
        except RegistryError as exc:  # Redis down: publish anyway (consumers can dedup by alert_id)
            log.warning("alert dedup unavailable (%s); publishing %s without a claim", exc, alert.alert_id)
            alert.context["dedup"] = "unavailable"
            first = True
        if not first:
            self.status.alerts_deduplicated += 1
            log.info("alert %s (%s) was already published: skipped", alert.alert_id, alert.status)
            return
        try:
            await self._send(self.alerts_topic, alert.fingerprint.encode(), encode(alert), wait=True)
        except Exception:
            try:
                self.alert_log.release(alert)
            except RegistryError:
                pass
            raise
        self.status.alerts_published += 1
        self.metrics.count_alert(alert.model, alert.version, alert.severity, alert.status)
        log.info("alert %s %s: %s", alert.status, alert.fingerprint, alert.message)
        try:
            self.alert_log.record(alert)
        except RegistryError as exc:
            log.warning("could not record alert %s in Redis: %s", alert.alert_id, exc)

    async def _tick(self) -> None:
        now = time.monotonic()
        if now - self._last_health_check >= 2.0:
            self._last_health_check = now
            await self._check_dependencies()
        async with self._lock:
            for partition, key in self.monitor.due(now):
                await self._evaluate(partition, key)
            if now - self._last_checkpoint >= self.checkpoint_interval_s:
                await self._checkpoint_all()
        self._flush_counts()
        self._update_lag()
        self.metrics.set_models(len(self.monitor.keys()))

    def _flush_counts(self) -> None:
        pending, self._uncounted = self._uncounted, {}
        for key, n in pending.items():
            model, _, version = key.partition("@")
            self.metrics.count_events(model, version, n)

    async def _checkpoint_all(self, partitions: set[int] | None = None) -> None:
        await self._settle()
        t0 = time.perf_counter()
        try:
            self._write_checkpoints(partitions)
        finally:
            self.status.checkpoint_seconds += time.perf_counter() - t0

    def _write_checkpoints(self, partitions: set[int] | None) -> None:
        todo = set(self._dirty) if partitions is None else (partitions & set(self.monitor.partitions))
        for p in sorted(todo):
            if p not in self.monitor.partitions:
                continue
            try:
                self.checkpoints.save(self.group, self.topics["predictions"], p, self.monitor.checkpoint(p))
                self._dirty.discard(p)
                self.status.checkpoints += 1
            except RegistryError as exc:
                self.status.checkpoint_errors += 1
                log.warning("checkpoint of partition %d failed (will retry): %s", p, exc)
        self._last_checkpoint = time.monotonic()

    async def _check_dependencies(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.status.redis_ok = await loop.run_in_executor(None, self.rules_store.ping)
        except (RegistryError, OSError):
            self.status.redis_ok = False
        if self.status.redis_ok:
            try:
                version = await loop.run_in_executor(None, self.rules_store.version)
                if version != self.status.rules_version:
                    stored = await loop.run_in_executor(None, self.rules_store.list)
                    names = {r.name for r in stored}
                    self.rules = [r for r in self.file_rules if r.name not in names] + stored
                    self.monitor.rules = self.rules
                    self.status.rules_version = version
                    log.info("rules reloaded (version %d): %s", version, [r.name for r in self.rules])
            except (RegistryError, ValueError) as exc:
                log.warning("could not reload rules: %s", exc)
        self.status.broker_ok = await loop.run_in_executor(None, self._broker_reachable)
        if self.status.redis_ok and time.monotonic() - self._last_reference_refresh >= self.settings.reference_refresh_s:
            self._last_reference_refresh = time.monotonic()
            try:
                await self._refresh_references()
            except (ValueError, KeyError) as exc:  # a malformed reference in the registry
                log.warning("could not refresh references: %s", exc)

    def _broker_reachable(self) -> bool:
        if self._admin is None:  # one client, reused: each new one starts librdkafka threads
            from confluent_kafka.admin import AdminClient

            self._admin = AdminClient({**self.settings.confluent_config(), "log_level": 0})
        try:
            self._admin.list_topics(timeout=2.0)
            return True
        except Exception:
            return False

    def _update_lag(self) -> None:
        consumer = getattr(self.app, "_consumer", None)
        if consumer is None:
            return
        topic = self.topics["predictions"]
        for p in list(self.status.assigned):
            try:
                hw = consumer.highwater(TP(topic, p))
            except Exception:
                continue
            if hw is None:
                continue
            ps = self.monitor.partitions.get(p)
            done = ps.offset + 1 if ps is not None else 0
            waiting_messages = max(0, int(hw) - done)
            # lag in events: waiting messages times the events per message seen on this partition
            lag = int(round(waiting_messages * self._events_per_message.get(p, 1.0)))
            self.status.lag[p] = lag
            self.metrics.set_consumer_lag(topic, p, lag)

    async def _on_assigned(self, sender: Any, assigned: Any, **kwargs: Any) -> None:
        topic = self.topics["predictions"]
        mine = {tp.partition for tp in assigned if tp.topic == topic}
        async with self._lock:
            for p in sorted(mine - set(self.monitor.partitions)):
                try:
                    data = self.checkpoints.load(self.group, topic, p)
                except RegistryError as exc:
                    log.error("cannot load checkpoint of partition %d: %s", p, exc)
                    data = None
                if data is None:
                    continue
                ps = self.monitor.restore(p, data)
                log.info("partition %d restored from checkpoint at offset %d (%d keys)", p, ps.offset, len(ps.keys))
            # Every assigned partition is read from just after what its state includes: the
            # checkpoint's offset, or the start when there is no checkpoint.  Never from the
            # group's committed offsets alone: Faust commits what was handled every second, so
            # an owner killed between two checkpoints leaves commits ahead of its checkpoint
            # (the events in between would be lost).  Faust's recovery seeks to the committed
            # offsets too, before or after this handler: _Consumer.perform_seek applies these
            # positions again after its own seek, and messages read before they are known are
            # not handled (_on_message).
            self._placed |= mine
            resume = {TP(topic, p): self._position(p) for p in sorted(mine)}
            if resume:
                # seek_wait runs the seek in the consumer's thread: Faust's plain seek() calls
                # aiokafka from this thread, racing the fetcher (a KeyError that stopped a worker
                # in the fault tests when the other worker left)
                await self.app.consumer.seek_wait(resume)
        self.status.assigned = mine
        self.status.assignment_done = True

    async def _on_revoked(self, sender: Any, revoked: Any, **kwargs: Any) -> None:
        topic = self.topics["predictions"]
        gone = {tp.partition for tp in revoked if tp.topic == topic}
        async with self._lock:
            self._flush_counts()
            await self._checkpoint_all(gone)
            for p in gone:
                self._placed.discard(p)
                ps = self.monitor.partitions.get(p)
                for ks in (ps.keys.values() if ps is not None else ()):
                    self.metrics.forget(ks.model, ks.version)  # the new owner exports this key now
                self.monitor.drop(p)
                self.metrics.forget_partition(topic, p)
        self.status.assigned -= gone

    async def shutdown(self) -> None:
        """Final checkpoint of everything held (called when the worker stops)."""
        async with self._lock:
            await self._checkpoint_all(set(self.monitor.partitions))

    # --- registry lookups -----------------------------------------------------------------------

    def _registry(self):
        if self._model_registry is None:
            from registry import ModelRegistry

            self._model_registry = ModelRegistry(self.settings.redis, prefix=self.settings.topic_prefix)
        return self._model_registry

    def _reference_for(self, model: str, version: str) -> dict | None:
        """The registry's reference: the snapshot taken at promotion for the production version,
        else the one stored for the version; None means "build it from the first events"."""
        try:
            reg = self._registry()
            if reg.get_production_version(model) == version:
                active = reg.get_active_reference(model)
                if active is not None:
                    return active
            return reg.get_reference(model, version)
        except (RegistryError, KeyError, ValueError):
            return None

    async def _refresh_references(self) -> None:
        """Install references changed in the registry (a promotion, a rollback, a new sample)."""
        from detectors.reference import Reference

        def canonical(ref: dict | None) -> str | None:
            return None if ref is None else json.dumps(Reference.from_dict(ref).to_dict(), sort_keys=True)

        loop = asyncio.get_running_loop()
        for model, version in self.monitor.keys():
            ref = await loop.run_in_executor(None, self._reference_for, model, version)
            if ref is None:
                continue
            wanted = canonical(ref)
            async with self._lock:
                for ps in self.monitor.partitions.values():
                    ks = ps.keys.get(key_of(model, version))
                    if ks is not None and wanted != canonical(ks.bank.reference_dict()):
                        self.monitor.set_reference(model, version, ref)
                        self._dirty.add(ps.partition)
                        log.info("reference of %s@%s replaced from the registry", model, version)

    def _context(self, model: str) -> dict[str, Any]:
        now = time.monotonic()
        hit = self._context_cache.get(model)
        if hit is not None and now - hit[0] < 10.0:
            return hit[1]
        context: dict[str, Any] = {}
        try:
            reg = self._registry()
            context["production_version"] = reg.get_production_version(model)
            previous = reg.previous_production_versions(model)
            if previous:
                context["previous_production_version"] = previous[-1]
        except (RegistryError, KeyError, ValueError, AttributeError):
            pass
        self._context_cache[model] = (now, context)
        return context

    # --- health ---------------------------------------------------------------------------------

    def readiness(self) -> tuple[bool, list[str]]:
        st = self.status
        reasons = []
        if not st.redis_ok:
            reasons.append("redis unreachable")
        if not st.broker_ok:
            reasons.append("broker unreachable")
        if not st.assignment_done:
            reasons.append("partition assignment not done")
        waiting = sum(st.lag.values())
        if waiting and st.last_message_at and time.monotonic() - st.last_message_at > 30:
            reasons.append(f"{waiting} event(s) waiting but nothing consumed for 30s")
        return not reasons, reasons

    def health(self) -> dict[str, Any]:
        st = self.status
        ready, reasons = self.readiness()
        rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            import psutil

            rss = psutil.Process(os.getpid()).memory_info().rss
        except Exception:
            rss = rss_kib * 1024
        return {
            "status": "ok" if ready else "degraded",
            "version": __version__,
            "uptime_s": round(time.time() - st.started_at, 1),
            "models": len(self.monitor.keys()),
            "partitions": sorted(st.assigned),
            "last_evaluation_ms": None if st.last_evaluation_ms is None else round(st.last_evaluation_ms, 3),
            "memory_rss_bytes": rss,
            "checks": {"broker": st.broker_ok, "redis": st.redis_ok, "assignment": st.assignment_done},
            "not_ready": reasons,
            "counters": {"messages": st.messages, "events_counted": st.counted, "deadlettered": st.deadlettered,
                         "duplicates_skipped": st.duplicates_skipped, "early_skipped": st.early_skipped,
                         "alerts_published": st.alerts_published,
                         "alerts_deduplicated": st.alerts_deduplicated, "checkpoints": st.checkpoints,
                         "checkpoint_errors": st.checkpoint_errors},
            "seconds": {"handling": round(st.handle_seconds, 3), "checkpointing": round(st.checkpoint_seconds, 3)},
            "lag": {str(p): n for p, n in sorted(st.lag.items())},
            "rules": [r.name for r in self.rules],
        }


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        """Faust's recovery seeks every partition to the group's committed offset; the worker's
        own positions (from its checkpoints) then win, whichever of the two ran first."""
        await super().perform_seek()
        positions = getattr(self.app, "predwatch_positions", None)
        if positions is not None:
            mine = positions()
            assigned = self.assignment()
            mine = {tp: offset for tp, offset in mine.items() if tp in assigned}
            if mine:
                await self.seek_wait(mine)


class ShortPollTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with a short fetch long-poll (see FETCH_MAX_WAIT_MS)."""

    Consumer = _Consumer


def _credentials(settings: Settings) -> Any:
    sec = settings.security
    if sec.protocol == "PLAINTEXT":
        return None
    import ssl

    context = None
    if sec.protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=sec.ssl_cafile)
        if sec.ssl_certfile:
            context.load_cert_chain(sec.ssl_certfile, sec.ssl_keyfile)
    if sec.protocol == "SSL":
        return faust.SSLCredentials(context)
    mechanism = {"PLAIN": faust.auth.SASLMechanism.PLAIN, "SCRAM-SHA-256": faust.auth.SASLMechanism.SCRAM_SHA_256,
                 "SCRAM-SHA-512": faust.auth.SASLMechanism.SCRAM_SHA_512}[sec.sasl_mechanism or "PLAIN"]
    return faust.SASLCredentials(username=sec.sasl_username, password=sec.sasl_password, ssl_context=context,
                                 mechanism=mechanism)


def run_worker(settings: Settings, *, loglevel: str = "info", **kwargs: Any) -> None:
    """Run a worker until SIGTERM/SIGINT; the final checkpoint is written on the way out."""
    worker = PredwatchWorker(settings, **kwargs)

    @worker.app.service
    class _FinalCheckpoint(faust.Service):  # stopped before the consumer: checkpoint on the way out
        async def on_stop(self) -> None:
            await worker.shutdown()

    faust_worker = faust.Worker(worker.app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    # Faust's terminal spinner sets the root logger to DEBUG (to spin on every record) and leaves
    # it there: every debug call of aiokafka and Faust then builds a LogRecord.  No spinner here.
    faust_worker.spinner = None
    faust_worker.execute_from_commandline()
