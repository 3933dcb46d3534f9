"""Generate ``token_counts.jsonl``: a small, mixed ground-truth set for tests and the demo.

Texts are built from fixed fragments with a seeded ``random.Random`` so every run writes the
same file: English prose, source code, JSON, non-English text (French, German, Spanish, Russian,
Greek, Arabic, Hindi, Chinese, Japanese, Korean), emoji, markdown and log lines.  Each record is
``{"text": ..., "token_count": ..., "kind": ...}`` with ``token_count`` from the tokenizer named
(``tiktoken:cl100k_base`` by default, counted as ordinary text).

Run ``python -m evaluation.data.make_dataset`` to rewrite the file next to this module.

Examples
--------
>>> records = make_records(n_per_kind=2, seed=1)
>>> sorted({r["kind"] for r in records})[:3]
['code', 'emoji', 'json']
>>> len(records) == len({r["text"] for r in records})
True
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

OUTPUT = Path(__file__).with_name("token_counts.jsonl")

_SUBJECTS = ["The model", "Our team", "A small service", "The tokenizer", "Every worker", "The monitor",
             "This release", "The new version", "A careful reviewer", "The evaluation set"]
_VERBS = ["counts", "reports", "compresses", "predicts", "measures", "flags", "stores", "streams",
          "summarises", "rejects"]
_OBJECTS = ["tokens in every request", "latency at the 95th percentile", "drift between two windows",
            "the number of characters per token", "alerts for each firing rule", "long documents quickly",
            "errors on non-English text", "the reference sample", "emoji and punctuation", "JSON payloads"]
_TAILS = ["before it is promoted.", "without any network access.", "once per evaluation tick.",
          "and nobody noticed for a week.", "with surprisingly few mistakes.", "in under two milliseconds.",
          "because the rules said so.", "while the dashboard refreshed.", "after the rollback.",
          "exactly as documented."]

_CODE = [
    "def add(a, b):\n    return a + b\n",
    "for i in range({n}):\n    print(i * {m})\n",
    "const total = items.reduce((s, x) => s + x.price, {n});",
    "SELECT model, AVG(latency_ms) FROM predictions WHERE version = '{n}.{m}.0' GROUP BY model;",
    "if (err != nil) {{\n\treturn fmt.Errorf(\"read %d bytes: %w\", {n}, err)\n}}",
    "class Window:\n    def __init__(self, size={n}):\n        self.values = [0.0] * size\n",
    "#include <stdio.h>\nint main(void) {{ printf(\"%d\\n\", {n}); return 0; }}",
    "fn main() {{ let v: Vec<u32> = (0..{n}).collect(); println!(\"{{}}\", v.len()); }}",
    "x = np.linspace(0, {n}, {m})\ny = np.sin(x) ** 2",
    "kubectl scale deployment/predwatch-worker --replicas={m}",
]

_LANGS = {
    "fr": ["Le modèle compte les jetons de chaque requête.", "La dérive a été détectée après {n} événements.",
           "Nous avons déployé la version {n}.{m} hier soir.", "Les résultats sont enregistrés dans Redis."],
    "de": ["Das Modell zählt die Token jeder Anfrage.", "Die Verzögerung lag bei {n} Millisekunden.",
           "Überwachung läuft ununterbrochen seit {m} Tagen.", "Größere Fenster glätten die Schätzung."],
    "es": ["El modelo cuenta los tokens de cada petición.", "La latencia subió a {n} milisegundos.",
           "¿Cuántos tokens tiene este texto en español?", "Añadimos {m} reglas de alerta nuevas."],
    "ru": ["Модель считает токены в каждом запросе.", "Задержка выросла до {n} миллисекунд.",
           "Мы выпустили версию {n}.{m} вчера.", "Дрейф обнаружен в окне из {m} событий."],
    "el": ["Το μοντέλο μετρά τα διακριτικά κάθε αιτήματος.", "Η καθυστέρηση έφτασε τα {n} χιλιοστά."],
    "ar": ["يقوم النموذج بعدّ الرموز في كل طلب.", "ارتفع زمن الاستجابة إلى {n} ميلي ثانية."],
    "hi": ["मॉडल हर अनुरोध में टोकन गिनता है।", "विलंब {n} मिलीसेकंड तक बढ़ गया।"],
    "zh": ["模型统计每个请求中的词元数量。", "延迟上升到了{n}毫秒。", "我们昨天发布了{n}.{m}版本。"],
    "ja": ["モデルは各リクエストのトークンを数えます。", "遅延が{n}ミリ秒まで増加しました。", "東京の天気は晴れです。"],
    "ko": ["모델은 각 요청의 토큰을 셉니다.", "지연 시간이 {n}밀리초로 증가했습니다."],
}

_EMOJI = ["🙂", "🚀", "🔥", "✅", "❌", "👍🏽", "🎉", "🤖", "📈", "🇫🇷", "👩‍💻", "⚠️", "🧪", "💡", "🐍"]

_MARKDOWN = [
    "# Release {n}.{m}\n\n- faster counting\n- fewer alerts\n",
    "| model | mae |\n|---|---|\n| v{n} | 0.{m} |",
    "**Note:** set `PREDWATCH_REDIS` before running `predwatch evaluate`.",
    "> Quote {n}: measure twice, deploy once.",
]

_LOGS = [
    "2026-11-{d:02d}T12:{m:02d}:00Z INFO worker-{n} processed {k} events in 0.{m}s",
    "2026-11-{d:02d}T08:{m:02d}:13Z WARN drift.prediction.psi={n}.{m} above threshold",
    "ERROR {k} events sent to predwatch.deadletter: reason=bad_version v={n}",
    "GET /api/v1/models/tok-{n}/versions?limit={m} 200 {k}ms",
]


def _fill(template: str, rng: random.Random) -> str:
    return template.format(n=rng.randint(1, 999), m=rng.randint(1, 59), k=rng.randint(10, 99999),
                           d=rng.randint(1, 28))


def _prose(rng: random.Random) -> str:
    k = rng.randint(1, 4)
    return " ".join(
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_TAILS)}" for _ in range(k)
    )


def _code(rng: random.Random) -> str:
    return "\n".join(_fill(rng.choice(_CODE), rng) for _ in range(rng.randint(1, 3)))


def _json(rng: random.Random) -> str:
    obj = {
        "v": 1,
        "model": rng.choice(["tok-count", "compressor", "ranker", "summariser"]),
        "version": f"{rng.randint(0, 3)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",
        "latency_ms": round(rng.uniform(0.5, 900), 2),
        "prediction": rng.randint(1, 4000),
        "features": {"lang": rng.choice(list(_LANGS) + ["en"]), "chars": rng.randint(1, 20000),
                     "cached": rng.random() < 0.5},
    }
    indent = rng.choice([None, None, 2])
    return json.dumps(obj, indent=indent, ensure_ascii=rng.random() < 0.5)


def _foreign(rng: random.Random) -> str:
    lang = rng.choice(sorted(_LANGS))
    return " ".join(_fill(rng.choice(_LANGS[lang]), rng) for _ in range(rng.randint(1, 3)))


def _emoji(rng: random.Random) -> str:
    words = _prose(rng).split()[: rng.randint(3, 12)]
    for _ in range(rng.randint(1, 4)):
        words.insert(rng.randint(0, len(words)), "".join(rng.choice(_EMOJI) for _ in range(rng.randint(1, 3))))
    return " ".join(words)


def _markdown(rng: random.Random) -> str:
    return _fill(rng.choice(_MARKDOWN), rng)


def _log(rng: random.Random) -> str:
    return "\n".join(_fill(rng.choice(_LOGS), rng) for _ in range(rng.randint(1, 3)))


def _mixed(rng: random.Random) -> str:
    parts = [_prose(rng), _foreign(rng), rng.choice(_EMOJI), _fill("id={k} v{n}.{m}", rng)]
    rng.shuffle(parts)
    return " ".join(parts)


KINDS = {"prose": _prose, "code": _code, "json": _json, "non_english": _foreign, "emoji": _emoji,
         "markdown": _markdown, "log": _log, "mixed": _mixed}


def make_records(n_per_kind: int = 50, seed: int = 20261127) -> list[dict]:
    """Unique records ``{"text", "kind"}``, `n_per_kind` of each kind, in a seeded order."""
    rng = random.Random(seed)
    seen: set[str] = set()
    records: list[dict] = []
    for kind, make in KINDS.items():
        made, attempts = 0, 0
        while made < n_per_kind and attempts < n_per_kind * 50:
            attempts += 1
            text = make(rng)
            if text.strip() and text not in seen:
                seen.add(text)
                records.append({"text": text, "kind": kind})
                made += 1
    rng.shuffle(records)
    return records


def main(argv: list[str] | None = None) -> None:
    from evaluation.ground_truth import load_tokenizer

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--n-per-kind", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--tokenizer", default="tiktoken:cl100k_base")
    args = parser.parse_args(argv)

    records = make_records(args.n_per_kind, args.seed)
    counts = load_tokenizer(args.tokenizer).count_batch([r["text"] for r in records])
    with args.output.open("w", encoding="utf-8", newline="\n") as f:
        for record, count in zip(records, counts):
            f.write(json.dumps({"text": record["text"], "token_count": int(count), "kind": record["kind"]},
                               ensure_ascii=False) + "\n")
    print(f"wrote {len(records)} records to {args.output}")


if __name__ == "__main__":
    main()
