"""Token-count estimators: real, cheap models with real and different errors.

Each estimator has ``name``, ``needs_fit`` and ``predict(texts) -> np.ndarray`` (float token
counts); those with ``needs_fit`` also have ``fit(texts, counts)``, ``is_fitted`` and
``to_dict()`` / ``from_dict()`` so fitted coefficients can be stored with a registry version.

==================  ===========================================================================
name                model
==================  ===========================================================================
chars_per_token     ``len(text) / 4`` (the usual rule of thumb)
bytes_per_token     UTF-8 bytes / 4 (over-counts scripts that need several bytes per character)
word_punct          one token per short word, more for long words, one per punctuation mark,
                    one per non-Latin character
feature_regression  least squares (numpy) on text features: characters, bytes, words,
                    punctuation, digits, non-ASCII characters, whitespace, newlines, uppercase
==================  ===========================================================================

Examples
--------
>>> sorted(ESTIMATORS)
['bytes_per_token', 'chars_per_token', 'feature_regression', 'word_punct']
>>> get_estimator("chars_per_token").predict(["hello world!"]).tolist()
[3.0]
>>> get_estimator("word_punct").predict(["hello world!"]).tolist()
[3.0]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from evaluation.errors import NotFittedError

__all__ = [
    "ESTIMATORS",
    "FEATURE_NAMES",
    "BytesPerToken",
    "CharsPerToken",
    "FeatureRegression",
    "TokenEstimator",
    "WordPunctEstimator",
    "get_estimator",
    "text_features",
]


@runtime_checkable
class TokenEstimator(Protocol):
    """A model that predicts the token count of each text."""

    name: str
    needs_fit: bool

    def predict(self, texts: Sequence[str]) -> np.ndarray: ...


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of str, got a single str; wrap it in a list")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] must be str, got {type(t).__name__} {t!r}")
    return out


class CharsPerToken:
    """Predict ``len(text) / chars_per_token``.

    Parameters
    ----------
    chars_per_token
        Characters per token; 4 is the usual rule of thumb for English.

    Examples
    --------
    >>> CharsPerToken(chars_per_token=2).predict(["abcd", ""]).tolist()
    [2.0, 0.0]
    """

    name = "chars_per_token"
    needs_fit = False

    def __init__(self, chars_per_token: float = 4.0) -> None:
        if not chars_per_token > 0:
            raise ValueError(f"chars_per_token must be > 0, got {chars_per_token!r}")
        self.chars_per_token = float(chars_per_token)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        texts = _check_texts(texts)
        return np.fromiter((len(t) for t in texts), dtype=np.float64, count=len(texts)) / self.chars_per_token


class BytesPerToken:
    """Predict ``len(text.encode("utf-8")) / bytes_per_token``.

    Examples
    --------
    >>> BytesPerToken().predict(["abcd", "été"]).tolist()
    [1.0, 1.25]
    """

    name = "bytes_per_token"
    needs_fit = False

    def __init__(self, bytes_per_token: float = 4.0) -> None:
        if not bytes_per_token > 0:
            raise ValueError(f"bytes_per_token must be > 0, got {bytes_per_token!r}")
        self.bytes_per_token = float(bytes_per_token)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        texts = _check_texts(texts)
        n = np.fromiter((len(t.encode("utf-8", "surrogatepass")) for t in texts), dtype=np.float64, count=len(texts))
        return n / self.bytes_per_token


_WORD = re.compile(r"[A-Za-z]+|\d+|[^\W\d_A-Za-z]|[^\w\s]", re.UNICODE)


class WordPunctEstimator:
    """One token per Latin word up to `chars_per_word_token` characters (one more per extra such
    chunk), one per group of up to three digits, one per punctuation mark and one per other
    character (non-Latin letters, emoji).

    Examples
    --------
    >>> est = WordPunctEstimator()
    >>> est.predict(["Hello, world!", "internationalization 2024", "日本語"]).tolist()
    [4.0, 6.0, 3.0]
    """

    name = "word_punct"
    needs_fit = False

    def __init__(self, chars_per_word_token: int = 6) -> None:
        if chars_per_word_token < 1:
            raise ValueError(f"chars_per_word_token must be >= 1, got {chars_per_word_token!r}")
        self.chars_per_word_token = int(chars_per_word_token)

    def _count(self, text: str) -> int:
        n = 0
        for m in _WORD.finditer(text):
            s = m.group()
            if s[0].isascii() and s[0].isalpha():
                n += math.ceil(len(s) / self.chars_per_word_token)
            elif s[0].isdigit():
                n += math.ceil(len(s) / 3)
            else:
                n += 1
        return n

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        texts = _check_texts(texts)
        return np.fromiter((self._count(t) for t in texts), dtype=np.float64, count=len(texts))


FEATURE_NAMES = (
    "chars",
    "bytes",
    "words",
    "punct",
    "digits",
    "non_ascii",
    "whitespace",
    "newlines",
    "upper",
)
_PUNCT = re.compile(r"[^\w\s]")
_WORDS = re.compile(r"\w+")


def text_features(texts: Sequence[str]) -> np.ndarray:
    """Feature matrix (one row per text, columns :data:`FEATURE_NAMES`).

    Examples
    --------
    >>> text_features(["Hi 2 ü!\\n"]).astype(int).tolist()
    [[8, 9, 3, 1, 1, 1, 3, 1, 1]]
    """
    texts = _check_texts(texts)
    out = np.empty((len(texts), len(FEATURE_NAMES)), dtype=np.float64)
    for i, t in enumerate(texts):
        out[i] = (
            len(t),
            len(t.encode("utf-8", "surrogatepass")),
            len(_WORDS.findall(t)),
            len(_PUNCT.findall(t)),
            sum(c.isdigit() for c in t),
            sum(not c.isascii() for c in t),
            sum(c.isspace() for c in t),
            t.count("\n"),
            sum(c.isupper() for c in t),
        )
    return out


class FeatureRegression:
    """Linear regression of the token count on :func:`text_features`, fitted by least squares.

    Parameters
    ----------
    ridge
        L2 penalty on the coefficients (not the intercept); 0 is plain least squares.

    Examples
    --------
    >>> texts = ["a b c", "hello world", "x", "one two three four"]
    >>> reg = FeatureRegression().fit(texts, [3, 2, 1, 4])
    >>> np.round(reg.predict(["a b c"]), 1).tolist()
    [3.0]
    >>> FeatureRegression.from_dict(reg.to_dict()).predict(["x"]).round(1).tolist()
    [1.0]
    """

    name = "feature_regression"
    needs_fit = True

    def __init__(self, ridge: float = 1e-6) -> None:
        if not ridge >= 0:
            raise ValueError(f"ridge must be >= 0, got {ridge!r}")
        self.ridge = float(ridge)
        self.coef_: np.ndarray | None = None
        self.intercept_: float | None = None

    @property
    def is_fitted(self) -> bool:
        return self.coef_ is not None

    def fit(self, texts: Sequence[str], counts: Sequence[float]) -> FeatureRegression:
        x = text_features(texts)
        y = np.asarray(counts, dtype=np.float64)
        if y.shape != (x.shape[0],):
            raise ValueError(f"counts must have one value per text ({x.shape[0]}), got shape {y.shape}")
        if x.shape[0] < 2:
            raise ValueError(f"fit needs at least 2 texts, got {x.shape[0]}")
        # scale columns so the ridge penalty treats features alike
        scale = x.std(axis=0)
        scale[scale == 0] = 1.0
        xs = np.hstack([x / scale, np.ones((x.shape[0], 1))])
        if self.ridge > 0:
            penalty = np.sqrt(self.ridge) * np.eye(xs.shape[1])[:-1]
            xs_aug = np.vstack([xs, penalty])
            y_aug = np.concatenate([y, np.zeros(penalty.shape[0])])
        else:
            xs_aug, y_aug = xs, y
        beta, *_ = np.linalg.lstsq(xs_aug, y_aug, rcond=None)
        self.coef_ = beta[:-1] / scale
        self.intercept_ = float(beta[-1])
        return self

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        if not self.is_fitted:
            raise NotFittedError(self.name)
        return np.maximum(text_features(texts) @ self.coef_ + self.intercept_, 0.0)

    def to_dict(self) -> dict:
        if not self.is_fitted:
            raise NotFittedError(self.name)
        return {
            "name": self.name,
            "ridge": self.ridge,
            "features": list(FEATURE_NAMES),
            "coef": [float(c) for c in self.coef_],
            "intercept": self.intercept_,
        }

    @classmethod
    def from_dict(cls, data: dict) -> FeatureRegression:
        if list(data.get("features", [])) != list(FEATURE_NAMES):
            raise ValueError(f"features must be {list(FEATURE_NAMES)}, got {data.get('features')!r}")
        reg = cls(ridge=data.get("ridge", 0.0))
        reg.coef_ = np.asarray(data["coef"], dtype=np.float64)
        reg.intercept_ = float(data["intercept"])
        return reg


#: Estimator name -> factory returning a fresh, unfitted instance.
ESTIMATORS: dict[str, Callable[[], TokenEstimator]] = {
    CharsPerToken.name: CharsPerToken,
    BytesPerToken.name: BytesPerToken,
    WordPunctEstimator.name: WordPunctEstimator,
    FeatureRegression.name: FeatureRegression,
}


def get_estimator(name: str, *, fit_on=None) -> TokenEstimator:
    """A fresh estimator called `name`; if `fit_on` (a :class:`~evaluation.dataset.Dataset`, or
    ``(texts, counts)``) is given and the estimator needs fitting, it is fitted on it.

    Examples
    --------
    >>> get_estimator("bytes_per_token").name
    'bytes_per_token'
    >>> get_estimator("gpt")
    Traceback (most recent call last):
    KeyError: "estimator must be one of bytes_per_token, chars_per_token, feature_regression, word_punct; got 'gpt'"
    """
    if name not in ESTIMATORS:
        raise KeyError(f"estimator must be one of {', '.join(sorted(ESTIMATORS))}; got {name!r}")
    est = ESTIMATORS[name]()
    if fit_on is not None and est.needs_fit:
        texts, counts = (fit_on.texts, fit_on.counts) if hasattr(fit_on, "texts") else fit_on
        est.fit(texts, counts)
    return est
