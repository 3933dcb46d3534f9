"""Estimators: shapes, real and different errors, least squares, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.dataset import load_default_dataset
from evaluation.errors import NotFittedError
from evaluation.estimators import (
    ESTIMATORS,
    FEATURE_NAMES,
    FeatureRegression,
    TokenEstimator,
    get_estimator,
    text_features,
)
from evaluation.metrics import regression_metrics


@pytest.fixture(scope="module")
def data():
    return load_default_dataset()


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_every_estimator_predicts_finite_counts(name, data):
    est = get_estimator(name, fit_on=data)
    assert isinstance(est, TokenEstimator) and est.name == name
    pred = est.predict(data.texts[:50])
    assert isinstance(pred, np.ndarray) and pred.shape == (50,) and pred.dtype == np.float64
    assert np.isfinite(pred).all() and (pred >= 0).all()
    assert est.predict([]).shape == (0,)
    with pytest.raises(TypeError, match="single str"):
        est.predict("a text")


def test_estimators_make_real_and_different_errors(data):
    maes = {}
    for name in ESTIMATORS:
        est = get_estimator(name, fit_on=data.subset(range(0, 400, 2)))
        held_out = data.subset(range(1, 400, 2))
        maes[name] = regression_metrics(held_out.counts, est.predict(held_out.texts))["mae"]
    assert all(m > 0.5 for m in maes.values()), maes
    assert len({round(m, 1) for m in maes.values()}) == len(maes), maes
    assert maes["feature_regression"] < maes["word_punct"] < maes["chars_per_token"], maes


def test_chars_per_token_undercounts_non_english(data):
    est = get_estimator("chars_per_token")
    mask = np.array([k == "non_english" for k in data.kinds])
    pred = est.predict([t for t, m in zip(data.texts, mask) if m])
    assert np.mean(pred - data.counts[mask]) < -5


def test_least_squares_recovers_a_linear_rule():
    texts = ["one two", "a b c d", "x", "hello there world", "p q r s t u", "z y"]
    words = text_features(texts)[:, FEATURE_NAMES.index("words")]
    counts = 2 * words + 1
    reg = FeatureRegression(ridge=0.0).fit(texts, counts)
    assert reg.predict(texts) == pytest.approx(counts, abs=1e-6)
    reg2 = FeatureRegression.from_dict(reg.to_dict())
    assert reg2.predict(["m n o"]) == pytest.approx(reg.predict(["m n o"]))


def test_regression_errors():
    reg = FeatureRegression()
    with pytest.raises(NotFittedError, match="must be fitted"):
        reg.predict(["x"])
    with pytest.raises(NotFittedError):
        reg.to_dict()
    with pytest.raises(ValueError, match="one value per text"):
        reg.fit(["a", "b"], [1])
    with pytest.raises(ValueError, match="at least 2 texts"):
        reg.fit(["a"], [1])
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        FeatureRegression(ridge=-1)
    with pytest.raises(ValueError, match="features must be"):
        FeatureRegression.from_dict({"features": ["chars"], "coef": [1.0], "intercept": 0.0})


@pytest.mark.parametrize("factory, kwargs, message", [
    ("chars_per_token", {"chars_per_token": 0}, "chars_per_token must be > 0"),
    ("bytes_per_token", {"bytes_per_token": -1}, "bytes_per_token must be > 0"),
    ("word_punct", {"chars_per_word_token": 0}, "chars_per_word_token must be >= 1"),
])
def test_bad_parameters(factory, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ESTIMATORS[factory](**kwargs)


def test_registry_names_and_unknown_names():
    assert set(ESTIMATORS) == {"chars_per_token", "bytes_per_token", "word_punct", "feature_regression"}
    assert get_estimator("chars_per_token") is not get_estimator("chars_per_token")
    with pytest.raises(KeyError, match="estimator must be one of"):
        get_estimator("nope")
    fitted = get_estimator("feature_regression", fit_on=(["a b", "c d e", "f"], [2, 3, 1]))
    assert fitted.is_fitted
