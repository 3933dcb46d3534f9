"""Ground-truth counting throughput: batched, multi-threaded tiktoken against a per-text loop.

Counts the tokens of the shipped dataset's texts (repeated with a numbered suffix so every text is
distinct) with ``tiktoken:cl100k_base``:

- ``loop``: ``len(enc.encode_ordinary(t))`` for each text, one after the other;
- ``batch xN``: tiktoken's ``enc.encode_ordinary_batch(texts, num_threads=N)``, for several N;
- ``chunks xN``: :meth:`evaluation.ground_truth.TiktokenCounter.count_batch`, i.e. N threads
  each counting a contiguous chunk with the plain loop (one task per chunk, not per text).

Each variant runs ``--repeats`` times on the same texts in this one process; the best run counts.
The last line printed is the headline: the best ``encode_ordinary_batch`` variant's texts/s and
its ratio to the per-text loop.

Run: ``python bench/evaluate.py [--texts 40000] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.dataset import load_default_dataset
from evaluation.ground_truth import TiktokenCounter, load_tokenizer


def make_texts(n: int) -> list[str]:
    base = load_default_dataset().texts
    return [f"{base[i % len(base)]} #{i}" for i in range(n)]


def best_of(fn, repeats: int) -> tuple[float, int]:
    best, result = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="tiktoken ground-truth counting throughput")
    parser.add_argument("--texts", type=int, default=40_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokenizer", default="tiktoken:cl100k_base")
    args = parser.parse_args(argv)

    tok = load_tokenizer(args.tokenizer)
    enc = tok.encoding
    texts = make_texts(args.texts)
    chars = sum(map(len, texts))
    cores = os.cpu_count() or 1
    print(f"{args.tokenizer} ({tok.source}); {len(texts):,} texts, {chars:,} characters; {cores} cores; "
          f"best of {args.repeats}")

    def loop() -> int:
        return sum(len(enc.encode_ordinary(t)) for t in texts)

    loop_s, tokens = best_of(loop, args.repeats)
    print(f"{'loop':>10}: {len(texts) / loop_s:>12,.0f} texts/s {tokens / loop_s:>14,.0f} tokens/s  ({loop_s * 1e3:.1f} ms)")

    results = {}
    for threads in sorted({1, 2, cores, 8}):
        def batch(threads=threads) -> int:
            return sum(len(ids) for ids in enc.encode_ordinary_batch(texts, num_threads=threads))

        s, n = best_of(batch, args.repeats)
        if n != tokens:
            raise AssertionError(f"batch x{threads} counted {n} tokens, the loop {tokens}")
        results[threads] = s
        print(f"{'batch x' + str(threads):>10}: {len(texts) / s:>12,.0f} texts/s {tokens / s:>14,.0f} tokens/s  "
              f"({s * 1e3:.1f} ms, {loop_s / s:.2f}x loop)")

    for threads in sorted({2, cores}):
        counter = TiktokenCounter(enc, tok.name, num_threads=threads)

        def chunked(counter=counter) -> int:
            return int(counter.count_batch(texts).sum())

        s, n = best_of(chunked, args.repeats)
        if n != tokens:
            raise AssertionError(f"count_batch x{threads} counted {n} tokens, the loop {tokens}")
        print(f"{'chunks x' + str(threads):>10}: {len(texts) / s:>12,.0f} texts/s {tokens / s:>14,.0f} tokens/s  "
              f"({s * 1e3:.1f} ms, {loop_s / s:.2f}x loop)")

    threads, s = min(results.items(), key=lambda kv: kv[1])
    print(f"headline: encode_ordinary_batch ({threads} threads) counts {len(texts) / s:,.0f} texts/s "
          f"({tokens / s:,.0f} tokens/s), {loop_s / s:.2f}x the per-text loop ({len(texts) / loop_s:,.0f} texts/s)")


if __name__ == "__main__":
    main()
