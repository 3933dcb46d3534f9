"""``predwatch demo``: the whole monitor on the embedded default, with a live console view.

It starts an embedded broker and Redis, registers the two versions of the simulated token counter
in the registry (1.0.0 in production, 2.0.0 in staging, each with its evaluation sample as drift
reference), starts a worker process, publishes the fleet's phases (see :mod:`agents.simulation`)
and shows per-version percentiles, throughput, drift, accuracy and alerts as they fire and resolve.
It ends by itself with a summary and stops everything it started.

``predwatch simulate`` only publishes the fleet (for docker-compose's demo producer).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Optional

import typer

from agents.simulation import MODEL, VERSIONS, Fleet, Simulator


class _Feed:
    """Latest snapshot per version and all alerts, read from the output topics in a thread."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        from confluent_kafka import Consumer

        self.snapshots: dict[str, dict] = {}
        self.alerts: list[dict] = []
        self._stop = threading.Event()
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"demo-view-{os.getpid()}",
                                   "auto.offset.reset": "earliest", "fetch.queue.backoff.ms": 10, "log_level": 0})
        self._topics = {f"{prefix}.metrics": "metrics", f"{prefix}.alerts": "alerts"}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "_Feed":
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        tps = []
        for topic in self._topics:
            md = self._consumer.list_topics(topic, timeout=10)
            tps += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in md.topics[topic].partitions]
        self._consumer.assign(tps)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            data = json.loads(msg.value())
            if self._topics[msg.topic()] == "metrics":
                self.snapshots[data["version"]] = data
            else:
                self.alerts.append(data)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


def _view(feed: _Feed, sim: Simulator, elapsed: float, duration: float):
    from rich.console import Group
    from rich.table import Table

    table = Table(title=f"predwatch demo — {MODEL} — phase: {sim.phase} — {elapsed:4.0f}/{duration:.0f}s — "
                        f"{sim.sent:,} events sent", expand=True)
    for col in ("version", "events", "eps", "p50 ms", "p95 ms", "p99 ms", "MAE", "MAPE", "KS(prediction)",
                "KS(chars)", "anomaly", "concept"):
        table.add_column(col, justify="right")
    for v in VERSIONS:
        m = feed.snapshots.get(v, {}).get("metrics", {})

        def f(key, fmt="{:.1f}"):
            return fmt.format(m[key]) if key in m else "…"

        def ks(field):
            if f"drift.{field}.ks_stat" not in m:
                return "…"
            flag = " DRIFT" if m.get(f"drift.{field}.ks_drift") else ""
            return f"{m[f'drift.{field}.ks_stat']:.3f}{flag}"

        table.add_row(v, f("events_total", "{:,.0f}"), f("throughput_eps", "{:.0f}"), f("latency_p50_ms"),
                      f("latency_p95_ms"), f("latency_p99_ms"), f("mae", "{:.2f}"), f("mape", "{:.1%}"), ks("prediction"),
                      ks("chars"), f("anomaly.rate", "{:.1%}"), f("concept_drift.error", "{:.2f}"))
    alerts = Table(title="alerts (newest last)", expand=True)
    for col in ("time", "status", "severity", "version", "rule", "message"):
        alerts.add_column(col)
    for a in feed.alerts[-10:]:
        style = "bold red" if a["status"] == "firing" else "green"
        alerts.add_row(time.strftime("%H:%M:%S", time.localtime(a["ts"])), f"[{style}]{a['status']}[/]",
                       a["severity"], a["version"], a["rule"], a["message"][:90])
    return Group(table, alerts)


def _accounted(health: dict) -> int:
    """Events the worker has counted into windows or dead-lettered (from its /health)."""
    c = health.get("counters", {})
    return c.get("events_counted", 0) + c.get("deadlettered", 0)


def _wait_ready(port: int, proc: subprocess.Popen, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"worker not ready after {timeout_s}s")


def demo_command(
    duration: float = typer.Option(120.0, "--duration", help="seconds of simulated traffic"),
    rate: float = typer.Option(800.0, help="events per second (both versions together)"),
    web_port: int = typer.Option(0, help="worker's HTTP port (0: a free one)"),
) -> None:
    """Run the monitor on embedded services with a simulated fleet and a live view; ends by itself."""
    from rich.console import Console
    from rich.live import Live

    from registry import ModelRegistry
    from streams.embedded import EmbeddedServices, free_port
    from streams.publisher import PredictionPublisher
    from streams.settings import Settings

    console = Console()
    prefix = "predwatch"
    console.print("[bold]predwatch demo[/]: starting the embedded broker and Redis…")
    services = EmbeddedServices().start()
    console.print(f"broker {services.kafka_url}, Redis {services.redis_url} (e.g. PREDWATCH_KAFKA={services.kafka_url} "
                  f"PREDWATCH_TOPIC_PREFIX=predwatch predwatch alerts, in another terminal)", soft_wrap=True)
    worker = None
    try:
        settings = Settings(kafka=services.kafka_url, redis=services.redis_url, topic_prefix=prefix, partitions=2,
                            eval_events=500, eval_interval_s=2.0, state_dir=services.data_dir / "state")
        fleet = Fleet.build()
        registry = ModelRegistry(services.redis_url, prefix=prefix)
        for v in VERSIONS:
            registry.register_model(MODEL, v, {"estimator": "word_punct" if v == "1.0.0" else "feature_regression"})
            registry.set_reference(MODEL, v, fleet.reference(v))
        registry.transition(MODEL, "1.0.0", "staging", actor="demo", reason="evaluation passed")
        registry.promote_to_production(MODEL, "1.0.0", actor="demo", reason="initial release", force=True)
        registry.transition(MODEL, "2.0.0", "staging", actor="demo", reason="canary")
        from streams.topics import ensure_topics

        ensure_topics(settings)
        port = web_port or free_port()
        env = {**os.environ, "PREDWATCH_KAFKA": services.kafka_url, "PREDWATCH_REDIS": services.redis_url,
               "PREDWATCH_TOPIC_PREFIX": prefix, "PREDWATCH_PARTITIONS": "2", "PREDWATCH_EVAL_EVENTS": "500",
               "PREDWATCH_EVAL_INTERVAL_S": "2", "PREDWATCH_STATE_DIR": str(settings.state_dir)}
        log_path = Path(services.data_dir) / "worker.log"
        console.print(f"starting a worker (web :{port}, log {log_path})…")
        worker = subprocess.Popen([sys.executable, "-m", "agents.cli", "worker", "--web-port", str(port)],
                                  env=env, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)
        _wait_ready(port, worker)
        console.print(f"worker ready; metrics at http://127.0.0.1:{port}/metrics — publishing for {duration:.0f}s")
        feed = _Feed(services.bootstrap, prefix).start()
        start = time.monotonic()
        with PredictionPublisher(settings=settings, linger_ms=100) as pub:
            sim = Simulator(pub, rate_eps=rate, duration_s=duration, fleet=fleet)
            stop = threading.Event()
            thread = threading.Thread(target=sim.run, kwargs={"stop": stop}, daemon=True)
            thread.start()
            try:
                if console.is_terminal:
                    with Live(_view(feed, sim, 0, duration), console=console, refresh_per_second=2) as live:
                        while thread.is_alive():
                            live.update(_view(feed, sim, time.monotonic() - start, duration))
                            time.sleep(0.5)
                else:
                    last = 0.0
                    while thread.is_alive():
                        time.sleep(0.5)
                        if time.monotonic() - last >= 15:
                            last = time.monotonic()
                            console.print(_view(feed, sim, last - start, duration))
            except KeyboardInterrupt:
                stop.set()
            thread.join()
        # let the worker finish what was sent (every event counted or dead-lettered), then summarise
        sent = sim.sent + sim.feedback_sent
        deadline = time.monotonic() + 60
        health = {}
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                health = json.loads(r.read())
            if _accounted(health) >= sent:
                break
            time.sleep(0.5)
        time.sleep(1.0)
        feed.stop()
        console.print(_view(feed, sim, time.monotonic() - start, duration))
        fired = [a for a in feed.alerts if a["status"] == "firing"]
        resolved = [a for a in feed.alerts if a["status"] == "resolved"]
        c = health.get("counters", {})
        console.print(f"\n[bold]summary[/]: {sim.sent:,} predictions and {sim.feedback_sent:,} feedback events sent; "
                      f"{c.get('events_counted', 0):,} counted by the worker, {c.get('deadlettered', 0)} dead-lettered; "
                      f"{len(fired)} alerts fired, {len(resolved)} resolved")
        missing = sent - _accounted(health)
        console.print("every event sent was counted or dead-lettered" if missing <= 0 else
                      f"[bold red]{missing:,} events not accounted for after 60 s[/]")
        for a in fired:
            back = next((r for r in resolved if r["alert_id"] == a["alert_id"]), None)
            until = f"resolved at {time.strftime('%H:%M:%S', time.localtime(back['ts']))}" if back else "still firing"
            console.print(f"  • {time.strftime('%H:%M:%S', time.localtime(a['ts']))} {a['version']:6} "
                          f"{a['rule']:16} {a['metric']} = {a['value']:.4g} ({a['condition']} {a['threshold']:g}); {until}")
        console.print(f"registry: production = {registry.get_production_version(MODEL)}")
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        services.stop()
        console.print("stopped the worker, the broker and Redis.")


def simulate_command(
    duration: float = typer.Option(3600.0, "--duration", help="seconds of simulated traffic"),
    rate: float = typer.Option(800.0, help="events per second"),
    kafka: Optional[str] = typer.Option(None, help="kafka://host:port (default: PREDWATCH_KAFKA)"),
) -> None:
    """Publish the simulated token-counter fleet (two versions, phased incidents) to the broker."""
    from streams.publisher import PredictionPublisher

    with PredictionPublisher(kafka, linger_ms=100) as pub:
        sim = Simulator(pub, rate_eps=rate, duration_s=duration)
        sent = sim.run()
    typer.echo(f"sent {sent} events and {sim.feedback_sent} feedback events")
