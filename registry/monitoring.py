"""What the monitor keeps in Redis: alert rules, alert dedup and firing alerts, worker checkpoints.

Layout (``P`` is the prefix, ``predwatch`` by default; ``{…}`` is the Redis Cluster hash tag)::

    P:{rules}:defs                       HASH    rule name -> JSON rule (streams.rules.Rule.to_dict)
    P:{rules}:version                    STRING  INCR on every change: workers poll it to reload
    P:{alerts}:claim:<alert id>:<status> STRING  SET NX EX 30 days: the first publisher of an alert wins
    P:{alerts}:firing                    HASH    fingerprint -> JSON alert, while firing
    P:{ckpt:<group>}:<topic>:<partition> STRING  JSON state of one partition + its last offset

Each of :class:`RuleStore`, :class:`AlertLog` and :class:`CheckpointStore` touches keys of one
hash tag per call, so all three work on a cluster.
"""

from __future__ import annotations

import json
from typing import Any

from registry.connection import RedisClient, redis_errors
from streams.records import Alert, encode
from streams.rules import Rule, RuleError

CLAIM_TTL_S = 30 * 24 * 3600


class _Store(RedisClient):
    def __init__(self, url: str, *, prefix: str = "predwatch", timeout_s: float = 5.0) -> None:
        super().__init__(url, prefix=prefix, timeout_s=timeout_s, decode_responses=False)
        self.url = url


class RuleStore(_Store):
    """Alert rules managed at run time; running workers reload them when :meth:`version` changes."""

    @property
    def _defs(self) -> str:
        return f"{self.prefix}:{{rules}}:defs"

    @property
    def _version(self) -> str:
        return f"{self.prefix}:{{rules}}:version"

    def put(self, rule: Rule) -> int:
        """Create or replace a rule; returns the new rule-set version."""
        with redis_errors(self.url, f"put rule {rule.name!r}"):
            pipe = self._redis.pipeline(transaction=True)
            pipe.hset(self._defs, rule.name, json.dumps(rule.to_dict(), sort_keys=True))
            pipe.incr(self._version)
            return int(pipe.execute()[1])

    def delete(self, name: str) -> bool:
        """Delete a rule; False when there was none of that name."""
        with redis_errors(self.url, f"delete rule {name!r}"):
            pipe = self._redis.pipeline(transaction=True)
            pipe.hdel(self._defs, name)
            pipe.incr(self._version)
            removed, _ = pipe.execute()
            return bool(removed)

    def list(self) -> list[Rule]:
        with redis_errors(self.url, "list rules"):
            raw = self._redis.hgetall(self._defs)
        rules = []
        for name, data in sorted(raw.items()):
            try:
                rules.append(Rule.from_dict(json.loads(data)))
            except (ValueError, RuleError) as exc:  # written by hand into Redis: say so, keep the others
                raise RuleError(f"rule {name.decode()!r} stored in Redis is invalid: {exc}") from None
        return rules

    def version(self) -> int:
        with redis_errors(self.url, "read rules version"):
            return int(self._redis.get(self._version) or 0)


class AlertLog(_Store):
    """Alert dedup (one claim per alert id and status) and the set of firing alerts."""

    def claim(self, alert: Alert) -> bool:
        """True for the first caller with this alert id and status; False for any later one."""
        key = f"{self.prefix}:{{alerts}}:claim:{alert.alert_id}:{alert.status}"
        with redis_errors(self.url, "claim alert"):
            return bool(self._redis.set(key, b"1", nx=True, ex=CLAIM_TTL_S))

    def release(self, alert: Alert) -> None:
        """Undo a claim whose alert could not be published (so a retry can publish it)."""
        with redis_errors(self.url, "release alert"):
            self._redis.delete(f"{self.prefix}:{{alerts}}:claim:{alert.alert_id}:{alert.status}")

    def record(self, alert: Alert) -> None:
        """Keep firing alerts in a hash (removed on resolve): what ``AlertManager.firing()`` lists."""
        key = f"{self.prefix}:{{alerts}}:firing"
        with redis_errors(self.url, "record alert"):
            if alert.status == "firing":
                self._redis.hset(key, alert.fingerprint, encode(alert))
            else:
                self._redis.hdel(key, alert.fingerprint)

    def firing(self) -> list[dict[str, Any]]:
        with redis_errors(self.url, "list firing alerts"):
            raw = self._redis.hgetall(f"{self.prefix}:{{alerts}}:firing")
        return [json.loads(v) for _, v in sorted(raw.items())]


class CheckpointStore(_Store):
    """State of one partition per key, written whole (a single SET is atomic)."""

    def _key(self, group: str, topic: str, partition: int) -> str:
        return f"{self.prefix}:{{ckpt:{group}}}:{topic}:{partition}"

    def save(self, group: str, topic: str, partition: int, data: bytes) -> None:
        with redis_errors(self.url, f"checkpoint {topic}[{partition}]"):
            self._redis.set(self._key(group, topic, partition), data)

    def load(self, group: str, topic: str, partition: int) -> bytes | None:
        with redis_errors(self.url, f"load checkpoint {topic}[{partition}]"):
            return self._redis.get(self._key(group, topic, partition))

    def delete(self, group: str, topic: str, partition: int) -> None:
        with redis_errors(self.url, f"delete checkpoint {topic}[{partition}]"):
            self._redis.delete(self._key(group, topic, partition))
