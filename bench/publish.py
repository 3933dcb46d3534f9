"""Publisher SDK throughput against a raw confluent-kafka producer, in one run on the embedded broker.

    .venv/bin/python bench/publish.py [--events 200000] [--rounds 3]

* raw: a confluent-kafka producer with the SDK's producer settings (idempotent, acks=all, lz4)
  sending the same event JSON, pre-encoded, one message per event: the floor of "publishing";
* sdk (envelopes): ``PredictionPublisher.track_prediction`` per event, validated and batched into
  columnar (v2) envelopes (the default);
* sdk (v1 envelopes): the same with ``columnar=False`` (each event encoded, v1 batch envelopes);
* sdk (single): the same with one message per event.

Each figure includes the final flush (every event acknowledged).  Rounds are interleaved and the
median is reported; the last line is the headline ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from confluent_kafka import Producer

from streams import records
from streams.embedded import EmbeddedServices
from streams.publisher import PredictionPublisher
from streams.settings import Settings
from streams.topics import ensure_topics


def make_inputs(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    pred = rng.normal(100, 10, n).tolist()
    lat = rng.lognormal(3, 0.4, n).tolist()
    chars = rng.integers(10, 2000, n).tolist()
    langs = rng.choice(["en", "de", "ja"], n).tolist()
    return pred, lat, chars, langs


def run_sdk(settings: Settings, inputs, *, envelopes: bool, columnar: bool = True) -> float:
    pred, lat, chars, langs = inputs
    n = len(pred)
    ts = time.time()
    with PredictionPublisher(settings=settings, envelopes=envelopes, columnar=columnar) as pub:
        t0 = time.perf_counter()
        for i in range(n):
            pub.track_prediction("tok-counter", "2.0.0", prediction=pred[i], latency_ms=lat[i], ts=ts,
                                 features={"lang": langs[i], "chars": chars[i]})
        assert pub.flush(120) == 0
        elapsed = time.perf_counter() - t0
        assert pub.stats.events_delivered == n, pub.stats
    return n / elapsed


def run_raw(settings: Settings, inputs) -> float:
    pred, lat, chars, langs = inputs
    n = len(pred)
    ts = time.time()
    payloads = [records.encode(records.PredictionEvent(v=1, event_id=records.new_event_id(), model="tok-counter",
                                                       version="2.0.0", ts=ts, latency_ms=lat[i], prediction=pred[i],
                                                       features={"lang": langs[i], "chars": chars[i]}))
                for i in range(n)]
    producer = Producer({**settings.confluent_config(), "enable.idempotence": True, "acks": "all",
                         "linger.ms": 5, "compression.type": "lz4", "queue.buffering.max.kbytes": 256 * 1024})
    topic = settings.topic("predictions")
    t0 = time.perf_counter()
    for p in payloads:
        while True:
            try:
                producer.produce(topic, p, key=b"tok-counter")
                break
            except BufferError:
                producer.poll(0.005)
    assert producer.flush(120) == 0
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    inputs = make_inputs(args.events)
    with EmbeddedServices(redis=False) as services:
        settings = Settings(kafka=services.kafka_url, partitions=4)
        ensure_topics(settings)
        results: dict[str, list[float]] = {"raw": [], "sdk_envelopes": [], "sdk_v1_envelopes": [], "sdk_single": []}
        for _ in range(args.rounds):
            results["raw"].append(run_raw(settings, inputs))
            results["sdk_envelopes"].append(run_sdk(settings, inputs, envelopes=True))
            results["sdk_v1_envelopes"].append(run_sdk(settings, inputs, envelopes=True, columnar=False))
            results["sdk_single"].append(run_sdk(settings, inputs, envelopes=False))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"events per run: {args.events:,}; rounds: {args.rounds} (median shown, min-max in brackets)")
    for k, v in results.items():
        print(f"  {k:16} {med[k]:>12,.0f} events/s   [{min(v):,.0f} - {max(v):,.0f}]")
    print(f"  sdk columnar / v1 envelopes {med['sdk_envelopes'] / med['sdk_v1_envelopes']:.2f}")
    print(f"  sdk single / raw   {med['sdk_single'] / med['raw']:.2f}")
    print(f"headline: PredictionPublisher (columnar envelopes) {med['sdk_envelopes']:,.0f} events/s = "
          f"{med['sdk_envelopes'] / med['raw']:.2f}x a raw confluent-kafka producer ({med['raw']:,.0f} msg/s)")


if __name__ == "__main__":
    main()
