"""Fixtures for registry tests: a registry and a tracker on the session's real Redis, each test
under its own key prefix, whose keys are deleted afterwards."""

from __future__ import annotations

import uuid

import pytest
import redis

from registry import ExperimentTracker, ModelRegistry


@pytest.fixture
def prefix(redis_url):
    """A key prefix unique to one test; every key under it is deleted after the test."""
    p = f"t{uuid.uuid4().hex[:10]}"
    yield p
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{p}:*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i:i + 500])
    finally:
        client.close()


@pytest.fixture
def raw(redis_url):
    """A plain client, for inspecting what the registry wrote."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def registry(redis_url, prefix):
    reg = ModelRegistry(redis_url, prefix=prefix)
    yield reg
    reg.close()


@pytest.fixture
def tracker(redis_url, prefix):
    tr = ExperimentTracker(redis_url, prefix=prefix)
    yield tr
    tr.close()


@pytest.fixture
def staged(registry):
    """Model ``tok`` with versions 1.0.0, 1.1.0, 2.0.0 all in staging."""
    for v in ("1.0.0", "1.1.0", "2.0.0"):
        registry.register_model("tok", v, {"family": "counter"})
        registry.transition("tok", v, "staging")
    return registry
