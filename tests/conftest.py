"""Session fixtures: one embedded broker (Tansu) and one Redis server for the whole test run.

Both come from :mod:`streams.embedded`, the same code ``predwatch services up`` uses.  Tests that
need them take ``kafka_bootstrap`` / ``kafka_url`` / ``redis_url``; unit tests take neither.
"""

from __future__ import annotations

import os
import uuid

import pytest

from streams.embedded import EmbeddedServices

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedded_services(tmp_path_factory):
    services = EmbeddedServices(tmp_path_factory.mktemp("services"), appendonly=False)
    services.start()
    yield services
    services.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(embedded_services) -> str:
    """``127.0.0.1:PORT`` of the session's Tansu broker."""
    return embedded_services.bootstrap


@pytest.fixture(scope="session")
def kafka_url(embedded_services) -> str:
    """``kafka://127.0.0.1:PORT`` of the session's Tansu broker."""
    return embedded_services.kafka_url


@pytest.fixture(scope="session")
def redis_url(embedded_services) -> str:
    """``redis://127.0.0.1:PORT/0`` of the session's Redis server."""
    return embedded_services.redis_url


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix unique to one test, so tests sharing the broker never see each other's records."""
    return f"t{uuid.uuid4().hex[:10]}"
