"""Fixtures for the dashboard tests.

``metrics_target`` yields ``(host_port, model, version)`` of something serving predwatch's
Prometheus metrics on ``http://host_port/metrics`` with data for ``(model, version)``.  For now it
is :mod:`tests.grafana.feeder` (a registry built by ``agents.metrics.build_metrics`` fed realistic
snapshots) in a subprocess; it can be swapped for a real worker's web port without touching the
tests.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 20.0


@pytest.fixture(scope="session")
def metrics_target():
    model, version = "tok-counter", "1.0.0"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.grafana.feeder", "--model", model, "--version", version],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()  # the feeder prints "PORT <n>" once it serves, or exits
        if not line.startswith("PORT "):
            proc.kill()
            raise RuntimeError(f"metrics feeder did not start: {line!r} {proc.stderr.read()[-2000:]}")
        host_port = f"127.0.0.1:{int(line.split()[1])}"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"http://{host_port}/metrics", timeout=2) as resp:
                    if b"monitor_events_total" in resp.read():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"no metrics on http://{host_port}/metrics after {STARTUP_TIMEOUT_S} s")
            time.sleep(0.05)
        yield host_port, model, version
    finally:
        if proc.stdin:
            proc.stdin.close()  # the feeder exits when its stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
