"""Benchmark the registry and tracker against a local Redis.

Prints, for one client on loopback:

- promote/rollback transitions per second (each one Lua script: state + audit entry),
- metric points logged per second (``log_metrics`` with several metrics per call),
- the floor: a raw redis-py ``SET`` + ``GET`` loop (round trips per second),

and the ratio of transitions/s to raw round trips/s.  The last line is the headline.

Usage::

    python bench/registry.py                       # starts its own redis-server (AOF everysec)
    python bench/registry.py --redis redis://127.0.0.1:6379/0 --n 20000

Redis comes from ``streams.embedded`` when available, else a ``redis-server`` subprocess on a free
port; either is stopped at the end.  Keys go under a unique prefix and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
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


def bench_raw(url: str, n: int, prefix: str) -> float:
    """Round trips per second of a plain SET/GET loop (each call one round trip)."""
    r = redis.Redis.from_url(url, decode_responses=True)
    key = f"{prefix}:raw"
    r.set(key, "0")
    t0 = time.perf_counter()
    for i in range(n // 2):
        r.set(key, str(i))
        r.get(key)
    dt = time.perf_counter() - t0
    r.delete(key)
    r.close()
    return (n // 2) * 2 / dt


def bench_transitions(url: str, n: int, prefix: str) -> tuple[float, int]:
    """Promote/rollback transitions per second, alternating, on one model."""
    reg = ModelRegistry(url, prefix=prefix)
    versions = [f"1.{i}.0" for i in range(8)]
    for v in versions:
        reg.register_model("bench", v)
        reg.transition("bench", v, "staging")
    reg.promote_to_production("bench", versions[0])
    done = 0
    t0 = time.perf_counter()
    for i in range(n):
        try:
            if i % 2 == 0:
                reg.promote_to_production("bench", versions[1 + (i // 2) % (len(versions) - 1)], actor="bench")
            else:
                reg.rollback_model("bench", actor="bench", reason="bench")
            done += 1
        except IllegalTransition:
            pass
    dt = time.perf_counter() - t0
    history = len(reg.history("bench"))
    reg.close()
    return done / dt, history


def bench_metrics(url: str, calls: int, per_call: int, prefix: str) -> float:
    """Metric points logged per second: ``calls`` log_metrics calls of ``per_call`` metrics each."""
    tr = ExperimentTracker(url, prefix=prefix)
    tr.start_experiment("bench")
    run = tr.start_run("bench")
    names = [f"m{j}" for j in range(per_call)]
    t0 = time.perf_counter()
    for step in range(calls):
        tr.log_metrics(run.run_id, {name: step * 0.5 + j for j, name in enumerate(names)}, step=step)
    dt = time.perf_counter() - t0
    tr.end_run(run.run_id)
    tr.close()
    return calls * per_call / dt


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
    args = ap.parse_args(argv)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    with local_redis(args.redis) as url:
        info = redis.Redis.from_url(url).info()
        print(f"redis {info['redis_version']} at {url}  aof={info.get('aof_enabled')}  "
              f"python {sys.version.split()[0]}  redis-py {redis.__version__}")
        try:
            raw = bench_raw(url, args.n, prefix)
            tps, history = bench_transitions(url, args.n, prefix)
            pps = bench_metrics(url, args.metric_calls, args.per_call, prefix)
        finally:
            cleanup(url, prefix)
    print(f"raw redis-py SET/GET floor:    {raw:10,.0f} round trips/s ({1e6 / raw:.0f} us each)")
    print(f"promote/rollback transitions:  {tps:10,.0f} /s ({1e6 / tps:.0f} us each; {history} audit entries)")
    print(f"metric points logged:          {pps:10,.0f} /s ({args.per_call} per log_metrics call, "
          f"{pps / args.per_call:,.0f} calls/s)")
    print(f"ratio transitions/s : raw round trips/s = {tps / raw:.2f}")
    print(f"headline: {tps:,.0f} atomic promote/rollback transitions/s = {tps / raw:.2f}x the raw SET/GET floor "
          f"({raw:,.0f}/s); {pps:,.0f} metric points/s")


if __name__ == "__main__":
    main()
