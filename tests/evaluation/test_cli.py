"""`predwatch evaluate` through typer's CliRunner on a small app built here."""

from __future__ import annotations

import json
import uuid

import pytest
import typer
from typer.testing import CliRunner

import agents.cli_evaluate as cli
from agents.cli_evaluate import evaluate_command

try:
    from registry import ExperimentTracker, ModelRegistry

    HAS_REGISTRY = True
except ImportError:  # pragma: no cover
    HAS_REGISTRY = False


@pytest.fixture
def app():
    app = typer.Typer()
    app.command("evaluate")(evaluate_command)

    @app.command("version")
    def version():  # a second command keeps "evaluate" a sub-command, as in the real CLI
        print("0")

    return app


@pytest.fixture
def runner():
    return CliRunner()


def test_readable_report(app, runner):
    result = runner.invoke(app, ["evaluate", "--model", "feature_regression", "--baseline", "word_punct",
                                 "--resamples", "100", "--max-mape", "0.2"], env={"COLUMNS": "140"})
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # rich wraps long lines
    for text in ["feature_regression", "Accuracy", "baseline word_punct", "By kind", "non_english",
                 "5-fold CV", "Largest errors", "better than the baseline", "PASS"]:
        assert text in out, text


def test_json_output_and_failing_thresholds(app, runner, tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in ["hello world", "Grüße 🙂", "def f(): pass"]))
    result = runner.invoke(app, ["evaluate", "-m", "chars_per_token", "-d", str(path), "-t", "tiktoken:cl100k_base",
                                 "--json", "--resamples", "50", "--max-mae", "0.01"])
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert body["tokenizer"] == "tiktoken:cl100k_base" and body["n"] == 3
    assert body["passed"] is False and body["failures"][0].startswith("mae")
    assert body["run_id"] is None


@pytest.mark.parametrize("args, message", [
    (["-m", "gpt"], "--model must be one of"),
    (["-m", "word_punct", "--baseline", "x"], "--baseline must be one of"),
    (["-m", "word_punct", "--attach", "nover"], "MODEL@VERSION"),
    (["-m", "word_punct", "--set-reference"], "--set-reference needs --attach"),
    (["-m", "word_punct", "--max-mae", "nan"], "max_mae must be a finite number"),
])
def test_bad_arguments_exit_2(app, runner, args, message):
    result = runner.invoke(app, ["evaluate", *args])
    assert result.exit_code == 2
    assert message in result.stderr.replace("\n", " ")


def test_dataset_and_tokenizer_errors_exit_2(app, runner, tmp_path, monkeypatch):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a"}\n{"text": ""}\n')
    result = runner.invoke(app, ["evaluate", "-m", "word_punct", "-d", str(path)])
    assert result.exit_code == 2 and "line 2" in result.stderr
    path.write_text('{"text": "a"}\n')
    result = runner.invoke(app, ["evaluate", "-m", "word_punct", "-d", str(path), "-t", "hf:some-org/some-model"])
    assert result.exit_code == 2 and "needs the network" in result.stderr.replace("\n", " ")


def test_counts_from_a_local_hf_tokenizer(app, runner, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from tests.evaluation.test_ground_truth import CORPUS

    raw = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(CORPUS, trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    folder = tmp_path / "tok"
    PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]").save_pretrained(folder)
    path = tmp_path / "d.csv"
    path.write_text("text\nthe monitor counts tokens\ndrift alert\nunknown words here too\n")
    result = runner.invoke(app, ["evaluate", "-m", "word_punct", "-d", str(path), "-t", f"hf:{folder}",
                                 "--json", "--resamples", "20"])
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["tokenizer"] == f"hf:{folder}" and body["n"] == 3
    # word-level ground truth: one token per word (the unknown words map to [UNK], still one each)
    from evaluation.estimators import get_estimator

    texts, truth = ["the monitor counts tokens", "drift alert", "unknown words here too"], [4, 2, 4]
    pred = get_estimator("word_punct").predict(texts)
    assert body["metrics"]["mae"] == pytest.approx(sum(abs(p - t) for p, t in zip(pred, truth)) / 3)


def test_logging_needs_a_redis_url(app, runner, monkeypatch):
    monkeypatch.delenv("PREDWATCH_REDIS", raising=False)
    result = runner.invoke(app, ["evaluate", "-m", "word_punct", "--log-experiment", "e"])
    assert result.exit_code == 2 and "PREDWATCH_REDIS" in result.stderr
    result = runner.invoke(app, ["evaluate", "-m", "word_punct", "--log-experiment", "e"],
                           env={"PREDWATCH_REDIS": "embedded"})
    assert result.exit_code == 2 and "--redis" in result.stderr


def test_progress_bar_on_long_datasets(app, runner, monkeypatch):
    seen = []
    real = cli._progress_callback

    def spy(progress):
        seen.append(progress)
        return real(progress)

    monkeypatch.setattr(cli, "PROGRESS_MIN_RECORDS", 100)
    monkeypatch.setattr(cli, "_progress_callback", spy)
    result = runner.invoke(app, ["evaluate", "-m", "word_punct", "--resamples", "20"])
    assert result.exit_code == 0 and len(seen) == 1
    seen.clear()
    runner.invoke(app, ["evaluate", "-m", "word_punct", "--resamples", "20", "--json"])
    assert seen == []


@pytest.mark.skipif(not HAS_REGISTRY, reason="registry.ExperimentTracker is not importable yet")
@pytest.mark.services
def test_log_experiment_and_attach_on_real_redis(app, runner, redis_url, tmp_path):
    experiment = f"cli-{uuid.uuid4().hex[:8]}"
    model = f"cli-model-{uuid.uuid4().hex[:8]}"
    ModelRegistry(redis_url).register_model(model, "0.1.0", {})
    result = runner.invoke(app, ["evaluate", "-m", "word_punct", "--resamples", "50", "--json",
                                 "--log-experiment", experiment, "--artifact-dir", str(tmp_path),
                                 "--attach", f"{model}@0.1.0", "--set-reference"],
                           env={"PREDWATCH_REDIS": redis_url})
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    run = ExperimentTracker(redis_url).get_run(body["run_id"])
    assert run.status == "finished" and run.metrics["mae"] == pytest.approx(body["metrics"]["mae"])
    registry = ModelRegistry(redis_url)
    assert registry.get_evaluation(model, "0.1.0")["mae"] == pytest.approx(body["metrics"]["mae"])
    assert "prediction" in registry.get_reference(model, "0.1.0")["fields"]
    # --redis wins over the environment
    result = runner.invoke(app, ["evaluate", "-m", "word_punct", "--resamples", "20", "--log-experiment", experiment,
                                 "--redis", redis_url, "--artifact-dir", str(tmp_path)],
                           env={"PREDWATCH_REDIS": "redis://127.0.0.1:1/0"})
    assert result.exit_code == 0, result.stderr
    assert "logged to experiment" in result.stdout
