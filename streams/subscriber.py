"""AlertSubscriber: read alerts from the alert topic, filtered, as an iterator or with a callback.

Without a ``group_id`` the subscriber assigns itself every partition of the alert topic (from the
beginning or from the end, i.e. only new alerts) and commits nothing: every subscriber sees every
alert.  With a ``group_id`` it joins that consumer group, so several processes share the alerts
and a restarted one continues where the group left off.  Fetching is tuned for low latency
(``fetch.wait.max.ms`` and ``fetch.queue.backoff.ms`` of 10 ms).

Examples
--------
::

    with AlertSubscriber(severities={"critical"}) as alerts:
        for alert in alerts:                       # blocks; Ctrl-C to stop
            page_someone(alert.message)
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
import uuid
from typing import Callable, Iterable, Iterator

from streams.errors import ContractError
from streams.records import Alert, decode_alert
from streams.settings import Settings
from streams.topics import ALERTS, topic_name

log = logging.getLogger(__name__)


class AlertSubscriber:
    """Iterate over alerts from the alert topic.

    Parameters
    ----------
    kafka
        ``kafka://…`` or ``host:port``; None reads the settings.
    from_beginning
        Start at the oldest retained alert (True) or only new ones (False, default).
    group_id
        Join this consumer group (offsets committed) instead of reading all partitions alone.
    models, severities, statuses
        Keep only alerts whose model matches one of these globs / whose severity or status is listed.
    """

    def __init__(self, kafka: str | None = None, *, settings: Settings | None = None, from_beginning: bool = False,
                 group_id: str | None = None, models: Iterable[str] | None = None,
                 severities: Iterable[str] | None = None, statuses: Iterable[str] | None = None) -> None:
        from confluent_kafka import Consumer

        settings = settings or Settings.from_env()
        if kafka is not None:
            settings = settings.replace(kafka=kafka if kafka.startswith(("kafka://", "embedded")) else f"kafka://{kafka}")
        self._owned = None
        if settings.kafka_is_embedded:
            from streams.embedded import resolve

            settings, self._owned = resolve(settings.replace(redis="redis://unused"))
        self.settings = settings
        self.topic = topic_name(settings, ALERTS)
        self.models = list(models) if models else None
        self.severities = set(severities) if severities else None
        self.statuses = set(statuses) if statuses else None
        from streams.topics import ensure_topics

        ensure_topics(settings, (ALERTS,))
        conf = {
            **settings.confluent_config(),
            "group.id": group_id or f"predwatch-alerts-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": group_id is not None,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "fetch.wait.max.ms": 10,
            "fetch.queue.backoff.ms": 10,
            "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 1_000,
            "log_level": 3,
        }
        self._consumer = Consumer(conf)
        self.skipped_invalid = 0
        if group_id is None:
            from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TopicPartition

            md = self._consumer.list_topics(self.topic, timeout=10)
            start = OFFSET_BEGINNING if from_beginning else OFFSET_END
            self._consumer.assign([TopicPartition(self.topic, p, start) for p in md.topics[self.topic].partitions])
        else:
            self._consumer.subscribe([self.topic])
        self._closed = False
        # "only new ones": OFFSET_END is exact on Apache Kafka, but Tansu reports the high
        # watermark of the last record *batch*, so a few older records can follow; records
        # produced more than a second before this subscriber started are skipped as well.
        self._not_before_ms = None if (from_beginning or group_id) else int((time.time() - 1.0) * 1000)

    def matches(self, alert: Alert) -> bool:
        if self.models is not None and not any(fnmatch.fnmatchcase(alert.model, m) for m in self.models):
            return False
        if self.severities is not None and alert.severity not in self.severities:
            return False
        if self.statuses is not None and alert.status not in self.statuses:
            return False
        return True

    def poll(self, timeout: float = 1.0) -> Alert | None:
        """The next matching alert, or None when none arrived within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            msg = self._consumer.poll(max(0.0, min(remaining, 0.25)))
            if msg is not None:
                if msg.error():
                    log.warning("alert topic error: %s", msg.error())
                else:
                    if self._not_before_ms is not None:
                        kind, ts_ms = msg.timestamp()
                        if kind and ts_ms < self._not_before_ms:
                            continue  # older than this subscriber (see _not_before_ms)
                    try:
                        alert = decode_alert(msg.value())
                    except ContractError as exc:
                        self.skipped_invalid += 1
                        log.warning("skipping a record on %s[%d]@%d that is not an alert: %s",
                                    msg.topic(), msg.partition(), msg.offset(), exc)
                        continue
                    if self.matches(alert):
                        return alert
                    continue
            if remaining <= 0:
                return None

    def __iter__(self) -> Iterator[Alert]:
        while not self._closed:
            alert = self.poll(0.5)
            if alert is not None:
                yield alert

    def run(self, callback: Callable[[Alert], None], *, stop: threading.Event | None = None,
            duration_s: float | None = None) -> int:
        """Call ``callback(alert)`` for each matching alert until ``stop`` is set or ``duration_s`` passes."""
        n = 0
        end = None if duration_s is None else time.monotonic() + duration_s
        while not (stop is not None and stop.is_set()) and (end is None or time.monotonic() < end):
            alert = self.poll(0.25)
            if alert is not None:
                callback(alert)
                n += 1
        return n

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.close()
            if self._owned is not None:
                self._owned.stop()

    def __enter__(self) -> "AlertSubscriber":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
