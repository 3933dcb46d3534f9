"""The topics, declared once, named with the prefix, created at start-up when missing.

========================  =============  ==============================================
topic (prefix ``predwatch``)  key        records
========================  =============  ==============================================
``predwatch.predictions``  model         PredictionEvent, batch envelope (v1) or columnar envelope (v2)
``predwatch.metrics``      model         MetricSnapshot
``predwatch.alerts``       fingerprint   Alert (firing / resolved)
``predwatch.deadletter``   source key    DeadLetter
========================  =============  ==============================================

Examples
--------
>>> from streams.settings import Settings
>>> topic_name(Settings(topic_prefix="acme"), PREDICTIONS)
'acme.predictions'
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from streams.errors import ServiceError
from streams.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    suffix: str
    key: str
    description: str
    partitions: int | None = None  # None: the configured PREDWATCH_PARTITIONS
    retention_ms: int = 7 * 24 * 3600 * 1000


PREDICTIONS = TopicSpec("predictions", "model", "prediction events, batch and columnar envelopes")
METRICS = TopicSpec("metrics", "model", "metric snapshots per (model, version)")
ALERTS = TopicSpec("alerts", "fingerprint", "firing and resolved alerts", retention_ms=30 * 24 * 3600 * 1000)
DEADLETTER = TopicSpec("deadletter", "source key", "rejected messages with a reason", retention_ms=30 * 24 * 3600 * 1000)
ALL = (PREDICTIONS, METRICS, ALERTS, DEADLETTER)


def topic_name(settings: Settings, spec: TopicSpec) -> str:
    return settings.topic(spec.suffix)


def ensure_topics(settings: Settings, specs: tuple[TopicSpec, ...] = ALL, *, timeout_s: float = 30.0) -> list[str]:
    """Create the missing topics (existing ones are left as they are); returns the created names."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(settings.confluent_config())
    deadline = time.monotonic() + timeout_s
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise ServiceError("broker", f"cannot list topics at {settings.kafka}: {exc}") from None
    wanted = {topic_name(settings, s): s for s in specs}
    missing = [
        NewTopic(name, num_partitions=spec.partitions or settings.partitions, replication_factor=-1,
                 config={"retention.ms": str(spec.retention_ms)})
        for name, spec in wanted.items() if name not in existing
    ]
    created = []
    if missing:
        for name, future in admin.create_topics(missing, operation_timeout=timeout_s).items():
            try:
                future.result(timeout=max(1.0, deadline - time.monotonic()))
                created.append(name)
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" in str(exc):
                    continue
                raise ServiceError("broker", f"cannot create topic {name}: {exc}") from None
    # wait until metadata shows every topic with its partitions (the broker may lag a little)
    while True:
        md = admin.list_topics(timeout=timeout_s).topics
        if all(name in md and md[name].partitions and md[name].error is None for name in wanted):
            break
        if time.monotonic() > deadline:
            raise ServiceError("broker", f"topics {sorted(set(wanted) - set(md))} not visible after {timeout_s}s")
        time.sleep(0.05)
    if created:
        log.info("created topics %s", created)
    return created


def partitions_of(settings: Settings, name: str, *, timeout_s: float = 10.0) -> int:
    from confluent_kafka.admin import AdminClient

    md = AdminClient(settings.confluent_config()).list_topics(name, timeout=timeout_s)
    return len(md.topics[name].partitions)
