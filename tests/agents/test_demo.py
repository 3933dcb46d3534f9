"""``predwatch demo`` (the README's first command), shortened: it runs the real thing and stops what it started."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]


def _listening(url: str) -> bool:
    u = urlsplit(url)
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((u.hostname, u.port)) == 0


def test_demo_counts_every_event_raises_and_resolves_alerts_and_stops_its_services():
    env = {**os.environ, "COLUMNS": "250"}  # rich wraps at 80 columns when not on a terminal
    for k in ("PREDWATCH_KAFKA", "PREDWATCH_REDIS", "PREDWATCH_TOPIC_PREFIX"):
        env.pop(k, None)
    proc = subprocess.run([sys.executable, "-m", "agents.cli", "demo", "--duration", "45"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]

    services = re.search(r"broker (kafka://\S+), Redis (redis://\S+) ", out)
    assert services, out[:2000]
    summary = re.search(r"summary: ([\d,]+) predictions and ([\d,]+) feedback events sent; ([\d,]+) counted by the "
                        r"worker, (\d+) dead-lettered; (\d+) alerts fired, (\d+) resolved", out)
    assert summary, out[-3000:]
    sent, feedback, counted, dead, fired, resolved = (int(g.replace(",", "")) for g in summary.groups())
    assert sent > 20_000 and feedback > 0
    assert counted + dead == sent + feedback  # nothing lost, nothing counted twice
    assert "every event sent was counted or dead-lettered" in out

    alerts = re.findall(r"• \S+ (\d+\.\d+\.\d+)\s+(\S+)\s+(\S+) = .*; (resolved at|still firing)", out)
    rules = {rule for _, rule, _, _ in alerts}
    assert any(r.startswith("drift-") for r in rules), alerts  # the input-drift phase
    assert rules & {"accuracy-mape", "accuracy-mae", "concept-drift"}, alerts  # the accuracy-loss phase
    assert any(end == "resolved at" for *_, end in alerts), alerts  # episodes end, too
    assert fired == len(alerts) and resolved >= 1

    assert "stopped the worker, the broker and Redis." in out
    assert not _listening(services.group(1)) and not _listening(services.group(2))
