"""Connecting to Redis, and turning Redis failures into registry exceptions.

URLs: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://…`` (TLS; certificate options
as query parameters, e.g. ``?ssl_cert_reqs=required&ssl_ca_certs=/etc/ssl/ca.pem``) and
``unix:///path/to/redis.sock[?db=0]``.  AUTH (password or ACL user) comes from the URL.

Examples
--------
>>> redact("redis://app:s3cret@cache.internal:6380/2")
'redis://app:***@cache.internal:6380/2'
>>> connect("http://localhost:6379")
Traceback (most recent call last):
...
ValueError: Redis URL must start with redis://, rediss:// or unix://, got 'http://localhost:6379'
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.exceptions as rx

from registry.errors import RegistryError, RegistryUnavailable
from registry.keys import Keys

__all__ = ["connect", "redact", "redis_errors", "ReadBatch", "SCHEMES"]

SCHEMES = ("redis", "rediss", "unix")

# Reply prefixes meaning "this Redis cannot take the operation now", not "you sent garbage".
_UNAVAILABLE_REPLIES = ("OOM", "READONLY", "MASTERDOWN", "LOADING", "BUSY", "NOREPLICAS", "CLUSTERDOWN", "TRYAGAIN")


def redact(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def connect(url: str, *, decode_responses: bool = True, timeout_s: float = 5.0, **kwargs) -> redis.Redis:
    """A ``redis.Redis`` client for ``url`` (redis://, rediss:// or unix://).

    Parameters
    ----------
    url
        The Redis URL; credentials and TLS options go in it.
    decode_responses
        Return ``str`` instead of ``bytes`` (the registry uses ``True``).
    timeout_s
        Connect and socket timeout, seconds.
    kwargs
        Passed to ``redis.Redis.from_url``.

    The client connects lazily: a wrong host or password shows at the first command (the registry
    turns it into :class:`~registry.errors.RegistryUnavailable`).
    """
    if not isinstance(url, str) or not url:
        raise ValueError(f"Redis URL must be a non-empty string like redis://host:6379/0, got {url!r}")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in SCHEMES:
        raise ValueError(f"Redis URL must start with redis://, rediss:// or unix://, got {redact(url)!r}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
    kwargs.setdefault("socket_timeout", timeout_s)
    kwargs.setdefault("socket_connect_timeout", timeout_s)
    kwargs.setdefault("health_check_interval", 30)
    try:
        return redis.Redis.from_url(url, decode_responses=decode_responses, **kwargs)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"Redis URL {redact(url)!r} is malformed: {exc}") from None


@contextlib.contextmanager
def redis_errors(url: str, operation: str) -> Iterator[None]:
    """Re-raise Redis client errors as registry exceptions naming the URL and the operation."""
    try:
        yield
    except (rx.ConnectionError, rx.TimeoutError, rx.AuthenticationError, rx.AuthorizationError,
            rx.BusyLoadingError, rx.ReadOnlyError) as exc:
        raise RegistryUnavailable(redact(url), operation, exc) from exc
    except rx.ResponseError as exc:
        message = str(exc)
        # inside a Lua script the OOM reply loses its "OOM" prefix
        if message.startswith(_UNAVAILABLE_REPLIES) or "used memory > 'maxmemory'" in message:
            raise RegistryUnavailable(redact(url), operation, exc) from exc
        raise RegistryError(f"Redis at {redact(url)} rejected {operation}: {exc}") from exc
    except rx.RedisError as exc:
        raise RegistryError(f"Redis at {redact(url)} failed during {operation}: {exc}") from exc


class ReadBatch:
    """Several read commands on keys of one hash tag, answered together by one Lua script.

    The answers come from one consistent state (like MULTI/EXEC) but, unlike MULTI/EXEC, keep
    working when Redis is at ``maxmemory`` with ``noeviction``.  ``HGETALL`` answers a dict and
    ``XRANGE``/``XREVRANGE`` a list of ``(id, fields dict)``, as redis-py's own commands do.
    """

    def __init__(self, client: redis.Redis) -> None:
        from registry.scripts import READ_BATCH

        self._script = client.register_script(READ_BATCH)

    def __call__(self, *commands: tuple) -> list:
        keys: list[str] = []
        index: dict[str, int] = {}
        argv: list = []
        for name, key, *args in commands:
            if key not in index:
                keys.append(key)
                index[key] = len(keys)
            argv += [name, index[key], len(args), *args]
        replies = self._script(keys=keys, args=argv) if commands else []
        return [_convert(cmd[0], r) for cmd, r in zip(commands, replies)]


def _convert(name: str, reply):
    if name == "HGETALL":
        return dict(zip(reply[::2], reply[1::2]))
    if name in ("XRANGE", "XREVRANGE"):
        return [(eid, dict(zip(fields[::2], fields[1::2]))) for eid, fields in reply]
    return reply


class RedisClient:
    """What every Redis-backed store here shares: ``ping``, ``close`` and use as a context manager.

    Parameters
    ----------
    url
        ``redis://``, ``rediss://`` or ``unix://`` URL (credentials and TLS options in the URL).
    prefix
        Key prefix; several stores can share one Redis under different prefixes.
    timeout_s
        Connect and socket timeout, seconds.
    decode_responses
        Replies as ``str`` (default) or ``bytes``.
    """

    def __init__(self, url: str, *, prefix: str = "predwatch", timeout_s: float = 5.0,
                 decode_responses: bool = True) -> None:
        self.keys = Keys(prefix)  # validates the prefix
        self.prefix = prefix
        self._url = redact(url) if isinstance(url, str) else url
        self._redis = connect(url, timeout_s=timeout_s, decode_responses=decode_responses)

    def ping(self) -> bool:
        """``True`` if Redis answers; ``False`` if it cannot be reached (a health check does not raise)."""
        try:
            return bool(self._redis.ping())
        except Exception as exc:  # noqa: BLE001 - a health check answers, it does not raise
            logging.getLogger(type(self).__module__).warning("ping to %s failed: %s", self._url, exc)
            return False

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
