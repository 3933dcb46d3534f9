import json

import numpy as np
import pytest

from detectors import MonitorConfig, Reference, VersionMonitor

CATS = np.array(["fr", "de", "us"], dtype=object)


def _batch(rng, n, t0=0.0, shift=0.0, eps=100.0, cats=CATS, truth=True, err_scale=1.0):
    pred = rng.normal(10.0 + shift, 2.0, n)
    gt = pred + err_scale * rng.normal(0.0, 1.0, n) if truth else np.full(n, np.nan)
    x = rng.gamma(4.0, 10.0, n)
    x[rng.random(n) < 0.05] = np.nan                      # missing numeric feature values
    c = rng.choice(cats, n).astype(object)
    c[rng.random(n) < 0.05] = None
    return dict(ts=t0 + np.arange(n) / eps, latency_ms=rng.lognormal(3.0, 0.5, n), prediction=pred,  # noqa: C408
                ground_truth=gt, features={"x": x, "country": c})


def _cfg(**kw):
    base = dict(window_events=500, reference_size=500, anomaly_detector="none")  # noqa: C408
    base.update(kw)
    return MonitorConfig(**base)


def test_config_validation_and_round_trip():
    c = MonitorConfig(window_events=200, anomaly_detector="autoencoder", concept_drift="pagehinkley")
    assert MonitorConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    for kw, name in [({"window_events": 1}, "window_events"), ({"window_s": 0}, "window_s"),
                     ({"false_alarm_rate": 0.0}, "false_alarm_rate"), ({"anomaly_detector": "lof"}, "anomaly_detector"),
                     ({"concept_drift": "ddm"}, "concept_drift"), ({"anomaly_sample_every": 0}, "anomaly_sample_every"),
                     ({"calibrate": "yes"}, "calibrate"), ({"seed": -1}, "seed")]:
        with pytest.raises(ValueError, match=name):
            MonitorConfig(**kw)
    with pytest.raises(ValueError, match="unknown"):
        MonitorConfig.from_dict({"window": 3})


def test_metrics_absent_until_available():
    rng = np.random.default_rng(0)
    mon = VersionMonitor(_cfg(anomaly_detector="halfspacetrees"))
    assert mon.evaluate(now=0.0) == {"events_total": 0.0}
    mon.update_batch(**_batch(rng, 300, truth=False))
    m = mon.evaluate(now=3.0)
    assert not mon.reference_complete and not mon.is_warm
    assert "latency_p99_ms" in m and "throughput_eps" in m
    assert not any(k.startswith(("drift.", "anomaly.", "concept_drift.")) or k in ("mae", "r2")
                   for k in m), m
    mon.update_batch(**_batch(rng, 210, t0=3.0, truth=False))
    assert mon.reference_complete and not mon.is_warm        # 10 post-reference events < 30
    assert not any(k.startswith("drift.") for k in mon.evaluate(now=6.0))
    mon.update_batch(**_batch(rng, 100, t0=6.0, truth=False))
    m = mon.evaluate(now=7.0)
    assert mon.is_warm and "drift.prediction.ks_stat" in m and "mae" not in m


def test_reference_is_the_first_events_and_windows_exclude_it():
    rng = np.random.default_rng(1)
    mon = VersionMonitor(_cfg())
    b = _batch(rng, 800)
    mon.update_batch(**b)
    ref = Reference.from_dict(mon.reference_dict())
    assert np.array_equal(ref["prediction"].values, np.sort(b["prediction"][:500]))
    x = b["features"]["x"][:500]
    assert np.array_equal(ref["x"].values, np.sort(x[np.isfinite(x)]))
    assert ref.kind("country") == "categorical"
    assert np.array_equal(mon._windows["prediction"].values(), b["prediction"][500:])
    assert mon._windows["x"].count() == np.isfinite(b["features"]["x"][500:]).sum()


def test_window_metrics_equal_numpy_and_age_bound():
    rng = np.random.default_rng(2)
    mon = VersionMonitor(_cfg())
    b = _batch(rng, 1200)
    mon.update_batch(**b)
    m = mon.evaluate(now=float(b["ts"][-1]))
    lat = b["latency_ms"][-500:]
    assert m["latency_p95_ms"] == np.percentile(lat, 95) and m["latency_max_ms"] == lat.max()
    assert m["throughput_eps"] == pytest.approx(100.0)
    e = b["ground_truth"][-500:] - b["prediction"][-500:]
    assert m["mae"] == pytest.approx(np.mean(np.abs(e)), rel=1e-12)
    assert m["events_total"] == 1200.0
    later = mon.evaluate(now=float(b["ts"][-1]) + 4000.0)   # everything older than window_s
    assert "latency_p50_ms" not in later and "mae" not in later and "drift.prediction.psi" not in later


def test_stationary_stream_rarely_flags_and_shift_is_flagged():
    rng = np.random.default_rng(3)
    mon = VersionMonitor(_cfg())
    mon.update_batch(**_batch(rng, 500))
    fired = 0
    for i in range(40):
        mon.update_batch(**_batch(rng, 500, t0=5.0 * (i + 1)))
        m = mon.evaluate(now=5.0 * (i + 2))
        fired += any(v for k, v in m.items() if k.endswith("_drift"))
    assert fired <= 2, fired
    mon.update_batch(**_batch(rng, 500, t0=300.0, shift=1.0, cats=np.array(["fr", "de", "us", "jp"], dtype=object)))
    m = mon.evaluate(now=305.0)
    assert m["drift.prediction.ks_drift"] == m["drift.prediction.zscore_drift"] == 1.0
    assert m["drift.country.chi2_drift"] == 1.0          # an unseen category
    assert m["drift.x.ks_drift"] == 0.0 and m["drift.latency_ms.ks_drift"] == 0.0
    res = mon.drift_results(now=305.0)
    assert res[("prediction", "ks")].statistic > res[("prediction", "ks")].threshold


def test_explicit_reference_and_set_reference():
    rng = np.random.default_rng(4)
    ref = Reference.from_samples({"prediction": rng.normal(10, 2, 2000)}).to_dict()
    mon = VersionMonitor(_cfg(), reference=ref)
    assert mon.reference_complete and mon.reference_dict() == ref
    mon.update_batch(**_batch(rng, 200))
    m = mon.evaluate(now=2.0)
    assert "drift.prediction.ks_stat" in m and "drift.x.ks_stat" not in m
    new = Reference.from_samples({"prediction": rng.normal(14, 2, 2000)}).to_dict()
    mon.set_reference(new)
    assert mon.reference_dict() == new
    assert mon.evaluate(now=2.0)["drift.prediction.zscore_drift"] == 1.0


def test_feedback_feeds_accuracy_and_concept_drift_once():
    rng = np.random.default_rng(5)
    mon = VersionMonitor(_cfg())
    for i in range(4):
        mon.update_batch(**_batch(rng, 500, t0=5.0 * i, truth=False))
    assert "mae" not in mon.evaluate(now=20.0)
    p = rng.normal(10, 2, 2000)
    mon.add_feedback(ts=np.linspace(0, 20, 2000), prediction=p, ground_truth=p + rng.normal(0, 1, 2000))
    m = mon.evaluate(now=20.0)
    assert m["concept_drift.detected"] == 0.0 and m["mae"] == pytest.approx(0.8, abs=0.1)
    mon.add_feedback(ts=np.linspace(20, 25, 500), prediction=p[:500], ground_truth=p[:500] + rng.normal(0, 4, 500))
    m = mon.evaluate(now=25.0)
    assert m["concept_drift.detected"] == 1.0 and m["concept_drift.error"] > 2.0
    assert mon.evaluate(now=25.0)["concept_drift.detected"] == 0.0


def test_length_mismatch_rejected():
    rng = np.random.default_rng(6)
    b = _batch(rng, 10)
    b["prediction"] = b["prediction"][:9]
    with pytest.raises(ValueError, match="prediction"):
        VersionMonitor(_cfg()).update_batch(**b)


@pytest.mark.parametrize("detector", ["halfspacetrees", "oneclasssvm", "autoencoder"])
def test_round_trip_continues_identically(detector):
    rng = np.random.default_rng(7)
    cfg = _cfg(anomaly_detector=detector, anomaly_sample_every=3)
    a = VersionMonitor(cfg)
    batches = [_batch(rng, 300, t0=3.0 * i, shift=0.5 * (i > 5)) for i in range(10)]
    for b in batches[:1]:                               # state taken while the reference builds
        a.update_batch(**b)
    mid = VersionMonitor.from_dict(json.loads(json.dumps(a.to_dict(), allow_nan=False)))
    for b in batches[1:5]:
        a.update_batch(**b)
        mid.update_batch(**b)
    assert a.evaluate(now=15.0) == mid.evaluate(now=15.0)
    b2 = VersionMonitor.from_dict(json.loads(json.dumps(a.to_dict(), allow_nan=False)))
    for i, b in enumerate(batches[5:]):
        for mon in (a, b2, mid):
            mon.update_batch(**b)
        ea, eb = a.evaluate(now=18.0 + 3 * i), b2.evaluate(now=18.0 + 3 * i)
        assert ea == eb == mid.evaluate(now=18.0 + 3 * i)
    assert "anomaly.rate" in ea and "drift.country.chi2_pvalue" in ea


def test_uncalibrated_mode_uses_fixed_thresholds():
    rng = np.random.default_rng(8)
    mon = VersionMonitor(_cfg(calibrate=False, window_events=100, reference_size=1000))
    mon.update_batch(**_batch(rng, 1000))
    psi_fired = 0
    for i in range(20):
        mon.update_batch(**_batch(rng, 100, t0=10.0 + i))
        m = mon.evaluate(now=11.0 + i)
        psi_fired += m["drift.prediction.psi_drift"]
        assert m["drift.prediction.ks_drift"] == 0.0
    assert psi_fired >= 3       # PSI > 0.1 misfires at a 100-event window


def test_metric_names_follow_the_contract():
    names = pytest.importorskip("streams.metric_names")
    rng = np.random.default_rng(9)
    mon = VersionMonitor(_cfg(anomaly_detector="halfspacetrees", anomaly_sample_every=1))
    for i in range(4):
        mon.update_batch(**_batch(rng, 500, t0=5.0 * i))
    m = mon.evaluate(now=20.0)
    plain = {names.LATENCY_P50_MS, names.LATENCY_P95_MS, names.LATENCY_P99_MS, names.LATENCY_MEAN_MS,
             names.LATENCY_MAX_MS, names.THROUGHPUT_EPS, names.EVENTS_TOTAL, names.MAE, names.RMSE,
             names.R2, names.MAPE, names.ANOMALY_SCORE, names.ANOMALY_RATE, names.CONCEPT_DRIFT_ERROR,
             names.CONCEPT_DRIFT_DETECTED}
    drift = {k for k in m if names.parse_drift_metric(k)}
    assert set(m) - drift == plain
    fields = {names.parse_drift_metric(k)[0] for k in drift}
    assert fields == {"prediction", "latency_ms", "x", "country"}
    assert all(isinstance(v, float) and np.isfinite(v) for v in m.values())


def test_category_codes_are_the_same_on_the_fast_and_the_general_path():
    """Known categories are looked up one by one; a batch with a missing, unseen or non-string
    value takes the general path.  Both must give every category the same code."""
    mon = VersionMonitor(MonitorConfig(window_events=50, reference_size=50, anomaly_detector="none"))
    mon.update_batch(ts=np.arange(50.0), latency_ms=np.ones(50), prediction=np.ones(50), ground_truth=np.ones(50),
                     features={"c": np.array(["a", "b", "c", "d", "e"] * 10, dtype=object)})
    known = np.array(["e", "a", "c", "a"], dtype=object)
    fast = mon._encode("c", known)
    general = mon._encode("c", np.array(["e", "a", "c", "a", None, "new"], dtype=object))
    np.testing.assert_array_equal(general[:4], fast)
    assert np.isnan(general[4]) and general[5] == len(mon._codes["c"]) - 1
    assert mon._encode("c", np.array(["new", "a"], dtype=object)).tolist() == [general[5], fast[1]]
    assert [list(mon._codes["c"])[int(v)] for v in fast] == ["e", "a", "c", "a"]
