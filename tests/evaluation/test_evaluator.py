"""ModelEvaluator: metrics, intervals, cross-validation, baseline comparison, quality gate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from evaluation.dataset import Dataset, load_default_dataset
from evaluation.estimators import FeatureRegression, get_estimator
from evaluation.evaluator import ModelEvaluator, QualityThresholds
from tests.evaluation.test_metrics import reference_metrics


@pytest.fixture(scope="module")
def data():
    return load_default_dataset()


def fast(**kw):
    return ModelEvaluator(n_resamples=200, seed=3, **kw)


def test_report_metrics_match_independent_formulas(data):
    report = fast().evaluate_token_counting_accuracy("word_punct", data)
    pred = get_estimator("word_punct").predict(data.texts)
    assert np.array_equal(report.predictions, pred)
    want = reference_metrics(data.counts.tolist(), pred.tolist())
    for k, v in want.items():
        assert report.metrics[k] == pytest.approx(v, rel=1e-12)
    assert report.metrics["bias"] == pytest.approx(float(np.mean(pred - data.counts)))
    assert report.prediction_mode == "direct" and report.cross_validation is None
    for k, (lo, hi) in report.intervals.items():
        assert lo <= report.metrics[k] <= hi
    assert report.passed and report.n == 400


def test_reports_are_reproducible_with_a_seed(data):
    a = fast().evaluate_token_counting_accuracy("feature_regression", data)
    b = fast().evaluate_token_counting_accuracy("feature_regression", data)
    assert a.intervals == b.intervals and a.metrics == b.metrics
    assert a.cross_validation["folds"] == b.cross_validation["folds"]


def test_fitted_models_are_scored_out_of_fold(data):
    report = fast(k_folds=4).evaluate_token_counting_accuracy("feature_regression", data)
    assert report.prediction_mode == "out-of-fold (4-fold cross-validation)"
    cv = report.cross_validation
    assert cv["k"] == 4 and len(cv["folds"]) == 4
    assert cv["mean"]["mae"] == pytest.approx(np.mean([f["mae"] for f in cv["folds"]]))
    # out-of-fold MAE is worse than the in-sample fit, which would flatter the model
    in_sample = get_estimator("feature_regression", fit_on=data).predict(data.texts)
    assert report.metrics["mae"] > np.mean(np.abs(in_sample - data.counts))
    # and the overall out-of-fold MAE is the fold MAEs weighted by fold size
    sizes = [100, 100, 100, 100]
    assert report.metrics["mae"] == pytest.approx(np.average([f["mae"] for f in cv["folds"]], weights=sizes))


def test_train_data_and_prefitted_instances(data):
    train, test = data.subset(range(300)), data.subset(range(300, 400))
    report = fast().evaluate_token_counting_accuracy("feature_regression", test, train_data=train)
    assert report.prediction_mode.startswith("fitted on") and report.n == 100
    direct = FeatureRegression().fit(train.texts, train.counts).predict(test.texts)
    assert np.allclose(report.predictions, direct)
    pre = FeatureRegression().fit(train.texts, train.counts)
    again = fast().evaluate_token_counting_accuracy(pre, test)
    assert again.prediction_mode == "pre-fitted" and np.allclose(again.predictions, direct)


def test_baseline_comparison_and_must_beat_baseline(data):
    th = QualityThresholds(must_beat_baseline=True)
    good = fast(thresholds=th, baseline="chars_per_token").evaluate_token_counting_accuracy("word_punct", data)
    assert good.comparison.baseline == "chars_per_token" and good.comparison.model_is_better and good.passed
    assert good.baseline_metrics["mae"] == pytest.approx(good.comparison.baseline_mae)
    bad = fast(thresholds=th).evaluate_token_counting_accuracy("chars_per_token", data, baseline="word_punct")
    assert not bad.passed and "not significantly better than baseline 'word_punct'" in bad.failures[0]
    none = fast(thresholds=th).evaluate_token_counting_accuracy("word_punct", data)
    assert none.failures == ["must_beat_baseline set but no baseline was evaluated"]


def test_thresholds_decide_pass_or_fail(data):
    report = fast(thresholds=QualityThresholds(max_mae=1.0, max_mape=0.5, min_r2=0.99)).evaluate_token_counting_accuracy(
        "chars_per_token", data)
    assert not report.passed
    assert [f.split()[0] for f in report.failures] == ["mae", "r2"]
    assert report.flat_metrics()["passed"] == 0.0


def test_threshold_validation():
    with pytest.raises(ValueError, match="max_mae must be a finite number or None, got nan"):
        QualityThresholds(max_mae=float("nan"))
    with pytest.raises(ValueError, match="must_beat_baseline must be true or false"):
        QualityThresholds(must_beat_baseline="yes")
    with pytest.raises(ValueError, match=r"unknown threshold\(s\) \['max_error'\]"):
        QualityThresholds.from_dict({"max_error": 1})
    assert QualityThresholds.from_dict({"min_r2": 0.5}).min_r2 == 0.5
    assert QualityThresholds(max_mape=0.1).check({"mae": 1, "rmse": 1, "r2": 1, "mape": math.nan}) == [
        "mape nan > max_mape 0.1"]


def test_by_kind_breakdown(data):
    report = fast().evaluate_token_counting_accuracy("chars_per_token", data)
    assert set(report.by_kind) == set(data.kinds)
    assert sum(v["n"] for v in report.by_kind.values()) == 400
    # chars/4 over-counts English prose and under-counts other scripts, relatively the most
    assert report.by_kind["prose"]["bias"] > 0 > report.by_kind["non_english"]["bias"]
    assert max(report.by_kind, key=lambda k: report.by_kind[k]["mape"]) == "non_english"


def test_cross_validation_of_an_unregistered_instance(data):
    class Scaled:
        name = "scaled-chars"  # not in ESTIMATORS
        needs_fit = True

        def __init__(self):
            self.k = None

        @property
        def is_fitted(self):
            return self.k is not None

        def fit(self, texts, counts):
            self.k = float(np.sum(counts) / sum(map(len, texts)))
            return self

        def predict(self, texts):
            return np.array([len(t) * self.k for t in texts])

    given = Scaled().fit(data.texts, data.counts)
    report = fast().evaluate_token_counting_accuracy(given, data)
    assert report.prediction_mode == "pre-fitted" and len(report.cross_validation["folds"]) == 5
    assert given.k == pytest.approx(float(np.sum(data.counts) / sum(map(len, data.texts))))  # left as given


def test_worst_records_are_listed_for_diagnosis(data):
    report = fast(n_worst=3).evaluate_token_counting_accuracy("chars_per_token", data)
    errors = np.abs(report.predictions - data.counts)
    assert [abs(w["error"]) for w in report.worst] == sorted(errors, reverse=True)[:3]
    top = report.worst[0]
    i = data.lines.index(top["line"])
    assert top["token_count"] == data.counts[i] and top["prediction"] == report.predictions[i]
    assert len(top["text"]) <= 80 and top["kind"] == data.kinds[i]
    with pytest.raises(ValueError, match="n_worst must be >= 0"):
        ModelEvaluator(n_worst=-1)


def test_stand_in_estimators_pairs_and_progress():
    class Doubler:
        name = "doubler"
        needs_fit = False

        def predict(self, texts):
            return np.array([2.0 * len(t.split()) for t in texts])

    seen = []
    ev = ModelEvaluator(n_resamples=50, estimator_factory=lambda name: Doubler(), batch_size=2)
    report = ev.evaluate_token_counting_accuracy("doubler", [("a b", 2), ("c", 1), ("d e f", 3)],
                                                 progress=lambda *a: seen.append(a))
    assert report.metrics["mae"] == pytest.approx(2.0) and report.metrics["mape"] == pytest.approx(1.0)
    assert seen[:2] == [("predict", 2, 3), ("predict", 3, 3)] and seen[-1][0] == "bootstrap"


def test_report_serialises(data, tmp_path):
    report = fast(baseline="chars_per_token").evaluate_token_counting_accuracy("feature_regression", data)
    body = json.loads(json.dumps(report.to_dict()))
    assert body["model"] == "feature_regression" and body["comparison"]["baseline"] == "chars_per_token"
    flat = report.flat_metrics()
    assert {"mae", "rmse", "r2", "mape", "mae_ci_low", "cv_mae_mean", "baseline_p_value", "passed"} <= set(flat)
    assert all(isinstance(v, float) for v in flat.values())


def test_evaluator_argument_checks(tmp_path):
    for kw, msg in [({"n_resamples": 0}, "n_resamples"), ({"confidence": 0}, "confidence"),
                    ({"k_folds": 1}, "k_folds"), ({"alpha": 1.5}, "alpha"), ({"batch_size": 0}, "batch_size")]:
        with pytest.raises(ValueError, match=msg):
            ModelEvaluator(**kw)
    ev = ModelEvaluator(n_resamples=10)
    with pytest.raises(ValueError, match="at least 2 records"):
        ev.evaluate_token_counting_accuracy("word_punct", Dataset.from_texts(["a"], [1]))
    with pytest.raises(ValueError, match="needs fitting"):
        ev.evaluate_token_counting_accuracy("feature_regression", [("a", 1), ("b c", 2), ("d", 1)])
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a b", "token_count": 2}\n{"text": "c", "token_count": 1}\n')
    assert ev.evaluate_token_counting_accuracy("word_punct", path).n == 2
