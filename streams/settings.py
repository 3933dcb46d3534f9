"""Settings: the one module that reads predwatch's environment.

=============================================  ==============================================
variable                                       meaning (default)
=============================================  ==============================================
``PREDWATCH_KAFKA``                            ``kafka://host:port[,host:port]`` or ``embedded``
``PREDWATCH_REDIS``                            ``redis://…``, ``rediss://…``, ``unix://…`` or ``embedded``
``PREDWATCH_TOPIC_PREFIX``                     prefix of every topic name (``predwatch``)
``PREDWATCH_CONFIG``                           YAML rules file (the shipped default rules)
``PREDWATCH_PARTITIONS``                       partitions of topics created at start-up (4)
``PREDWATCH_WEB_PORT``                         worker's HTTP port for /metrics, /health, /ready (6066)
``PREDWATCH_WINDOW_EVENTS``                    sliding window size per (model, version) (1000)
``PREDWATCH_EVAL_EVENTS``                      evaluate every N events per key (1000)
``PREDWATCH_EVAL_INTERVAL_S``                  … or every T seconds, whichever comes first (5)
``PREDWATCH_FALSE_ALARM_RATE``                 drift false alarms per evaluation, all fields together (0.001)
``PREDWATCH_REFERENCE_REFRESH_S``              how often workers re-read references from the registry (30)
``PREDWATCH_STATE_DIR``                        local state of workers and embedded services (~/.predwatch)
``PREDWATCH_KAFKA_SECURITY_PROTOCOL``          PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
``PREDWATCH_KAFKA_SASL_MECHANISM``             PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
``PREDWATCH_KAFKA_SASL_USERNAME`` / ``_PASSWORD``
``PREDWATCH_KAFKA_SSL_CAFILE`` / ``_CERTFILE`` / ``_KEYFILE``
=============================================  ==============================================

Invalid values fail at start-up with a :class:`~streams.errors.SettingsError` naming the variable.

Examples
--------
>>> s = Settings.from_env({"PREDWATCH_KAFKA": "kafka://a:9092,b:9093", "PREDWATCH_REDIS": "redis://r:6379/0"})
>>> s.kafka_bootstrap, s.topic("predictions")
('a:9092,b:9093', 'predwatch.predictions')
>>> Settings.from_env({"PREDWATCH_KAFKA": "http://x"})
Traceback (most recent call last):
...
streams.errors.SettingsError: PREDWATCH_KAFKA='http://x' is invalid: expected 'embedded' or kafka://host:port[,host:port]
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from streams.errors import SettingsError

EMBEDDED = "embedded"
_HOSTPORT = re.compile(r"^[A-Za-z0-9._-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$")
_PREFIX = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def confluent(self) -> dict[str, str]:
        """librdkafka configuration entries."""
        conf = {"security.protocol": self.protocol.lower()}
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
            conf["sasl.username"] = self.sasl_username or ""
            conf["sasl.password"] = self.sasl_password or ""
        for key, value in (("ssl.ca.location", self.ssl_cafile), ("ssl.certificate.location", self.ssl_certfile),
                           ("ssl.key.location", self.ssl_keyfile)):
            if value:
                conf[key] = value
        return conf


@dataclass(frozen=True)
class Settings:
    """predwatch's configuration; build it with :meth:`from_env`."""

    kafka: str = EMBEDDED
    redis: str = EMBEDDED
    topic_prefix: str = "predwatch"
    config_path: Path | None = None
    partitions: int = 4
    web_port: int = 6066
    window_events: int = 1000
    eval_events: int = 1000
    eval_interval_s: float = 5.0
    false_alarm_rate: float = 0.001
    reference_refresh_s: float = 30.0
    state_dir: Path = field(default_factory=lambda: Path.home() / ".predwatch")
    security: KafkaSecurity = field(default_factory=KafkaSecurity)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        kafka = env.get("PREDWATCH_KAFKA", EMBEDDED).strip() or EMBEDDED
        if kafka != EMBEDDED:
            _bootstrap(kafka, "PREDWATCH_KAFKA")
        redis = env.get("PREDWATCH_REDIS", EMBEDDED).strip() or EMBEDDED
        if redis != EMBEDDED and not re.match(r"^(redis|rediss|unix)://.+", redis):
            raise SettingsError("PREDWATCH_REDIS", redis, "'embedded', redis://host:port[/db], rediss://… or unix://path")
        prefix = env.get("PREDWATCH_TOPIC_PREFIX", "predwatch")
        if not _PREFIX.match(prefix):
            raise SettingsError("PREDWATCH_TOPIC_PREFIX", prefix, "1-100 chars of [A-Za-z0-9._-]")
        config = env.get("PREDWATCH_CONFIG") or None
        config_path = None
        if config is not None:
            config_path = Path(config).expanduser()
            if not config_path.is_file():
                raise SettingsError("PREDWATCH_CONFIG", config, "the path of an existing YAML rules file")
        security = _security(env)
        state_dir = Path(env.get("PREDWATCH_STATE_DIR") or Path.home() / ".predwatch").expanduser()
        return cls(
            kafka=kafka, redis=redis, topic_prefix=prefix, config_path=config_path,
            partitions=_int(env, "PREDWATCH_PARTITIONS", 4, 1, 10_000),
            web_port=_int(env, "PREDWATCH_WEB_PORT", 6066, 0, 65535),
            window_events=_int(env, "PREDWATCH_WINDOW_EVENTS", 1000, 2, 10_000_000),
            eval_events=_int(env, "PREDWATCH_EVAL_EVENTS", 1000, 1, 10_000_000),
            eval_interval_s=_float(env, "PREDWATCH_EVAL_INTERVAL_S", 5.0, 0.05, 86400.0),
            false_alarm_rate=_float(env, "PREDWATCH_FALSE_ALARM_RATE", 0.001, 1e-9, 0.5),
            reference_refresh_s=_float(env, "PREDWATCH_REFERENCE_REFRESH_S", 30.0, 0.5, 86400.0),
            state_dir=state_dir, security=security,
        )

    def replace(self, **changes: Any) -> "Settings":
        return replace(self, **changes)

    @property
    def kafka_is_embedded(self) -> bool:
        return self.kafka == EMBEDDED

    @property
    def redis_is_embedded(self) -> bool:
        return self.redis == EMBEDDED

    @property
    def kafka_bootstrap(self) -> str:
        """``host:port[,host:port]`` (only for a non-embedded broker; see streams.embedded.resolve)."""
        if self.kafka_is_embedded:
            raise SettingsError("PREDWATCH_KAFKA", self.kafka, "a resolved kafka:// URL (call streams.embedded.resolve first)")
        return ",".join(_bootstrap(self.kafka, "PREDWATCH_KAFKA"))

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"

    def confluent_config(self) -> dict[str, str]:
        return {"bootstrap.servers": self.kafka_bootstrap, "log.connection.close": False, **self.security.confluent()}


def _bootstrap(url: str, variable: str) -> list[str]:
    accepted = "'embedded' or kafka://host:port[,host:port]"
    if not url.startswith("kafka://"):
        raise SettingsError(variable, url, accepted)
    hosts = [h.strip() for h in url[len("kafka://"):].rstrip("/").split(",")]
    if not hosts or not all(_HOSTPORT.match(h) and 0 < int(h.rsplit(":", 1)[1]) < 65536 for h in hosts):
        raise SettingsError(variable, url, accepted)
    return hosts


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, raw, f"an integer in [{lo}, {hi}]") from None
    if not lo <= value <= hi:
        raise SettingsError(name, raw, f"an integer in [{lo}, {hi}]")
    return value


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, raw, f"a number in [{lo}, {hi}]") from None
    if not lo <= value <= hi:
        raise SettingsError(name, raw, f"a number in [{lo}, {hi}]")
    return value


def _security(env: Mapping[str, str]) -> KafkaSecurity:
    protocol = env.get("PREDWATCH_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise SettingsError("PREDWATCH_KAFKA_SECURITY_PROTOCOL", protocol, " | ".join(SECURITY_PROTOCOLS))
    mechanism = env.get("PREDWATCH_KAFKA_SASL_MECHANISM") or None
    if protocol.startswith("SASL"):
        mechanism = (mechanism or "PLAIN").upper()
        if mechanism not in SASL_MECHANISMS:
            raise SettingsError("PREDWATCH_KAFKA_SASL_MECHANISM", mechanism, " | ".join(SASL_MECHANISMS))
        if not env.get("PREDWATCH_KAFKA_SASL_USERNAME"):
            raise SettingsError("PREDWATCH_KAFKA_SASL_USERNAME", env.get("PREDWATCH_KAFKA_SASL_USERNAME"),
                                f"a user name when PREDWATCH_KAFKA_SECURITY_PROTOCOL={protocol}")
    elif mechanism:
        raise SettingsError("PREDWATCH_KAFKA_SASL_MECHANISM", mechanism,
                            "unset unless PREDWATCH_KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT or SASL_SSL")
    files = {}
    for suffix in ("CAFILE", "CERTFILE", "KEYFILE"):
        name = f"PREDWATCH_KAFKA_SSL_{suffix}"
        value = env.get(name) or None
        if value and not Path(value).is_file():
            raise SettingsError(name, value, "the path of an existing PEM file")
        files[suffix.lower()] = value
    return KafkaSecurity(protocol=protocol, sasl_mechanism=mechanism,
                         sasl_username=env.get("PREDWATCH_KAFKA_SASL_USERNAME") or None,
                         sasl_password=env.get("PREDWATCH_KAFKA_SASL_PASSWORD") or None,
                         ssl_cafile=files["cafile"], ssl_certfile=files["certfile"], ssl_keyfile=files["keyfile"])
