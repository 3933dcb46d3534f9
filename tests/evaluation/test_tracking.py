"""Evaluation results in the experiment tracker and the registry (stand-ins, then real Redis)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest

from evaluation import tracking
from evaluation.dataset import load_default_dataset
from evaluation.evaluator import ModelEvaluator, QualityThresholds

try:  # the tracker is being written alongside; its tests skip only while it cannot be imported
    from registry import ExperimentTracker, ModelRegistry

    HAS_REGISTRY = True
except ImportError:  # pragma: no cover
    HAS_REGISTRY = False


@pytest.fixture(scope="module")
def data():
    return load_default_dataset()


@pytest.fixture(scope="module")
def report(data):
    ev = ModelEvaluator(QualityThresholds(max_mape=0.2), baseline="chars_per_token", n_resamples=100, seed=1)
    return ev.evaluate_token_counting_accuracy("feature_regression", data)


class RecordingTracker:
    """Stand-in with the tracker's methods; remembers every call."""

    def __init__(self, fail_on: str | None = None):
        self.calls: list[tuple] = []
        self.experiments: set[str] = set()
        self.fail_on = fail_on

    def start_experiment(self, name, hyperparameters=None, description="", tags=None):
        self.calls.append(("start_experiment", name))
        self.experiments.add(name)
        return type("Experiment", (), {"experiment_id": name, "name": name})()

    def start_run(self, experiment, params=None, tags=None):
        if experiment not in self.experiments:
            raise KeyError(experiment)
        self.calls.append(("start_run", experiment, params))
        return type("Run", (), {"run_id": "run-1"})()

    def log_metrics(self, run_id, metrics, step=None):
        if self.fail_on == "log_metrics":
            raise ConnectionError("redis went away")
        self.calls.append(("log_metrics", run_id, metrics, step))

    def log_artifact(self, run_id, path, name=None):
        self.calls.append(("log_artifact", run_id, path, name))

    def end_run(self, run_id, status="finished", error=None):
        self.calls.append(("end_run", run_id, status, error))


def test_log_evaluation_with_a_stand_in(report, tmp_path):
    tracker = RecordingTracker()
    run_id = tracking.log_evaluation(tracker, report, experiment="tok-eval", artifact_dir=tmp_path)
    assert run_id == "run-1"
    names = [c[0] for c in tracker.calls]
    assert names[:2] == ["start_experiment", "start_run"] and names[-2:] == ["log_artifact", "end_run"]
    params = tracker.calls[1][2]
    assert params["model"] == "feature_regression" and params["baseline"] == "chars_per_token"
    assert params["threshold.max_mape"] == 0.2 and params["k_folds"] == 5
    metrics = tracker.calls[2][2]
    assert metrics["mae"] == pytest.approx(report.metrics["mae"]) and metrics["passed"] == 1.0
    steps = [c[3] for c in tracker.calls if c[0] == "log_metrics"]
    assert steps == [None, 0, 1, 2, 3, 4]
    path = Path(tracker.calls[-2][2])
    assert path.parent == tmp_path / "run-1" and json.loads(path.read_text())["model"] == "feature_regression"
    assert tracker.calls[-1] == ("end_run", "run-1", "finished", None)


def test_a_failure_ends_the_run_as_failed(report, tmp_path):
    tracker = RecordingTracker(fail_on="log_metrics")
    with pytest.raises(ConnectionError):
        tracking.log_evaluation(tracker, report, experiment="x", artifact_dir=tmp_path)
    assert tracker.calls[-1] == ("end_run", "run-1", "failed", "ConnectionError: redis went away")


def test_reference_from_the_evaluation_sample(data, report):
    ref = tracking.evaluation_reference(data, report.predictions)
    assert set(ref["fields"]) == {"prediction", "chars", "words", "kind"}
    from detectors.reference import Reference

    restored = Reference.from_dict(ref)
    assert restored.kind("prediction") == "numeric" and restored.kind("kind") == "categorical"
    with pytest.raises(ValueError, match="one value per text"):
        tracking.evaluation_reference(data, report.predictions[:-1])
    with pytest.raises(ValueError, match="features must be among"):
        tracking.evaluation_reference(data, report.predictions, features=["vowels"])


# ----------------------------------------------------------------------------- real Redis

needs_registry = pytest.mark.skipif(not HAS_REGISTRY, reason="registry.ExperimentTracker is not importable yet")


@needs_registry
@pytest.mark.services
def test_log_attach_gate_and_reference_on_real_redis(redis_url, data, report, tmp_path):
    tracker = ExperimentTracker(redis_url)
    registry = ModelRegistry(redis_url)
    experiment = f"eval-{uuid.uuid4().hex[:8]}"
    model = f"tok-count-{uuid.uuid4().hex[:8]}"

    run_id = tracking.log_evaluation(tracker, report, experiment=experiment, artifact_dir=tmp_path)
    run = tracker.get_run(run_id)
    assert run.status == "finished"
    assert run.params["model"] == "feature_regression"
    assert run.metrics["mae"] == pytest.approx(report.metrics["mae"])
    [artifact] = run.artifacts
    assert artifact["name"] == "evaluation_report.json"
    assert artifact.get("sha256") and artifact.get("size")

    registry.register_model(model, "1.0.0", {"estimator": "feature_regression"})
    registry.register_model(model, "1.1.0", {"estimator": "chars_per_token"})
    registry.set_quality_gate(model, QualityThresholds(max_mape=0.2, min_r2=0.9).to_registry_gate())
    stored = tracking.attach_evaluation(registry, model, "1.0.0", report, run_id=run_id)
    assert registry.get_evaluation(model, "1.0.0") == pytest.approx(stored)
    assert registry.check_quality_gate(model, "1.0.0") == []

    worse = ModelEvaluator(n_resamples=50).evaluate_token_counting_accuracy("chars_per_token", data)
    tracking.attach_evaluation(registry, model, "1.1.0", worse)
    failed = {f["metric"] for f in registry.check_quality_gate(model, "1.1.0")}
    assert failed == {"mape", "r2"}

    ref = tracking.set_evaluation_reference(registry, model, "1.0.0", data, report.predictions)
    assert registry.get_reference(model, "1.0.0") == json.loads(json.dumps(ref))
    from detectors.reference import Reference

    restored = Reference.from_dict(registry.get_reference(model, "1.0.0"))
    assert np.allclose(restored["prediction"].values, np.sort(report.predictions))
