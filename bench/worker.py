"""Worker throughput and publish-to-alert latency, in one run on the embedded broker and Redis.

    .venv/bin/python bench/worker.py [--events 600000] [--envelope-runs 3] [--v1-runs 2]
                                     [--single-events 60000] [--single-pairs 5]

1. envelopes: 2,500 events per model (warm-up: reference, first full window, the one-off
   calibration) and then ``--events`` events are published as columnar envelopes (contract v2,
   what the publisher sends by default; ``--v1-runs`` more runs, alternated with these, use v1
   batch envelopes, and the ratio of the medians is printed); a ``predwatch
   worker`` process with the full monitor (windows, four drift tests, River anomaly, ADWIN,
   accuracy, rules, checkpoints) consumes them, timed from when every model is past its warm-up
   (its /metrics counters) to the last event counted (/health).  The machine's speed swings by a
   quarter from minute to minute here, so this runs ``--envelope-runs`` times, each worker on its
   own copy of the events; every run is printed and the median is the figure.
2. single: ``--single-events`` one-event messages through the same worker.
3. decode-only: a Faust agent that only decodes the same single-event messages (the framework's
   floor, 2,800-13,000 msg/s on these machines, by the day), run like the worker (consumer settings, logging) and timed
   over the same last ``--single-events`` messages.  Single-event
   figures vary by a third from run to run here, so 2 and 3 run as ``--single-pairs`` pairs, each
   pair on its own copy of the messages (both read it whole; the agent is timed from its first
   message), alternating which goes first; the ratio reported is the median of the pairs' ratios.
   Each run's CPU time per message (all threads, from /proc) is printed too, with the
   decode-only/monitor ratio: the work per message, which the machine's swings in speed move
   much less than the rates.  Where ``perf`` can count (Debian's linux-perf; not on every
   machine), user-space instructions and cycles per message as well (instructions are steady to ~1%).
4. alert latency: while 10,000 events/s of background load are published, a probe model sends a
   burst of slow predictions; the time from the burst to its ``latency-p95`` firing alert on the
   alert topic is measured over ``--probes`` episodes (each also resolves).

The last line is the headline.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


T0 = 1_800_000_000.0


def prefill(settings: Settings, n: int, *, envelopes: bool, models: int = 4, seed: int = 3, t0: float = T0,
            columnar: bool = True) -> None:
    rng = np.random.default_rng(seed)
    pred = rng.normal(100, 10, n)
    lat = rng.lognormal(3, 0.3, n)
    truth = pred * (1 + rng.normal(0, 0.05, n))
    chars = rng.integers(10, 2000, n)
    langs = rng.choice(["en", "de", "ja"], n)
    with PredictionPublisher(settings=settings, envelopes=envelopes, columnar=columnar, max_batch_events=1000) as pub:
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

    def counted_by_model(self, models: int) -> list[float]:
        """``monitor_events_total`` of model-0 .. model-{models-1} (0 before the first count)."""
        counts = dict.fromkeys(range(models), 0.0)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return list(counts.values())
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "monitor_events_total" and sample.labels.get("model", "").startswith("model-"):
                    counts[int(sample.labels["model"][6:])] = sample.value
        return list(counts.values())

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


MODELS = 4
#: Warm-up per model: its reference (1,000 events) and a first full window (1,000), whose first
#: evaluation calibrates each field's null distribution (~0.1-0.2 s per model, once).
WARMUP_PER_MODEL = 2_500


class CpuCounters:
    """The work a process does while a measurement runs: its CPU seconds (all threads, user and
    system, from /proc) and, where ``perf`` counts (Debian's linux-perf; some virtual machines hide
    the counters), its user-space instructions and cycles.  Wall-clock rates on these shared
    machines swing by a quarter or more from one run to the next; the work done per message
    swings much less (instructions least: ~1%), so its ratio is the steadier figure."""

    EVENTS = "instructions:u,cycles:u"

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.cpu0 = _cpu_seconds(pid)
        self.proc = (subprocess.Popen(["perf", "stat", "-x,", "-e", self.EVENTS, "-p", str(pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                     if _perf_works() else None)

    def stop(self) -> dict[str, float]:
        """``{"cpu_seconds": s, "instructions": n, "cycles": n}`` since the start (perf's left out
        without perf)."""
        counts = {"cpu_seconds": _cpu_seconds(self.pid) - self.cpu0}
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            _, err = self.proc.communicate(timeout=30)
            for line in err.splitlines():
                parts = line.split(",")
                if len(parts) > 2 and parts[0].isdigit():
                    counts[parts[2].split(":")[0]] = float(parts[0])
        return counts


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat, all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@functools.cache
def _perf_works() -> bool:
    """perf is installed and counts both events here (some virtual machines hide the counters)."""
    if not shutil.which("perf"):
        return False
    r = subprocess.run(["perf", "stat", "-x,", "-e", CpuCounters.EVENTS, "true"], capture_output=True, text=True,
                       check=False)
    return r.returncode == 0 and all(line.split(",")[0].isdigit() for line in r.stderr.splitlines()
                                     if "instructions" in line or "cycles" in line)


def _per_event(counts: dict[str, float], events: int) -> dict[str, float]:
    return {k: v / events for k, v in counts.items()}


def _wait(predicate, deadline: float, what: str) -> None:
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)  # each /health costs the worker ~0.3 ms: polled often, it skews the figure


def measure_worker(services, settings: Settings, n: int, state: Path,
                   timeout_s: float = 600) -> tuple[float, int, dict[str, float]]:
    """Steady-state events/s of a worker on a topic prefilled by :func:`prefill_measured`, how
    many events that was timed over, and the worker's CPU seconds (and, with perf, instructions
    and cycles) per event over that time (:class:`CpuCounters`).

    The clock starts once every model has been counted past its warm-up (the per-model counters
    on /metrics), so each model's one-off work is done; it stops at the last event.  (Timing from
    a share of the topic is not enough: Faust may read one partition long before another, and the
    late models' calibration would fall inside the timed part.)
    """
    w = Worker(services, settings.topic_prefix, state)
    total = MODELS * WARMUP_PER_MODEL + n
    try:
        deadline = time.monotonic() + timeout_s
        _wait(lambda: min(w.counted_by_model(MODELS)) >= WARMUP_PER_MODEL, deadline, "every model's warm-up")
        counters = CpuCounters(w.proc.pid)
        t1, c1 = time.perf_counter(), w.counted()
        if total - c1 < n // 4:
            raise RuntimeError(f"only {total - c1} of {n} events left after the warm-up: publish more")
        _wait(lambda: w.counted() >= total, deadline, f"{total} events to be counted")
        rate = (total - c1) / (time.perf_counter() - t1)
        return rate, total - c1, _per_event(counters.stop(), total - c1)
    finally:
        w.stop()


def prefill_measured(settings: Settings, n: int, *, envelopes: bool, columnar: bool = True) -> int:
    """A warm-up per model, then ``n`` events; returns the total."""
    ensure_topics(settings)
    warm = MODELS * WARMUP_PER_MODEL
    prefill(settings, warm, envelopes=envelopes, seed=1, columnar=columnar)
    prefill(settings, n, envelopes=envelopes, t0=T0 + warm / 1000.0, columnar=columnar)
    return warm + n


DECODE_AGENT = r'''
import sys, time, faust
from agents.app import ShortPollTransport
from streams.records import decode_message
broker, topic, start, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
app = faust.App(f"bench-decode-only-{topic}", broker=broker, store="memory://", web_enabled=False,
                broker_session_timeout=10, broker_heartbeat_interval=1, consumer_auto_offset_reset="earliest",
                stream_buffer_maxsize=4096, broker_max_poll_records=500)
app.transport = ShortPollTransport(app.conf.broker_consumer, app)  # the worker's consumer settings
src = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
state = {"count": 0, "first": None}

@app.agent(src, concurrency=1)
async def decode(stream):
    async for event in stream.events():
        state["count"] += len(decode_message(event.message.value))
        if state["first"] is None and state["count"] >= start:
            state["first"] = (time.perf_counter(), state["count"])
            sys.__stdout__.write(f"FIRST {state['count']}\n")  # the bench attaches its counters now
            sys.__stdout__.flush()
        if state["count"] >= n:
            t, c = state["first"]
            sys.__stdout__.write(f"RATE {(state['count'] - c) / (time.perf_counter() - t)}\n")  # faust redirects print
            sys.__stdout__.flush()
            raise SystemExit(0)

worker = faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False)  # as predwatch worker runs
worker.spinner = None
worker.execute_from_commandline()
'''


def measure_decode_only(services, topic: str, n: int, state: Path, start: int = 0) -> tuple[float, dict[str, float]]:
    """Events/s of the decode-only agent reading ``n`` events, timed from the ``start``-th, and
    its CPU seconds (with perf, also instructions and cycles) per event over that time."""
    script = state / "decode_agent.py"
    script.write_text(DECODE_AGENT)
    proc = subprocess.Popen([sys.executable, str(script), services.kafka_url, topic, str(start), str(n)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    rate, counters, counts, first = None, None, None, n
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("FIRST"):
            first = int(line.split()[1])
            counters = CpuCounters(proc.pid)
        if line.startswith("RATE"):
            rate = float(line.split()[1])
            counts = counters.stop()
            break
    proc.kill()  # the agent has reported; its app need not shut down cleanly
    proc.wait(30)
    if rate is None:
        raise RuntimeError("decode-only agent did not report:\n" + "".join(lines[-30:]))
    return rate, _per_event(counts, n - first)


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


ENVELOPES = {2: "columnar (v2) envelopes", 1: "v1 batch envelopes"}
#: What CpuCounters counts, as printed, and the factor that makes it readable per message.
WORK = {"cpu_seconds": "CPU µs", "instructions": "instructions", "cycles": "cycles"}
SCALE = {"cpu_seconds": 1e6, "instructions": 1.0, "cycles": 1.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=600_000, help="events per envelope run (after the warm-up)")
    ap.add_argument("--envelope-runs", type=int, default=3, help="envelope runs, each on its own copy (median)")
    ap.add_argument("--v1-runs", type=int, default=2,
                    help="runs with v1 batch envelopes instead of columnar (v2) ones, alternated with those")
    ap.add_argument("--single-events", type=int, default=60_000)
    ap.add_argument("--single-pairs", type=int, default=5, help="monitor/decode-only run pairs (median ratio)")
    ap.add_argument("--probes", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedServices(Path(tmp) / "services", appendonly=False) as services:
        state = Path(tmp)
        envelope_runs: dict[int, list[float]] = {2: [], 1: []}
        wanted = {2: args.envelope_runs, 1: args.v1_runs}
        for k in range(max(wanted.values())):
            for contract in (2, 1):  # alternated, so that both see the machine's slow and fast phases
                if k >= wanted[contract]:
                    continue
                env_settings = Settings(kafka=services.kafka_url, topic_prefix=f"benchenv{contract}x{k}", partitions=4)
                prefill_measured(env_settings, args.events, envelopes=True, columnar=contract == 2)
                eps, timed, env_work = measure_worker(services, env_settings, args.events, state)
                envelope_runs[contract].append(eps)
                work = f"; {env_work['cpu_seconds'] * 1e6:.2f} µs of worker CPU per event"
                work += f", {env_work['cycles']:,.0f} cycles" if "cycles" in env_work else ""
                print(f"full monitor, {ENVELOPES[contract]}, run {k + 1}: {eps:>10,.0f} events/s "
                      f"(timed over the last {timed:,}{work})")
        envelope_eps = statistics.median(envelope_runs[2])
        print(f"full monitor, {ENVELOPES[2]} (median of {args.envelope_runs} runs): {envelope_eps:,.0f} events/s")
        if envelope_runs[1]:
            v1_eps = statistics.median(envelope_runs[1])
            print(f"full monitor, {ENVELOPES[1]} (median of {args.v1_runs} runs): {v1_eps:,.0f} events/s; "
                  f"columnar / v1: {envelope_eps / v1_eps:.2f}")
        pairs = []
        for k in range(args.single_pairs):  # each pair reads its own copy; alternate which runs first
            single = Settings(kafka=services.kafka_url, topic_prefix=f"benchsingle{k}", partitions=4)
            total = prefill_measured(single, args.single_events, envelopes=False)
            runs = {"monitor": lambda s=single: measure_worker(services, s, args.single_events, state)[::2],
                    "decode": lambda s=single, t=total: measure_decode_only(
                        services, f"{s.topic_prefix}.predictions", t, state, start=t - args.single_events)}
            order = ["monitor", "decode"] if k % 2 == 0 else ["decode", "monitor"]
            got = {name: runs[name]() for name in order}
            pairs.append((got["monitor"], got["decode"]))
            (m, mw), (d, dw) = got["monitor"], got["decode"]
            work = "".join(f"; {WORK[what]} per message {mw[what] * SCALE[what]:,.0f} vs {dw[what] * SCALE[what]:,.0f} "
                           f"({dw[what] / mw[what]:.2f})" for what in WORK if what in mw and what in dw)
            print(f"single events, pair {k + 1}: full monitor {m:>7,.0f}/s, decode-only Faust agent "
                  f"{d:>7,.0f}/s, ratio {m / d:.2f}{work}")
        ratio = statistics.median(m / d for (m, _), (d, _) in pairs)
        single_eps = statistics.median(m for (m, _), _ in pairs)
        decode_eps = statistics.median(d for _, (d, _) in pairs)
        print(f"single / decode-only (median of {len(pairs)} pairs): {ratio:.2f}")
        work_ratio = {what: statistics.median(dw[what] / mw[what] for (_, mw), (_, dw) in pairs)
                      for what in WORK if all(what in mw and what in dw for (_, mw), (_, dw) in pairs)}
        for what, r in work_ratio.items():
            print(f"decode-only / full monitor, {WORK[what]} per message (median): {r:.2f}")
        print(f"envelopes / decode-only:         {envelope_eps / decode_eps:10.1f}")
        lat = sorted(measure_alert_latency(services, state, args.probes))
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))]
        print(f"publish-to-alert latency at 10,000 events/s load: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
              f"(max of {len(lat)} probes: {lat[-1] * 1000:.0f} ms)")
    what = "cycles" if "cycles" in work_ratio else "cpu_seconds"
    print(f"headline: {envelope_eps:,.0f} events/s with columnar envelopes; single events at {ratio:.2f}x "
          f"the decode-only Faust agent ({single_eps:,.0f} vs {decode_eps:,.0f}/s; {WORK[what]} per message: "
          f"{work_ratio[what]:.2f}x); alert p99 {p99 * 1000:.0f} ms")


if __name__ == "__main__":
    main()
