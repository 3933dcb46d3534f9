"""A real ``predwatch worker`` process for end-to-end tests, and readers of its output topics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from streams import records
from streams.embedded import free_port


class WorkerProcess:
    def __init__(self, *, kafka_url: str, redis_url: str, prefix: str, state_dir: Path, rules: Path | None = None,
                 env: dict[str, str] | None = None, checkpoint_interval_s: float = 0.5) -> None:
        self.port = free_port()
        self.checkpoint_interval_s = checkpoint_interval_s
        self.log_path = state_dir / f"worker-{self.port}.log"
        self.env = {**os.environ, "PREDWATCH_KAFKA": kafka_url, "PREDWATCH_REDIS": redis_url,
                    "PREDWATCH_TOPIC_PREFIX": prefix, "PREDWATCH_STATE_DIR": str(state_dir),
                    "PREDWATCH_PARTITIONS": "2", "PREDWATCH_EVAL_EVENTS": "500", "PREDWATCH_EVAL_INTERVAL_S": "3600",
                    **({"PREDWATCH_CONFIG": str(rules)} if rules else {}), **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 60.0) -> "WorkerProcess":
        out = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "agents.cli", "worker", "--web-port", str(self.port),
                                      "--checkpoint-interval", str(self.checkpoint_interval_s)], env=self.env, stdout=out,
                                     stderr=subprocess.STDOUT)
        self.wait_for(lambda: self.ready(), timeout_s, "worker ready")
        return self

    def get(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def text(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            return r.read().decode()

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
        try:
            return self.get("/ready")[0] == 200
        except OSError:
            return False

    def health(self) -> dict:
        return self.get("/health")[1]

    def wait_for(self, condition, timeout_s: float, what: str):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout_s}s waiting for {what}\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class TopicReader:
    """Reads a topic from the beginning with a plain consumer (all partitions, no group)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{topic}",
                                  "enable.auto.commit": False, "fetch.queue.backoff.ms": 10, "log_level": 3})
        md = self.consumer.list_topics(topic, timeout=10)
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in md.topics[topic].partitions])
        self.records: list[tuple[int, int, bytes | None, bytes]] = []

    def drain(self, seconds: float = 0.3) -> list:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            msg = self.consumer.poll(0.05)
            if msg is not None and not msg.error():
                self.records.append((msg.partition(), msg.offset(), msg.key(), msg.value()))
        return self.records

    def json(self) -> list[dict]:
        return [json.loads(v) for _, _, _, v in self.drain()]

    def close(self) -> None:
        self.consumer.close()


def alerts_of(reader: TopicReader, model: str | None = None) -> list[dict]:
    return [a for a in reader.json() if model is None or a["model"] == model]


def decode_all(values: list[bytes]) -> list:
    return [e for v in values for e in records.decode_message(v)]
