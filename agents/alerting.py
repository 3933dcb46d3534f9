"""AlertManager: the Python API for alert rules and manual alerts.

Rules come from the YAML file (``PREDWATCH_CONFIG`` or the shipped defaults) and from Redis; a
rule stored in Redis replaces the file's rule of the same name.  Changes reach running workers
within a few seconds (they poll the rule-set version).

Examples
--------
::

    manager = AlertManager()                      # settings from the environment
    manager.configure_alert({"name": "mape-high", "model": "tok-*", "metric": "mape",
                             "condition": ">", "threshold": 0.3, "severity": "critical"})
    manager.list()                                # the rules in force
    manager.send_alert("tok-counter", "2.0.0", "manual check: tokenizer changed", severity="info")
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Mapping

from registry.monitoring import AlertLog, RuleStore
from streams.records import Alert, encode
from streams.rules import SEVERITIES, Rule, default_rules, load_rules
from streams.settings import Settings
from streams.topics import ALERTS, ensure_topics, topic_name


class AlertManager:
    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or Settings.from_env()
        if settings.kafka_is_embedded or settings.redis_is_embedded:
            from streams.embedded import resolve

            settings, self._owned = resolve(settings)
        else:
            self._owned = None
        self.settings = settings
        self.store = RuleStore(settings.redis, prefix=settings.topic_prefix)
        self.log = AlertLog(settings.redis, prefix=settings.topic_prefix)

    def configure_alert(self, rule: Rule | Mapping[str, Any]) -> Rule:
        """Create or replace a rule in Redis (validated first: RuleError names field and value)."""
        if not isinstance(rule, Rule):
            rule = Rule.from_dict(dict(rule))
        self.store.put(rule)
        return rule

    def delete(self, name: str) -> bool:
        """Delete a rule from Redis; False when none of that name was stored."""
        return self.store.delete(name)

    def file_rules(self) -> list[Rule]:
        return load_rules(self.settings.config_path) if self.settings.config_path else default_rules()

    def effective_rules(self) -> list[tuple[Rule, str]]:
        """The rules workers apply, with where each comes from (``file`` or ``redis``)."""
        stored = self.store.list()
        names = {r.name for r in stored}
        return [(r, "file") for r in self.file_rules() if r.name not in names] + [(r, "redis") for r in stored]

    def list(self) -> list[Rule]:
        return [r for r, _ in self.effective_rules()]

    def firing(self) -> list[dict[str, Any]]:
        """Alerts firing now (as recorded by the workers)."""
        return self.log.firing()

    def send_alert(self, model: str, version: str, message: str, *, severity: str = "warning",
                   rule: str = "manual", labels: Mapping[str, str] | None = None, status: str = "firing") -> Alert:
        """Publish a manual alert on the alert topic (deduplicated like the workers' alerts)."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {list(SEVERITIES)}, got {severity!r}")
        if status not in ("firing", "resolved"):
            raise ValueError(f"status must be 'firing' or 'resolved', got {status!r}")
        now = time.time()
        fingerprint = f"{model}/{version}/{rule}"
        alert = Alert(alert_id=hashlib.sha256(f"{fingerprint}#manual#{message}#{now}".encode()).hexdigest()[:32],
                      fingerprint=fingerprint, status=status, model=model, version=version, rule=rule,
                      metric="manual", value=0.0, threshold=0.0, condition="", severity=severity, message=message,
                      started_at=now, ts=now, labels=dict(labels or {}), context={"source": "manual"})
        from confluent_kafka import Producer

        ensure_topics(self.settings, (ALERTS,))
        self.log.claim(alert)
        producer = Producer({**self.settings.confluent_config(), "enable.idempotence": True})
        errors: list[str] = []
        producer.produce(topic_name(self.settings, ALERTS), encode(alert), key=fingerprint.encode(),
                         on_delivery=lambda err, msg: errors.append(str(err)) if err else None)
        if producer.flush(30) or errors:
            from streams.errors import PublishError

            raise PublishError(f"manual alert not delivered: {errors or 'timeout'}")
        self.log.record(alert)
        return alert

    def close(self) -> None:
        self.store.close()
        self.log.close()
        if self._owned is not None:
            self._owned.stop()
