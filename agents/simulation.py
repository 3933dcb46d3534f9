"""A simulated fleet of token-counting models: what ``predwatch demo`` and ``predwatch simulate`` publish.

Two versions of ``tok-counter`` estimate the token count of real texts (the dataset shipped in
:mod:`evaluation`); ground truth is the real ``cl100k_base`` count.  Version 1.0.0 is the
word-and-punctuation heuristic (MAPE ~18%), 2.0.0 the feature regression (MAPE ~7%).  Latency grows
with text length.  The stream goes through phases (each a share of the run):

==============  =========================================================================
phase           what happens (to version 2.0.0 unless said otherwise)
==============  =========================================================================
normal          texts drawn like the evaluation set, latencies of tens of ms
latency         p95 latency jumps above 2 s (a slow replica)
normal          back to normal
input drift     callers send mostly long code and JSON texts (both versions)
accuracy loss   2.0.0 over-counts by ~50% (a tokenizer mismatch after an update)
==============  =========================================================================

Ground truth comes inline on half of the events and as late feedback (``kind=feedback``) on a
fifth of them, so the monitor's join is exercised too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

MODEL = "tok-counter"
VERSIONS = ("1.0.0", "2.0.0")
PHASES = (("normal", 0.22), ("latency", 0.18), ("normal", 0.12), ("input drift", 0.22), ("accuracy loss", 0.26))


def phase_at(fraction: float) -> str:
    edge = 0.0
    for name, share in PHASES:
        edge += share
        if fraction < edge:
            return name
    return PHASES[-1][0]


@dataclass
class Fleet:
    """Precomputed texts, true counts and both versions' predictions."""

    texts: list[str]
    truth: np.ndarray
    predictions: dict[str, np.ndarray]
    kinds: list[str]
    chars: np.ndarray
    drift_pool: np.ndarray  # indexes of long code / JSON texts

    @classmethod
    def build(cls) -> "Fleet":
        from evaluation import get_estimator, load_default_dataset

        data = load_default_dataset()
        kinds = data.kinds or ["text"] * len(data)
        preds = {"1.0.0": get_estimator("word_punct").predict(data.texts),
                 "2.0.0": get_estimator("feature_regression", fit_on=data).predict(data.texts)}
        chars = np.array([len(t) for t in data.texts], dtype=np.float64)
        long_code = np.array([i for i, k in enumerate(kinds) if k in ("code", "json") and chars[i] > np.median(chars)])
        if long_code.size == 0:
            long_code = np.argsort(chars)[-max(1, len(chars) // 4):]
        return cls(list(data.texts), data.counts.astype(np.float64), preds, list(kinds), chars, long_code)

    def reference(self, version: str) -> dict:
        """The evaluation sample as a drift reference (prediction, chars, kind)."""
        from detectors.reference import Reference

        return Reference.from_samples({"prediction": self.predictions[version].tolist(),
                                       "chars": self.chars.tolist(), "kind": list(self.kinds)}).to_dict()


class Simulator:
    """Publishes the fleet's events in real time through a PredictionPublisher."""

    def __init__(self, publisher, *, rate_eps: float = 800.0, duration_s: float = 120.0, seed: int = 7,
                 fleet: Fleet | None = None) -> None:
        if rate_eps <= 0:
            raise ValueError(f"rate_eps must be > 0, got {rate_eps!r}")
        if duration_s <= 0:
            raise ValueError(f"duration_s must be > 0, got {duration_s!r}")
        self.publisher, self.rate, self.duration = publisher, rate_eps, duration_s
        self.rng = np.random.default_rng(seed)
        self.fleet = fleet or Fleet.build()
        self.sent = 0
        self.feedback_sent = 0
        self.phase = PHASES[0][0]
        self._pending: list[tuple[float, str, str, str, float]] = []  # (due, version, event id, -, truth)

    def step(self, now: float, n: int, fraction: float) -> None:
        f, rng = self.fleet, self.rng
        self.phase = phase = phase_at(fraction)
        pool = f.drift_pool if phase == "input drift" else None
        idx = rng.choice(pool, n) if pool is not None else rng.integers(0, len(f.texts), n)
        versions = rng.choice(VERSIONS, n, p=[0.5, 0.5])
        lat_base = rng.lognormal(np.log(18.0), 0.35, n) + f.chars[idx] * 0.01
        share = rng.random(n)
        for j in range(n):
            i, v = int(idx[j]), str(versions[j])
            pred = float(f.predictions[v][i])
            latency = float(lat_base[j])
            if v == "2.0.0" and phase == "latency":
                latency = float(rng.lognormal(np.log(2600.0), 0.25))
            if v == "2.0.0" and phase == "accuracy loss":
                pred *= 1.5
            truth = float(f.truth[i])
            inline = share[j] < 0.5
            eid = self.publisher.track_prediction(MODEL, v, prediction=pred, latency_ms=latency,
                                                  ground_truth=truth if inline else None, ts=now,
                                                  features={"kind": f.kinds[i], "chars": int(f.chars[i])})
            if not inline and share[j] < 0.7:
                self._pending.append((now + 2.0, v, eid, "", truth))
            self.sent += 1
        keep = []
        for due, v, eid, _, truth in self._pending:
            if due <= now:
                self.publisher.track_feedback(MODEL, v, eid, truth, ts=now)
                self.feedback_sent += 1
            else:
                keep.append((due, v, eid, _, truth))
        self._pending = keep

    def run(self, stop=None, on_tick=None) -> int:
        """Publish for ``duration_s`` seconds (or until ``stop`` is set); returns events sent."""
        start = time.monotonic()
        tick = 0.1
        while True:
            elapsed = time.monotonic() - start
            if elapsed >= self.duration or (stop is not None and stop.is_set()):
                break
            target = int(self.rate * elapsed)
            n = max(0, target - self.sent)
            if n:
                self.step(time.time(), n, elapsed / self.duration)
            if on_tick is not None:
                on_tick(self)
            time.sleep(tick)
        self.publisher.flush()
        return self.sent
