"""Worker throughput and publish-to-alert latency, in one run on the embedded broker and Redis.

    .venv/bin/python bench/worker.py [--events 600000] [--single-events 30000]

1. envelopes: ``--events`` events pre-published as batch envelopes; a ``predwatch worker``
   process consumes them with the full monitor (windows, four drift tests, River anomaly, ADWIN,
   accuracy, rules, checkpoints).  Timed from 20% of the events counted to the last (its /health
   counters), so start-up, the consumer-group join and each key's one-off calibration are not
   included.
2. single: ``--single-events`` one-event messages through the same worker.
3. decode-only: a Faust agent that only decodes the same single-event messages (the framework's
   floor, ~15k msg/s on these machines).
4. alert latency: while 10,000 events/s of background load are published, a probe model sends a
   burst of slow predictions; the time from the burst to its ``latency-p95`` firing alert on the
   alert topic is measured over ``--probes`` episodes (each also resolves).

The last line is the headline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams import records  # noqa: E402
from streams.embedded import EmbeddedServices, free_port  # noqa: E402
from streams.publisher import PredictionPublisher  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402

RULES = """rules:
  - name: latency-p95
    metric: latency_p95_ms
    condition: ">"
    threshold: 500
    resolve_threshold: 200
    for: 0s
    cooldown: 0s
    severity: warning
"""


def prefill(settings: Settings, n: int, *, envelopes: bool, models: int = 4, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    pred = rng.normal(100, 10, n)
    lat = rng.lognormal(3, 0.3, n)
    truth = pred * (1 + rng.normal(0, 0.05, n))
    chars = rng.integers(10, 2000, n)
    langs = rng.choice(["en", "de", "ja"], n)
    t0 = 1_800_000_000.0
    with PredictionPublisher(settings=settings, envelopes=envelopes, max_batch_events=1000) as pub:
        for i in range(n):
            pub.track_prediction(f"model-{i % models}", "1.0.0", prediction=float(pred[i]), latency_ms=float(lat[i]),
                                 ground_truth=float(truth[i]), ts=t0 + i / 1000.0,
                                 features={"lang": str(langs[i]), "chars": int(chars[i])})


class Worker:
    def __init__(self, services: EmbeddedServices, prefix: str, state: Path, rules: Path | None = None) -> None:
        self.port = free_port()
        env = {**os.environ, "PREDWATCH_KAFKA": services.kafka_url, "PREDWATCH_REDIS": services.redis_url,
               "PREDWATCH_TOPIC_PREFIX": prefix, "PREDWATCH_PARTITIONS": "4", "PREDWATCH_STATE_DIR": str(state),
               "PREDWATCH_EVAL_EVENTS": "1000", "PREDWATCH_EVAL_INTERVAL_S": "1"}
        if rules:
            env["PREDWATCH_CONFIG"] = str(rules)
        self.proc = subprocess.Popen([sys.executable, "-m", "agents.cli", "worker", "--web-port", str(self.port),
                                      "--loglevel", "warning", "--checkpoint-interval", "5"], env=env, cwd=ROOT,
                                     stdout=open(state / f"worker-{prefix}.log", "ab"), stderr=subprocess.STDOUT)

    def counted(self) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                return json.loads(r.read())["counters"]["events_counted"]
        except OSError:
            if self.proc.poll() is not None:
                raise RuntimeError("worker exited") from None
            return -1

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def measure_worker(services, prefix: str, n: int, state: Path, timeout_s: float = 600) -> float:
    """Steady-state events/s: timed from 20% of the events counted to the last, so the one-off
    per-key work (the first evaluation calibrates each field's null distribution) is excluded."""
    w = Worker(services, prefix, state)
    try:
        first = None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            c = w.counted()
            now = time.perf_counter()
            if c >= n // 5 and first is None:
                first = (now, c)
            if c >= n:
                return (c - first[1]) / (now - first[0])
            time.sleep(0.02)
        raise RuntimeError(f"worker counted only {w.counted()} of {n} events in {timeout_s}s")
    finally:
        w.stop()


DECODE_AGENT = r'''
import sys, time, faust
from streams.records import decode_message
broker, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
del sys.argv[1:4]  # faust's command line reads the rest
app = faust.App("bench-decode-only", broker=broker, store="memory://", web_enabled=False,
                broker_session_timeout=10, broker_heartbeat_interval=1, consumer_auto_offset_reset="earliest",
                stream_buffer_maxsize=4096, broker_max_poll_records=500)
src = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
state = {"count": 0, "first": None}

@app.agent(src, concurrency=1)
async def decode(stream):
    async for event in stream.events():
        state["count"] += len(decode_message(event.message.value))
        if state["first"] is None:
            state["first"] = (time.perf_counter(), state["count"])
        if state["count"] >= n:
            t, c = state["first"]
            sys.__stdout__.write(f"RATE {(state['count'] - c) / (time.perf_counter() - t)}\n")  # faust redirects print
            sys.__stdout__.flush()
            raise SystemExit(0)

app.main()
'''


def measure_decode_only(services, topic: str, n: int, state: Path) -> float:
    script = state / "decode_agent.py"
    script.write_text(DECODE_AGENT)
    proc = subprocess.Popen([sys.executable, str(script), services.kafka_url, topic, str(n), "worker", "-l", "warn", "--without-web"],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    rate = None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("RATE"):
            rate = float(line.split()[1])
            break
    proc.kill()  # the agent has reported; its app need not shut down cleanly
    proc.wait(30)
    if rate is None:
        raise RuntimeError("decode-only agent did not report:\n" + "".join(lines[-30:]))
    return rate


def measure_alert_latency(services, state: Path, probes: int, load_eps: float = 10_000.0) -> list[float]:
    from streams.subscriber import AlertSubscriber

    prefix = "benchalert"
    rules = state / "rules.yaml"
    rules.write_text(RULES)
    settings = Settings(kafka=services.kafka_url, redis=services.redis_url, topic_prefix=prefix, partitions=4)
    ensure_topics(settings)
    w = Worker(services, prefix, state, rules)
    deadline = time.monotonic() + 120
    while not w.ready():
        if time.monotonic() > deadline:
            raise RuntimeError("worker not ready")
        time.sleep(0.1)
    stop = threading.Event()
    rng = np.random.default_rng(9)

    def background(pub):
        sent, start = 0, time.monotonic()
        while not stop.is_set():
            target = int((time.monotonic() - start) * load_eps)
            for _ in range(max(0, target - sent)):
                pub.track_prediction(f"load-{sent % 4}", "1.0.0", prediction=float(rng.normal(100, 10)),
                                     latency_ms=float(rng.lognormal(3, 0.3)), features={"chars": int(rng.integers(10, 2000))})
                sent += 1
            time.sleep(0.005)

    latencies = []
    sub = AlertSubscriber(settings=settings, models=["probe"], statuses=["firing"])
    with PredictionPublisher(settings=settings, linger_ms=5) as load_pub, \
            PredictionPublisher(settings=settings, linger_ms=1) as probe_pub:
        thread = threading.Thread(target=background, args=(load_pub,), daemon=True)
        thread.start()
        for _ in range(1200):  # warm the probe's window with normal latencies
            probe_pub.track_prediction("probe", "1.0.0", prediction=100.0, latency_ms=20.0)
        probe_pub.flush()
        time.sleep(2)
        for _ in range(probes):
            t0 = time.perf_counter()
            for _ in range(1000):  # one evaluation's worth of slow predictions
                probe_pub.track_prediction("probe", "1.0.0", prediction=100.0, latency_ms=2000.0)
            probe_pub.flush()
            alert = sub.poll(10)
            if alert is None:
                raise RuntimeError("no alert within 10 s")
            latencies.append(time.perf_counter() - t0)
            for _ in range(2000):  # recover (the episode resolves)
                probe_pub.track_prediction("probe", "1.0.0", prediction=100.0, latency_ms=20.0)
            probe_pub.flush()
            time.sleep(0.5)
        stop.set()
        thread.join()
    sub.close()
    w.stop()
    return latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=600_000)
    ap.add_argument("--single-events", type=int, default=30_000)
    ap.add_argument("--probes", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedServices(Path(tmp) / "services", appendonly=False) as services:
        state = Path(tmp)
        env_settings = Settings(kafka=services.kafka_url, topic_prefix="benchenv", partitions=4)
        single_settings = Settings(kafka=services.kafka_url, topic_prefix="benchsingle", partitions=4)
        ensure_topics(env_settings)
        ensure_topics(single_settings)
        prefill(env_settings, args.events, envelopes=True)
        prefill(single_settings, args.single_events, envelopes=False)
        envelope_eps = measure_worker(services, "benchenv", args.events, state)
        print(f"full monitor, batch envelopes:   {envelope_eps:>10,.0f} events/s")
        single_eps = measure_worker(services, "benchsingle", args.single_events, state)
        print(f"full monitor, single events:     {single_eps:>10,.0f} events/s")
        decode_eps = measure_decode_only(services, "benchsingle.predictions", args.single_events, state)
        print(f"Faust decode-only agent:         {decode_eps:>10,.0f} events/s")
        print(f"single / decode-only:            {single_eps / decode_eps:10.2f}")
        print(f"envelopes / decode-only:         {envelope_eps / decode_eps:10.1f}")
        lat = sorted(measure_alert_latency(services, state, args.probes))
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))]
        print(f"publish-to-alert latency at 10,000 events/s load: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
              f"(max of {len(lat)} probes: {lat[-1] * 1000:.0f} ms)")
    print(f"headline: {envelope_eps:,.0f} events/s with envelopes; single events at {single_eps / decode_eps:.2f}x "
          f"the decode-only Faust agent ({decode_eps:,.0f}/s); alert p99 {p99 * 1000:.0f} ms")


if __name__ == "__main__":
    main()
