import json

import numpy as np
import pytest

from detectors.concept import ADWINDrift, PageHinkleyDrift


def _errors(seed, n_before=2000, n_after=2000, factor=2.0):
    rng = np.random.default_rng(seed)
    return np.r_[np.abs(rng.normal(0, 1, n_before)), factor * np.abs(rng.normal(0, 1, n_after))]


def test_pinned_detection_indices():
    a, p = ADWINDrift(), PageHinkleyDrift()
    a.update_many(_errors(0))
    p.update_many(_errors(0))
    assert a.detections == [2047]
    assert p.detections == [2075]


@pytest.mark.parametrize("cls, max_delay", [(ADWINDrift, 100), (PageHinkleyDrift, 150)])
def test_one_detection_per_change_with_bounded_delay(cls, max_delay):
    for seed in range(5):
        d = cls()
        d.update_many(_errors(seed))
        assert d.n_detections == 1, (seed, d.detections)
        assert 0 <= d.detections[0] - 2000 <= max_delay, (seed, d.detections)


@pytest.mark.parametrize("cls", [ADWINDrift, PageHinkleyDrift])
def test_no_detection_on_a_stationary_error_stream(cls):
    rng = np.random.default_rng(100)
    d = cls()
    d.update_many(np.abs(rng.normal(0, 1, 20_000)))
    assert d.detections == []


def test_debounce_merges_detections_closer_than_min_gap():
    # two steps 150 events apart: without debounce ADWIN reports both
    rng = np.random.default_rng(3)
    x = np.r_[np.abs(rng.normal(0, 1, 2000)), 3 * np.abs(rng.normal(0, 1, 150)),
              9 * np.abs(rng.normal(0, 1, 1000))]
    raw, debounced = ADWINDrift(min_gap=0), ADWINDrift(min_gap=500)
    raw.update_many(x)
    debounced.update_many(x)
    assert raw.n_detections >= 2
    assert debounced.n_detections == 1 and debounced.detections[0] == raw.detections[0]


def test_update_and_update_many_agree_and_flag_is_transient():
    x = _errors(1)
    a, b = ADWINDrift(), ADWINDrift()
    flags = []
    for v in x:
        a.update(v)
        flags.append(a.drift_detected)
    b.update_many(x)
    assert a.detections == b.detections == [i for i, f in enumerate(flags) if f]
    assert a.error == pytest.approx(b.error)


def test_non_finite_errors_are_skipped():
    d = PageHinkleyDrift()
    d.update_many([1.0, np.nan, np.inf, 2.0])
    assert d.n_seen == 2 and d.n_skipped == 2 and d.error == pytest.approx(1.5)


@pytest.mark.parametrize("cls", [ADWINDrift, PageHinkleyDrift])
def test_round_trip_continues_identically(cls):
    x = _errors(2)
    a = cls()
    a.update_many(x[:1500])
    b = cls.from_dict(json.loads(json.dumps(a.to_dict(), allow_nan=False)))
    a.update_many(x[1500:])
    b.update_many(x[1500:])
    assert a.detections == b.detections and a.detections
    assert a.error == b.error


@pytest.mark.parametrize("call, name", [
    (lambda: ADWINDrift(delta=0.0), "delta"), (lambda: ADWINDrift(min_gap=-1), "min_gap"),
    (lambda: PageHinkleyDrift(threshold=0.0), "threshold"), (lambda: PageHinkleyDrift(mode="x"), "mode"),
    (lambda: PageHinkleyDrift(alpha=1.5), "alpha")])
def test_bad_parameters(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("chunk", [1, 7, 250, 10_000])
def test_adwin_fast_path_matches_rivers_own_update(chunk):
    """ADWINDrift calls River's Rust ADWIN directly between detections: same detections, same state."""
    from river import drift as river_drift

    rng = np.random.default_rng(5)
    x = np.abs(np.concatenate([rng.normal(m, 0.3, 700) for m in (1.0, 2.5, 1.0, 4.0, 0.5, 3.0)]))
    river = river_drift.ADWIN(delta=0.002, grace_period=30)
    expected = []
    for i, v in enumerate(x.tolist()):
        river.update(v)
        if river.drift_detected:
            expected.append(i)
    d = ADWINDrift(min_gap=0)
    for i in range(0, x.size, chunk):
        d.update_many(x[i:i + chunk])
    assert len(expected) >= 4
    assert d.detections == expected
    assert (d.detector.width, d.detector.drift_detected) == (river.width, river.drift_detected)
    assert d.error == pytest.approx(river.estimation)
