"""Ground-truth datasets: JSONL or CSV records of ``text`` with or without ``token_count``.

A record is valid when ``text`` is a non-blank string and ``token_count``, if present, is a
non-negative integer (JSON ``3``, CSV ``3``; not ``3.5``, ``"3"`` in JSON, ``true`` or ``-1``).
Texts must be unique. A record may carry a ``kind`` (a category used to break errors down);
other fields are ignored. Missing counts are filled from the tokenizer given to the loader.
Every invalid record is reported, with its 1-based line number (the header is line 1 of a CSV).

:data:`DEFAULT_DATASET` is the dataset the project ships (see ``evaluation/data/make_dataset.py``).

Examples
--------
>>> ds = GroundTruthLoader().load(DEFAULT_DATASET)
>>> len(ds), ds.tokenizer
(400, None)
>>> ds.counts.dtype.kind, bool((ds.counts > 0).all())
('i', True)
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evaluation.errors import DatasetError, DatasetProblem
from evaluation.ground_truth import TokenCounter, load_tokenizer

__all__ = ["DEFAULT_DATASET", "Dataset", "GroundTruthLoader", "load_default_dataset"]

DEFAULT_DATASET = Path(__file__).with_name("data") / "token_counts.jsonl"


@dataclass
class Dataset:
    """Texts with their ground-truth token counts.

    ``lines`` holds each record's line in `source`; ``kinds`` its category (``None`` when the file
    has none); ``tokenizer`` names the tokenizer that filled missing counts, if any did.
    """

    texts: list[str]
    counts: np.ndarray
    source: str = "<memory>"
    lines: list[int] = field(default_factory=list)
    kinds: list[str] | None = None
    tokenizer: str | None = None

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts, dtype=np.int64)
        if self.counts.shape != (len(self.texts),):
            raise ValueError(f"counts must have one value per text ({len(self.texts)}), got shape {self.counts.shape}")
        if not self.lines:
            self.lines = list(range(1, len(self.texts) + 1))
        if self.kinds is not None and len(self.kinds) != len(self.texts):
            raise ValueError(f"kinds must have one value per text ({len(self.texts)}), got {len(self.kinds)}")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: Sequence[int] | np.ndarray) -> Dataset:
        """The records at `index`, in that order."""
        idx = np.asarray(index, dtype=np.int64)
        return Dataset(
            texts=[self.texts[i] for i in idx],
            counts=self.counts[idx],
            source=self.source,
            lines=[self.lines[i] for i in idx],
            kinds=None if self.kinds is None else [self.kinds[i] for i in idx],
            tokenizer=self.tokenizer,
        )

    @classmethod
    def from_texts(cls, texts: Sequence[str], counts: Sequence[int], **kw) -> Dataset:
        return cls(texts=list(texts), counts=np.asarray(counts, dtype=np.int64), **kw)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class GroundTruthLoader:
    """Read and validate a JSONL or CSV dataset, filling missing token counts from a tokenizer.

    Parameters
    ----------
    tokenizer
        A tokenizer name (``tiktoken:cl100k_base``, ``hf:DIR``) or a built :class:`TokenCounter`;
        needed only when some records have no ``token_count``. It is built on first need.
    tokenizer_factory
        Builds a tokenizer from its name (tests pass a stand-in).
    duplicates
        ``"error"`` (default) or ``"drop"`` (keep the first of identical texts).
    recount
        Count every text with the tokenizer, ignoring counts in the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "d.jsonl"
    >>> _ = path.write_text('{"text": "hello world"}\\n{"text": "hi", "token_count": 1}\\n')
    >>> ds = GroundTruthLoader(tokenizer="tiktoken:cl100k_base").load(path)
    >>> ds.counts.tolist(), ds.tokenizer
    ([2, 1], 'tiktoken:cl100k_base')
    >>> _ = path.write_text('{"text": "a", "token_count": -1}\\n')
    >>> GroundTruthLoader().load(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    evaluation.errors.DatasetError: ...d.jsonl: 1 invalid record(s): line 1: token_count=-1: must be an integer >= 0
    """

    def __init__(
        self,
        tokenizer: str | TokenCounter | None = None,
        *,
        tokenizer_factory: Callable[[str], TokenCounter] = load_tokenizer,
        duplicates: str = "error",
        recount: bool = False,
    ) -> None:
        if duplicates not in ("error", "drop"):
            raise ValueError(f"duplicates must be 'error' or 'drop', got {duplicates!r}")
        if recount and tokenizer is None:
            raise ValueError("recount=True needs a tokenizer, got tokenizer=None")
        self._tokenizer = tokenizer
        self._factory = tokenizer_factory
        self.duplicates = duplicates
        self.recount = recount

    @property
    def tokenizer(self) -> TokenCounter | None:
        if isinstance(self._tokenizer, str):
            self._tokenizer = self._factory(self._tokenizer)
        return self._tokenizer

    # -- reading ---------------------------------------------------------------------------

    def load(self, path: str | Path) -> Dataset:
        """Read `path` (``.jsonl``/``.ndjson`` or ``.csv``/``.tsv``) into a validated :class:`Dataset`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"dataset {str(path)!r} does not exist or is not a file")
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".ndjson"):
            rows, problems = self._read_jsonl(path)
        elif suffix in (".csv", ".tsv"):
            rows, problems = self._read_csv(path, delimiter="\t" if suffix == ".tsv" else ",")
        else:
            raise ValueError(f"dataset must be .jsonl, .ndjson, .csv or .tsv, got {path.name!r}")
        return self._build(str(path), rows, problems)

    def _read_jsonl(self, path: Path) -> tuple[list[tuple[int, dict]], list[DatasetProblem]]:
        rows: list[tuple[int, dict]] = []
        problems: list[DatasetProblem] = []
        with path.open("rb") as f:
            for lineno, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    problems.append(DatasetProblem(lineno, "<line>", raw[max(0, exc.start - 10): exc.end + 10],
                                                   f"is not valid UTF-8 ({exc.reason} at byte {exc.start})"))
                    continue
                if lineno == 1:
                    line = line.removeprefix("\ufeff")
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    problems.append(DatasetProblem(lineno, "<line>", line.strip(), f"is not JSON ({exc.msg})"))
                    continue
                if not isinstance(obj, dict):
                    problems.append(DatasetProblem(lineno, "<line>", obj, "must be a JSON object with a 'text' field"))
                    continue
                rows.append((lineno, obj))
        return rows, problems

    def _read_csv(self, path: Path, delimiter: str) -> tuple[list[tuple[int, dict]], list[DatasetProblem]]:
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            lineno = data.count(b"\n", 0, exc.start) + 1
            problem = DatasetProblem(lineno, "<line>", data[max(0, exc.start - 10): exc.end + 10],
                                     f"is not valid UTF-8 ({exc.reason} at byte {exc.start})")
            raise DatasetError(str(path), [problem]) from None
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        if reader.fieldnames is None or "text" not in reader.fieldnames:
            raise DatasetError(str(path), [DatasetProblem(1, "<header>", reader.fieldnames,
                                                          "must name a 'text' column (and optionally 'token_count')")])
        rows: list[tuple[int, dict]] = []
        problems: list[DatasetProblem] = []
        for row in reader:
            lineno = reader.line_num  # last physical line of the record
            if None in row:
                problems.append(DatasetProblem(lineno, "<line>", row[None], "has more fields than the header"))
                continue
            count = row.get("token_count")
            if count is not None:
                count = count.strip()
                if count == "":
                    row.pop("token_count")
                elif count.isdigit():
                    row["token_count"] = int(count)
                else:
                    problems.append(DatasetProblem(lineno, "token_count", count, "must be an integer >= 0"))
                    continue
            rows.append((lineno, row))
        return rows, problems

    # -- validation ------------------------------------------------------------------------

    def _build(self, source: str, rows: list[tuple[int, dict]], problems: list[DatasetProblem]) -> Dataset:
        texts: list[str] = []
        counts: list[int | None] = []
        lines: list[int] = []
        kinds: list[str] = []
        first_seen: dict[str, int] = {}
        for lineno, obj in rows:
            text = obj.get("text")
            if not isinstance(text, str):
                problems.append(DatasetProblem(lineno, "text", text, "must be a string"))
                continue
            if not text.strip():
                problems.append(DatasetProblem(lineno, "text", text, "must not be empty or only whitespace"))
                continue
            if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
                problems.append(DatasetProblem(lineno, "text", text, "contains a lone surrogate (invalid Unicode)"))
                continue
            count = obj.get("token_count")
            if count is not None and not _is_count(count):
                problems.append(DatasetProblem(lineno, "token_count", count, "must be an integer >= 0"))
                continue
            if text in first_seen:
                if self.duplicates == "drop":
                    continue
                problems.append(DatasetProblem(lineno, "text", text, f"duplicates the text on line {first_seen[text]}"))
                continue
            first_seen[text] = lineno
            texts.append(text)
            counts.append(count)
            lines.append(lineno)
            kind = obj.get("kind")
            kinds.append(kind if isinstance(kind, str) else "")
        if problems:
            raise DatasetError(source, sorted(problems, key=lambda p: p.line))
        if not texts:
            raise DatasetError(source, [DatasetProblem(0, "<file>", "", "has no records")])

        missing = [i for i, c in enumerate(counts) if c is None]
        tokenizer_name = None
        if missing or self.recount:
            tokenizer = self.tokenizer
            if tokenizer is None:
                raise DatasetError(source, [
                    DatasetProblem(lines[i], "token_count", None,
                                   "is missing; pass a tokenizer (e.g. tiktoken:cl100k_base) to fill it")
                    for i in missing
                ])
            todo = list(range(len(texts))) if self.recount else missing
            filled = tokenizer.count_batch([texts[i] for i in todo])
            for i, c in zip(todo, filled):
                counts[i] = int(c)
            tokenizer_name = tokenizer.name
        has_kinds = any(kinds)
        return Dataset(texts=texts, counts=np.asarray(counts, dtype=np.int64), source=source, lines=lines,
                       kinds=kinds if has_kinds else None, tokenizer=tokenizer_name)


def load_default_dataset() -> Dataset:
    """The dataset shipped with the project (400 records, counts from ``tiktoken:cl100k_base``)."""
    return GroundTruthLoader().load(DEFAULT_DATASET)
