"""GroundTruthLoader: JSONL/CSV, filling counts from a tokenizer, validation naming the line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluation.dataset import (
    DEFAULT_DATASET,
    Dataset,
    GroundTruthLoader,
    load_default_dataset,
)
from evaluation.errors import DatasetError
from evaluation.ground_truth import load_tokenizer


class WordCounter:
    """Stand-in tokenizer: one token per whitespace-separated word."""

    name = "test:words"

    def __init__(self):
        self.calls = 0

    def count(self, text):
        return len(text.split())

    def count_batch(self, texts):
        self.calls += 1
        return np.array([self.count(t) for t in texts], dtype=np.int64)


def write_jsonl(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def test_jsonl_with_and_without_counts_fills_only_the_missing(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "one two three"}, {"text": "x", "token_count": 9, "kind": "k"}])
    words = WordCounter()
    made = []
    loader = GroundTruthLoader("test:words", tokenizer_factory=lambda name: made.append(name) or words)
    ds = loader.load(path)
    assert ds.texts == ["one two three", "x"]
    assert ds.counts.tolist() == [3, 9]
    assert ds.tokenizer == "test:words" and made == ["test:words"] and words.calls == 1
    assert ds.lines == [1, 2] and ds.kinds == ["", "k"]


def test_complete_files_never_build_the_tokenizer(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "a", "token_count": 1}, "", {"text": "b", "token_count": 0}])
    loader = GroundTruthLoader("tiktoken:cl100k_base", tokenizer_factory=lambda name: pytest.fail("built"))
    ds = loader.load(path)
    assert ds.counts.tolist() == [1, 0] and ds.lines == [1, 3] and ds.tokenizer is None and ds.kinds is None


def test_recount_uses_the_tokenizer_for_every_text(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "a b", "token_count": 7}])
    ds = GroundTruthLoader(WordCounter(), recount=True).load(path)
    assert ds.counts.tolist() == [2]


def test_csv_with_quotes_newlines_and_missing_counts(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,token_count\n"hello, world",3\n"two\nlines",\nplain,0\n', encoding="utf-8")
    ds = GroundTruthLoader(WordCounter()).load(path)
    assert ds.texts == ["hello, world", "two\nlines", "plain"]
    assert ds.counts.tolist() == [3, 2, 0]
    assert ds.lines == [2, 4, 5]


def test_tsv_without_count_column(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("text\nalpha beta\n", encoding="utf-8")
    assert GroundTruthLoader(WordCounter()).load(path).counts.tolist() == [2]


@pytest.mark.parametrize(
    "record, field, message",
    [
        ({"text": ""}, "text", "must not be empty"),
        ({"text": "   \n"}, "text", "must not be empty"),
        ({"text": 5}, "text", "must be a string"),
        ({"count": 1}, "text", "must be a string"),
        ({"text": "a", "token_count": -1}, "token_count", "integer >= 0"),
        ({"text": "a", "token_count": 2.5}, "token_count", "integer >= 0"),
        ({"text": "a", "token_count": 2.0}, "token_count", "integer >= 0"),
        ({"text": "a", "token_count": "3"}, "token_count", "integer >= 0"),
        ({"text": "a", "token_count": True}, "token_count", "integer >= 0"),
        ('{"text": "\\ud800"}', "text", "lone surrogate"),
        ("{not json", "<line>", "is not JSON"),
        ("[1, 2]", "<line>", "JSON object"),
    ],
)
def test_invalid_jsonl_records_name_line_field_and_rule(tmp_path, record, field, message):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "fine", "token_count": 1}, record])
    with pytest.raises(DatasetError) as info:
        GroundTruthLoader(WordCounter()).load(path)
    [problem] = info.value.problems
    assert (problem.line, problem.field) == (2, field)
    assert message in problem.message
    assert "line 2" in str(info.value) and str(path) in str(info.value)


def test_all_problems_are_reported_at_once(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "a"}, {"text": ""}, {"text": "b", "token_count": -2}, {"text": "a"}])
    with pytest.raises(DatasetError) as info:
        GroundTruthLoader(WordCounter()).load(path)
    assert [(p.line, p.field) for p in info.value.problems] == [(2, "text"), (3, "token_count"), (4, "text")]
    assert "duplicates the text on line 1" in info.value.problems[2].message
    assert isinstance(info.value, ValueError)


def test_duplicates_can_be_dropped(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "a", "token_count": 1}, {"text": "a", "token_count": 1}])
    ds = GroundTruthLoader(duplicates="drop").load(path)
    assert ds.texts == ["a"] and ds.lines == [1]


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"text": "ok", "token_count": 1}\n{"text": "caf\xe9", "token_count": 1}\n')
    with pytest.raises(DatasetError) as info:
        GroundTruthLoader().load(path)
    [problem] = info.value.problems
    assert problem.line == 2 and "not valid UTF-8" in problem.message
    csv_path = tmp_path / "d.csv"
    csv_path.write_bytes(b"text,token_count\nok,1\ncaf\xe9,1\n")
    with pytest.raises(DatasetError, match="line 3.*not valid UTF-8"):
        GroundTruthLoader().load(csv_path)


def test_csv_errors(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("body,token_count\nx,1\n")
    with pytest.raises(DatasetError, match="'text' column"):
        GroundTruthLoader().load(path)
    path.write_text("text,token_count\nx,1.5\ny,-1\nz,1,extra\n")
    with pytest.raises(DatasetError) as info:
        GroundTruthLoader().load(path)
    assert [(p.line, p.field, p.value) for p in info.value.problems] == [
        (2, "token_count", "1.5"), (3, "token_count", "-1"), (4, "<line>", ["extra"])]


def test_missing_counts_without_a_tokenizer_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "a", "token_count": 1}, {"text": "b"}])
    with pytest.raises(DatasetError, match="line 2: token_count=None: is missing; pass a tokenizer"):
        GroundTruthLoader().load(path)


def test_files_and_arguments_that_cannot_be_read(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        GroundTruthLoader().load(tmp_path / "missing.jsonl")
    (tmp_path / "d.txt").write_text("x")
    with pytest.raises(ValueError, match=r"\.jsonl, \.ndjson, \.csv or \.tsv"):
        GroundTruthLoader().load(tmp_path / "d.txt")
    (tmp_path / "e.jsonl").write_text("\n\n")
    with pytest.raises(DatasetError, match="has no records"):
        GroundTruthLoader().load(tmp_path / "e.jsonl")
    with pytest.raises(ValueError, match="duplicates must be"):
        GroundTruthLoader(duplicates="keep")
    with pytest.raises(ValueError, match="recount=True needs a tokenizer"):
        GroundTruthLoader(recount=True)


def test_shipped_dataset_matches_cl100k_base_exactly():
    ds = load_default_dataset()
    assert ds.source == str(DEFAULT_DATASET) and len(ds) == 400
    assert set(ds.kinds) == {"prose", "code", "json", "non_english", "emoji", "markdown", "log", "mixed"}
    recount = load_tokenizer("tiktoken:cl100k_base").count_batch(ds.texts)
    assert np.array_equal(recount, ds.counts)
    assert any(not t.isascii() for t in ds.texts)


def test_shipped_dataset_is_reproducible_from_its_generator():
    from evaluation.data.make_dataset import make_records

    records = make_records()
    ds = load_default_dataset()
    assert [r["text"] for r in records] == ds.texts
    assert [r["kind"] for r in records] == ds.kinds


def test_dataset_subset_and_shape_checks():
    ds = Dataset.from_texts(["a", "b", "c"], [1, 2, 3], kinds=["x", "y", "z"])
    sub = ds.subset([2, 0])
    assert sub.texts == ["c", "a"] and sub.counts.tolist() == [3, 1] and sub.kinds == ["z", "x"] and sub.lines == [3, 1]
    with pytest.raises(ValueError, match="one value per text"):
        Dataset.from_texts(["a"], [1, 2])
