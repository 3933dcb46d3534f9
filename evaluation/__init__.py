"""Tokenizer ground truth, token-count estimators, ModelEvaluator and compression quality.

What the monitor's demo and other packages import:

- :func:`load_tokenizer` (``"tiktoken:cl100k_base"``, ``"tiktoken:o200k_base"``, ``"hf:DIR"``);
- :data:`ESTIMATORS` and :func:`get_estimator` (``chars_per_token``, ``bytes_per_token``,
  ``word_punct``, ``feature_regression``), each with ``predict(texts) -> np.ndarray``;
- :data:`DEFAULT_DATASET` / :func:`load_default_dataset`: 400 mixed texts with cl100k_base counts;
- :class:`GroundTruthLoader`, :class:`ModelEvaluator`, :class:`QualityThresholds`;
- :class:`CompressionEvaluator`, :data:`COMPRESSORS`, :func:`get_compressor`;
- :mod:`evaluation.tracking` for the experiment tracker and the registry.

Examples
--------
>>> data = load_default_dataset()
>>> model = get_estimator("feature_regression", fit_on=data)
>>> text = "How many tokens is this?"
>>> float(model.predict([text])[0].round()), load_tokenizer("tiktoken:cl100k_base").count(text)
(5.0, 6)
"""

from evaluation.compression import (
    COMPRESSORS,
    CompressionEvaluator,
    CompressionReport,
    get_compressor,
)
from evaluation.dataset import (
    DEFAULT_DATASET,
    Dataset,
    GroundTruthLoader,
    load_default_dataset,
)
from evaluation.errors import (
    DatasetError,
    DatasetProblem,
    NotFittedError,
    TokenizerUnavailable,
)
from evaluation.estimators import ESTIMATORS, TokenEstimator, get_estimator
from evaluation.evaluator import EvaluationReport, ModelEvaluator, QualityThresholds
from evaluation.ground_truth import TokenCounter, load_tokenizer

__all__ = [
    "COMPRESSORS",
    "DEFAULT_DATASET",
    "ESTIMATORS",
    "CompressionEvaluator",
    "CompressionReport",
    "Dataset",
    "DatasetError",
    "DatasetProblem",
    "EvaluationReport",
    "GroundTruthLoader",
    "ModelEvaluator",
    "NotFittedError",
    "QualityThresholds",
    "TokenCounter",
    "TokenEstimator",
    "TokenizerUnavailable",
    "get_compressor",
    "get_estimator",
    "load_default_dataset",
    "load_tokenizer",
]
