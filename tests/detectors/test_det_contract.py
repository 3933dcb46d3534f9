"""What every detector promises: config validated with a ValueError naming the parameter, reset()
back to a fresh state, seeded determinism, plain-JSON state."""

import json

import numpy as np
import pytest

from detectors import (
    Accuracy,
    ADWINDrift,
    HalfSpaceTreesAnomaly,
    LatencySketch,
    MonitorConfig,
    OneClassSVMAnomaly,
    PageHinkleyDrift,
    ReconstructionAnomaly,
    RollingPercentiles,
    SlidingWindow,
    VersionMonitor,
)

RESETTABLE = [
    (lambda: SlidingWindow(size=10), lambda d: d.update_many(np.arange(20.0))),
    (lambda: Accuracy(window=10), lambda d: d.update_many(np.arange(20.0), np.arange(20.0) + 1)),
    (lambda: LatencySketch(), lambda d: d.update_many(np.arange(1.0, 20.0))),
    (lambda: RollingPercentiles(size=10), lambda d: d.update_many(np.arange(20.0))),
    (lambda: ADWINDrift(), lambda d: d.update_many(np.r_[np.zeros(500), np.ones(500)])),
    (lambda: PageHinkleyDrift(), lambda d: d.update_many(np.r_[np.zeros(500), 5 * np.ones(500)])),
    (lambda: ReconstructionAnomaly(), lambda d: [d.update({"a": float(i % 7), "b": float(i % 5)})
                                                  for i in range(300)]),
]


def _state(d):
    s = d.to_dict()
    for k in ("detector", "model"):  # pickled River objects: compare the rest
        s.pop(k, None)
    return s


@pytest.mark.parametrize("make, feed", RESETTABLE)
def test_reset_returns_to_a_fresh_state(make, feed):
    d = make()
    fresh = json.dumps(_state(d), sort_keys=True, default=str)
    feed(d)
    assert json.dumps(_state(d), sort_keys=True, default=str) != fresh
    d.reset()
    assert json.dumps(_state(d), sort_keys=True, default=str) == fresh


@pytest.mark.parametrize("make, feed", RESETTABLE)
def test_state_is_plain_json(make, feed):
    d = make()
    feed(d)
    json.dumps(d.to_dict(), allow_nan=False)


@pytest.mark.parametrize("cls", [HalfSpaceTreesAnomaly, OneClassSVMAnomaly])
def test_river_detectors_depend_on_their_seed(cls):
    rng = np.random.default_rng(0)
    xs = [{"a": float(a), "b": float(b)} for a, b in rng.uniform(size=(700, 2))]
    scores = {}
    for seed in (1, 2):
        d = cls(seed=seed, warmup=100)
        for x in xs:
            d.update(x)
        scores[seed] = d.threshold
    assert scores[1] is not None and scores[1] != scores[2]


@pytest.mark.parametrize("value", [0, -3, 2.5, "10", True, None])
def test_error_messages_name_parameter_value_and_range(value):
    with pytest.raises(ValueError) as e:
        SlidingWindow(size=value)
    msg = str(e.value)
    assert msg.startswith("size must be") and repr(value) in msg and ">= 1" in msg


def test_monitor_accepts_object_numeric_columns_and_empty_batches():
    rng = np.random.default_rng(1)
    mon = VersionMonitor(MonitorConfig(window_events=100, reference_size=100, anomaly_detector="none"))
    empty = np.array([])
    mon.update_batch(ts=empty, latency_ms=empty, prediction=empty, ground_truth=empty,
                     features={"x": empty, "c": np.array([], dtype=object)})
    assert mon.events_total == 0
    for i in range(3):
        x = rng.normal(size=100).astype(object)
        x[::10] = None
        mon.update_batch(ts=i + np.arange(100) / 100, latency_ms=rng.lognormal(size=100),
                         prediction=rng.normal(size=100), ground_truth=np.full(100, np.nan),
                         features={"x": x, "c": rng.choice(["a", "b"], 100).astype(object)})
    m = mon.evaluate(now=3.0)
    assert mon.reference_dict()["fields"]["x"]["kind"] == "numeric"
    assert len(mon.reference_dict()["fields"]["x"]["values"]) == 90
    assert "drift.x.ks_stat" in m and mon.n_type_errors == 0


def test_boolean_feature_columns_match_the_reference_spelling():
    rng = np.random.default_rng(2)
    mon = VersionMonitor(MonitorConfig(window_events=100, reference_size=100, anomaly_detector="none"))
    for i in range(2):
        mon.update_batch(ts=i + np.arange(100) / 100, latency_ms=rng.lognormal(size=100),
                         prediction=rng.normal(size=100), ground_truth=np.full(100, np.nan),
                         features={"flag": rng.random(100) < 0.3})
    assert set(mon.reference_dict()["fields"]["flag"]["counts"]) == {"true", "false"}
    assert set(mon._codes["flag"]) == {"true", "false"}
    assert "drift.flag.chi2_pvalue" in mon.evaluate(now=2.0)
