"""Ground-truth counting throughput: batched, multi-threaded tiktoken against a per-text loop.

Counts the tokens of the shipped dataset's texts (repeated with a numbered suffix so every text is
distinct) with ``tiktoken:cl100k_base``:

- ``loop``: ``len(enc.encode_ordinary(t))`` for each text, one after the other;
- ``batch xN``: tiktoken's ``enc.encode_ordinary_batch(texts, num_threads=N)``, for several N;
- ``chunks xN``: :func:`evaluation.ground_truth.count_in_chunks`, N threads each counting
  contiguous chunks with the plain loop (one task per chunk, not per text);
- ``count_batch``: what the evaluation package uses (threads only for long texts).

Two workloads: the shipped dataset's short texts (~140 characters) and long texts (20 of them
joined, ~2,600 characters).

Each variant runs ``--repeats`` times on the same texts in this one process, round-robin with the
others; its best run counts.
The last line printed is the headline: the best ``encode_ordinary_batch`` variant's texts/s
against the per-text loop's, and their ratio, for both workloads.

Run: ``python bench/evaluate.py [--texts 40000] [--long-texts 2000] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tiktoken

from evaluation.dataset import load_default_dataset
from evaluation.ground_truth import TiktokenCounter, count_in_chunks, load_tokenizer


def make_texts(n: int, join: int = 1) -> list[str]:
    """`n` distinct texts, each `join` shipped texts long (plus a numbered suffix)."""
    base = load_default_dataset().texts
    return [" ".join(base[(i * join + j) % len(base)] for j in range(join)) + f" #{i}" for i in range(n)]


def run(enc, texts: list[str], repeats: int, label: str) -> dict[str, float]:
    """Time every variant on `texts`, round-robin (so a load spike on this shared machine hits all
    variants alike), keep each one's best time, print the figures and return them (seconds)."""
    chars = sum(map(len, texts))
    cores = os.cpu_count() or 1
    print(f"-- {label}: {len(texts):,} texts, {chars / len(texts):,.0f} characters each on average")
    counter = TiktokenCounter(enc, "bench", num_threads=cores)
    variants = {"loop": lambda: sum(len(enc.encode_ordinary(t)) for t in texts)}
    for n in sorted({1, 2, cores, 8}):
        variants[f"batch x{n}"] = lambda n=n: sum(len(ids) for ids in enc.encode_ordinary_batch(texts, num_threads=n))
    for n in sorted({2, cores}):
        variants[f"chunks x{n}"] = lambda n=n: int(count_in_chunks(enc, texts, n).sum())
    variants["count_batch"] = lambda: int(counter.count_batch(texts).sum())

    seconds = dict.fromkeys(variants, float("inf"))
    tokens = variants["loop"]()
    for _ in range(repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            n = fn()
            seconds[name] = min(seconds[name], time.perf_counter() - start)
            if n != tokens:
                raise AssertionError(f"{name} counted {n} tokens, the loop {tokens}")
    for name, s in seconds.items():
        print(f"{name:>12}: {len(texts) / s:>12,.0f} texts/s {tokens / s:>14,.0f} tokens/s  "
              f"({s * 1e3:7.1f} ms, {seconds['loop'] / s:.2f}x loop)")
    seconds["_texts"] = len(texts)
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="tiktoken ground-truth counting throughput")
    parser.add_argument("--texts", type=int, default=40_000, help="short texts (the shipped dataset's)")
    parser.add_argument("--long-texts", type=int, default=2_000, help="long texts (20 shipped texts joined)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokenizer", default="tiktoken:cl100k_base")
    args = parser.parse_args(argv)

    tok = load_tokenizer(args.tokenizer)
    print(f"{args.tokenizer} ({tok.source}); {os.cpu_count()} cores; tiktoken {tiktoken.__version__}; "
          f"best of {args.repeats} per variant, all in this process")
    short = run(tok.encoding, make_texts(args.texts), args.repeats, "short texts")
    long = run(tok.encoding, make_texts(args.long_texts, join=20), args.repeats, "long texts")

    def best_batch(r: dict[str, float]) -> tuple[str, float]:
        return min(((k, v) for k, v in r.items() if k.startswith("batch")), key=lambda kv: kv[1])

    (sn, ss), (ln, ls) = best_batch(short), best_batch(long)
    print(f"headline: batched multi-threaded tiktoken vs per-text loop: {short['_texts'] / ss:,.0f} vs "
          f"{short['_texts'] / short['loop']:,.0f} texts/s = {short['loop'] / ss:.2f}x on short texts ({sn}); "
          f"{long['_texts'] / ls:,.0f} vs {long['_texts'] / long['loop']:,.0f} texts/s = "
          f"{long['loop'] / ls:.2f}x on long texts ({ln})")


if __name__ == "__main__":
    main()
