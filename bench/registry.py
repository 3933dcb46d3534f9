"""Benchmark the registry and tracker against a local Redis.

Prints, for one client on loopback:

- promote/rollback transitions per second (each one Lua script: state + audit entry),
- metric points logged per second (``log_metrics`` with several metrics per call),
- the floor: a raw redis-py ``SET`` + ``GET`` loop (round trips per second),

and the ratio of transitions/s to raw round trips/s.  The three loops run in interleaved rounds
(background load then hits them alike) and medians are printed.  The last line is the headline.

Usage::

    python bench/registry.py                       # starts its own redis-server (AOF everysec)
    python bench/registry.py --redis redis://127.0.0.1:6379/0 --n 20000

Redis comes from ``streams.embedded`` when available, else a ``redis-server`` subprocess on a free
port; either is stopped at the end.  Keys go under a unique prefix and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from registry import ExperimentTracker, IllegalTransition, ModelRegistry  # noqa: E402


@contextlib.contextmanager
def local_redis(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    try:
        from streams.embedded import EmbeddedServices
    except ImportError:
        EmbeddedServices = None
    if EmbeddedServices is not None:
        with EmbeddedServices(kafka=False, redis=True, appendonly=True) as services:
            yield services.redis_url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("no redis-server on PATH and no streams.embedded: pass --redis redis://host:port/0")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp,
                                 "--appendonly", "yes", "--appendfsync", "everysec",
                                 "--maxmemory-policy", "noeviction"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"redis://127.0.0.1:{port}/0"
            client = redis.Redis.from_url(url)
            for _ in range(100):
                with contextlib.suppress(redis.ConnectionError):
                    if client.ping():
                        break
                time.sleep(0.05)
            client.close()
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


class Bench:
    """The three loops, set up once, run in interleaved rounds so background load hits all alike."""

    def __init__(self, url: str, prefix: str, per_call: int) -> None:
        self.raw = redis.Redis.from_url(url, decode_responses=True)
        self.raw_key = f"{prefix}:raw"
        self.reg = ModelRegistry(url, prefix=prefix)
        self.versions = [f"1.{i}.0" for i in range(8)]
        for v in self.versions:
            self.reg.register_model("bench", v)
            self.reg.transition("bench", v, "staging")
        self.reg.promote_to_production("bench", self.versions[0])
        self.i = 0
        self.tr = ExperimentTracker(url, prefix=prefix)
        self.tr.start_experiment("bench")
        self.run_id = self.tr.start_run("bench").run_id
        self.names = [f"m{j}" for j in range(per_call)]
        self.step = 0

    def raw_round_trips(self, n: int) -> float:
        """Round trips per second of a plain SET/GET loop (each call one round trip)."""
        r, key = self.raw, self.raw_key
        t0 = time.perf_counter()
        for i in range(n // 2):
            r.set(key, str(i))
            r.get(key)
        return (n // 2) * 2 / (time.perf_counter() - t0)

    def transitions(self, n: int) -> float:
        """Promote/rollback transitions per second, alternating, on one model."""
        reg, versions = self.reg, self.versions
        done = 0
        t0 = time.perf_counter()
        for _ in range(n):
            self.i += 1
            try:
                if self.i % 2:
                    reg.promote_to_production("bench", versions[1 + (self.i // 2) % (len(versions) - 1)],
                                              actor="bench")
                else:
                    reg.rollback_model("bench", actor="bench", reason="bench")
                done += 1
            except IllegalTransition:
                pass
        return done / (time.perf_counter() - t0)

    def metric_points(self, calls: int) -> float:
        """Metric points logged per second: ``calls`` log_metrics calls of len(names) metrics each."""
        tr, names = self.tr, self.names
        t0 = time.perf_counter()
        for _ in range(calls):
            self.step += 1
            tr.log_metrics(self.run_id, {name: self.step * 0.5 + j for j, name in enumerate(names)}, step=self.step)
        return calls * len(names) / (time.perf_counter() - t0)

    def close(self) -> int:
        history = len(self.reg.history("bench"))
        self.tr.end_run(self.run_id)
        for c in (self.reg, self.tr, self.raw):
            c.close()
        return history


def cleanup(url: str, prefix: str) -> None:
    r = redis.Redis.from_url(url)
    keys = list(r.scan_iter(match=f"{prefix}:*", count=1000))
    for i in range(0, len(keys), 500):
        r.delete(*keys[i:i + 500])
    r.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--redis", help="use this Redis instead of starting one")
    ap.add_argument("--n", type=int, default=10_000, help="transitions and raw round trips (default 10000)")
    ap.add_argument("--metric-calls", type=int, default=5_000, help="log_metrics calls (default 5000)")
    ap.add_argument("--per-call", type=int, default=10, help="metrics per log_metrics call (default 10)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved measurement rounds (default 5)")
    args = ap.parse_args(argv)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    rounds = max(args.rounds, 1)
    raw, tps, pps, ratios = [], [], [], []
    with local_redis(args.redis) as url:
        info = redis.Redis.from_url(url).info()
        print(f"redis {info['redis_version']} at {url}  aof={info.get('aof_enabled')}  "
              f"python {sys.version.split()[0]}  redis-py {redis.__version__}  cpus {os.cpu_count()}")
        try:
            bench = Bench(url, prefix, args.per_call)
            for _ in range(rounds):
                raw.append(bench.raw_round_trips(args.n // rounds))
                tps.append(bench.transitions(args.n // rounds))
                pps.append(bench.metric_points(args.metric_calls // rounds))
                ratios.append(tps[-1] / raw[-1])
            history = bench.close()
        finally:
            cleanup(url, prefix)
    med = statistics.median
    print(f"{rounds} interleaved rounds; medians (min-max):")
    print(f"raw redis-py SET/GET floor:    {med(raw):10,.0f} round trips/s ({1e6 / med(raw):.0f} us each; "
          f"{min(raw):,.0f}-{max(raw):,.0f})")
    print(f"promote/rollback transitions:  {med(tps):10,.0f} /s ({1e6 / med(tps):.0f} us each; "
          f"{min(tps):,.0f}-{max(tps):,.0f}; {history} audit entries)")
    print(f"metric points logged:          {med(pps):10,.0f} /s ({args.per_call} per log_metrics call; "
          f"{min(pps):,.0f}-{max(pps):,.0f})")
    print(f"ratio transitions/s : raw round trips/s = {med(ratios):.2f} (per-round median)")
    print(f"headline: {med(tps):,.0f} atomic promote/rollback transitions/s = {med(ratios):.2f}x the raw SET/GET "
          f"floor ({med(raw):,.0f} round trips/s); {med(pps):,.0f} metric points/s")

if __name__ == "__main__":
    main()
