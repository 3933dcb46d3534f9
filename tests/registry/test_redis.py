"""Redis done right: URLs and AUTH, clear errors, key layout under one prefix, one slot per script."""

from __future__ import annotations

import socket
import uuid
from urllib.parse import urlsplit

import pytest
import redis
import redis.exceptions as rx
from redis.crc import key_slot

from registry import ExperimentTracker, ModelRegistry, RegistryError, RegistryUnavailable
from registry.connection import connect, redis_errors


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("url", ["http://localhost:6379", "localhost:6379", "", "tcp://h:1", None])
def test_url_scheme_is_validated(url):
    with pytest.raises(ValueError, match="Redis URL must"):
        connect(url)
    with pytest.raises(ValueError, match="Redis URL must"):
        ModelRegistry(url)


def test_tls_and_unix_urls_build_the_right_connections():
    tls = connect("rediss://user:pw@cache.example:6380/1?ssl_cert_reqs=required")
    assert tls.connection_pool.connection_class is redis.SSLConnection
    assert tls.connection_pool.connection_kwargs["password"] == "pw"
    assert tls.connection_pool.connection_kwargs["db"] == 1
    unix = connect("unix:///run/redis.sock?db=2")
    assert unix.connection_pool.connection_class is redis.UnixDomainSocketConnection


def test_unreachable_redis_is_a_clear_error():
    url = f"redis://:hunter2@127.0.0.1:{_free_port()}/0"
    reg = ModelRegistry(url, timeout_s=0.5)
    assert reg.ping() is False
    with pytest.raises(RegistryUnavailable) as err:
        reg.register_model("tok", "1.0.0")
    assert isinstance(err.value, ConnectionError) and isinstance(err.value, RegistryError)
    assert "hunter2" not in str(err.value) and ":***@127.0.0.1" in str(err.value)
    assert err.value.operation == "register"
    tr = ExperimentTracker(url, timeout_s=0.5)
    with pytest.raises(RegistryUnavailable):
        tr.start_experiment("e")


def test_redis_reply_errors_are_mapped():
    with pytest.raises(RegistryUnavailable, match="OOM"):
        with redis_errors("redis://h", "promote"):
            raise rx.ResponseError("OOM command not allowed when used memory > 'maxmemory'.")
    with pytest.raises(RegistryError, match="rejected promote: WRONGTYPE") as err:
        with redis_errors("redis://h", "promote"):
            raise rx.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
    assert not isinstance(err.value, ConnectionError)


@pytest.mark.services
def test_auth_through_the_url_and_keys_confined_to_the_prefix(redis_url, prefix, raw):
    """An ACL user that may only touch ``<prefix>:*`` can run everything: no key escapes the prefix."""
    user, password = f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    raw.execute_command("ACL", "SETUSER", user, "on", f">{password}", f"~{prefix}:*", "+@all")
    try:
        parts = urlsplit(redis_url)
        url = f"redis://{user}:{password}@{parts.hostname}:{parts.port}{parts.path}"
        with ModelRegistry(url, prefix=prefix) as reg:
            reg.register_model("tok", "1.0.0")
            reg.transition("tok", "1.0.0", "staging")
            reg.set_quality_gate("tok", {"r2": (">=", 0.5)})
            reg.attach_evaluation("tok", "1.0.0", {"r2": 0.9})
            reg.set_reference("tok", "1.0.0", {"x": 1})
            reg.promote_to_production("tok", "1.0.0")
            reg.set_alias("tok", "champion", "1.0.0")
            assert reg.get_active_reference("tok") == {"x": 1}
            assert reg.list_models() == ["tok"]
        with ExperimentTracker(url, prefix=prefix) as tr:
            tr.start_experiment("e")
            with tr.run("e", params={"a": 1}) as run:
                run.log_metrics({"loss": 1.0})
                run.set_tags({"k": "v"})
            assert tr.get_best_run("e", "loss").run_id == run.run_id
        bad = f"redis://{user}:wrong@{parts.hostname}:{parts.port}{parts.path}"
        with ModelRegistry(bad, prefix=prefix) as reg, pytest.raises(RegistryUnavailable,
                                                                     match="unavailable during get") as err:
            reg.get("tok", "1.0.0")
        assert "wrong" not in str(err.value)
    finally:
        raw.execute_command("ACL", "DELUSER", user)

    keys = sorted(raw.scan_iter(match="*", count=1000))
    mine = [k for k in keys if k.startswith(f"{prefix}:")]
    assert {f"{prefix}:models", f"{prefix}:experiments"} <= set(mine)
    tagged = [k for k in mine if k not in (f"{prefix}:models", f"{prefix}:experiments")]
    assert all(k[len(prefix) + 1] == "{" for k in tagged)
    assert {k.split("}")[0] + "}" for k in tagged if "{tok}" in k} == {f"{prefix}:{{tok}}"}


@pytest.mark.services
def test_every_script_call_touches_one_hash_slot(registry, tracker, monkeypatch, tmp_path):
    calls = []

    def spy(obj, attr):
        script = getattr(obj, attr)

        def call(keys=(), args=(), client=None):
            calls.append((attr, {key_slot(k.encode()) for k in keys}))
            return script(keys=keys, args=args)
        monkeypatch.setattr(obj, attr, call)

    for attr in ("_register", "_transition", "_rollback", "_alias", "_active_reference"):
        spy(registry, attr)
    for attr in ("_log_metrics", "_log_hash", "_log_artifacts", "_end_run", "_start_run", "_set_tags"):
        spy(tracker, attr)
    spy(registry._read, "_script")  # consistent multi-key reads
    spy(tracker._read, "_script")

    for v in ("1.0.0", "2.0.0"):
        registry.register_model("tok", v)
        registry.transition("tok", v, "staging")
        registry.promote_to_production("tok", v)
    registry.rollback_model("tok")
    registry.set_alias("tok", "champion", "1.0.0")
    registry.get_active_reference("tok")
    tracker.start_experiment("e")
    (tmp_path / "f").write_text("x")
    with tracker.run("e", params={"a": 1}, tags={"t": "1"}) as run:
        run.log_metrics({"loss": 1.0, "acc": 0.5, "drift.prediction.psi": 0.1})
        run.log_params({"b": 2})
        run.log_artifact(str(tmp_path / "f"))
        run.set_tags({"k": "v"})
    registry.list_versions("tok")
    registry.history("tok")
    tracker.list_runs("e")
    used = {name for name, _ in calls}
    assert used == {"_register", "_transition", "_rollback", "_alias", "_active_reference", "_script",
                    "_log_metrics", "_log_hash", "_log_artifacts", "_end_run", "_start_run", "_set_tags"}
    assert all(len(slots) == 1 for _, slots in calls), calls


@pytest.mark.services
def test_full_redis_refuses_whole_operations(staged, raw):
    """With noeviction, a Redis at maxmemory refuses writes: the registry raises RegistryUnavailable
    and leaves stages, pointer and history exactly as they were."""
    policy = raw.config_get("maxmemory-policy")["maxmemory-policy"]
    if policy != "noeviction":
        pytest.skip(f"session Redis runs maxmemory-policy {policy}, not noeviction")
    staged.promote_to_production("tok", "1.0.0")
    staged.promote_to_production("tok", "1.1.0")
    before = (staged.history("tok"), staged.list_versions("tok"), staged.get_production_version("tok"))
    old = raw.config_get("maxmemory")["maxmemory"]
    raw.config_set("maxmemory", max(raw.info("memory")["used_memory"] // 2, 1024 * 1024))
    try:
        with pytest.raises(RegistryUnavailable, match="maxmemory") as err:
            staged.promote_to_production("tok", "2.0.0")
        assert err.value.operation == "transition to production"
        with pytest.raises(RegistryUnavailable, match="maxmemory"):
            staged.register_model("tok", "9.0.0")
        # reads keep working on a full Redis (read-only scripts, not MULTI/EXEC)
        assert (staged.history("tok"), staged.list_versions("tok"), staged.get_production_version("tok")) == before
        # A script whose first write frees memory (rollback trims the stack first) is let through by
        # Redis and then runs to the end: all or nothing either way.
        try:
            staged.rollback_model("tok")
        except RegistryUnavailable:
            pass
    finally:
        raw.config_set("maxmemory", old)
    hist = staged.history("tok")
    assert hist[-1].production == staged.get_production_version("tok")
    assert all(b.previous_production == a.production for a, b in zip(hist, hist[1:]))
    assert len(hist) in (len(before[0]), len(before[0]) + 1)
    staged.promote_to_production("tok", "2.0.0")  # and it works again once there is room
