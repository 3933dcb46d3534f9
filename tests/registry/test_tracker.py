"""Experiment tracker against a real Redis."""

from __future__ import annotations

import hashlib

import pytest

from registry import ExperimentNotFound, RunNotActive, RunNotFound

pytestmark = pytest.mark.services


def test_experiment_get_or_create_and_lookup(tracker):
    exp = tracker.start_experiment("tok-eval", {"lr": [0.1, 0.01]}, "token counter sweep", {"team": "ml"})
    assert len(exp.experiment_id) == 12
    again = tracker.start_experiment("tok-eval")
    assert again.experiment_id == exp.experiment_id and again.hyperparameters == {"lr": [0.1, 0.01]}
    with pytest.raises(ValueError, match="experiment name 'tok-eval' is taken"):
        tracker.start_experiment("tok-eval", exist_ok=False)
    assert tracker.get_experiment(exp.experiment_id).name == "tok-eval"
    assert tracker.get_experiment("tok-eval").tags == {"team": "ml"}
    tracker.start_experiment("zip-eval", tags={"team": "infra"})
    assert [e.name for e in tracker.list_experiments()] == ["tok-eval", "zip-eval"]
    assert [e.name for e in tracker.search_experiments("tok-*")] == ["tok-eval"]
    assert [e.name for e in tracker.search_experiments(tags={"team": "infra"})] == ["zip-eval"]
    with pytest.raises(ExperimentNotFound) as err:
        tracker.get_experiment("nope")
    assert err.value.experiment == "nope" and isinstance(err.value, KeyError)


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "bad name"}, "experiment name must be"),
    ({"name": "ok", "hyperparameters": [1]}, "hyperparameters must be a dict"),
    ({"name": "ok", "tags": {"k": [1]}}, "tags\\['k'\\] must be a string"),
    ({"name": "ok", "hyperparameters": {"x": float("nan")}}, "finite numbers"),
])
def test_bad_experiment_input(tracker, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tracker.start_experiment(**kwargs)
    assert tracker.list_experiments() == []


def test_run_lifecycle_params_metrics_artifacts(tracker, tmp_path):
    tracker.start_experiment("tok-eval")
    run = tracker.start_run("tok-eval", params={"lr": 0.1, "layers": [2, 3]}, tags={"git": "abc123"})
    tracker.log_params(run.run_id, {"batch": 32})
    tracker.log_metrics(run.run_id, {"loss": 1.0, "acc": 0.5})
    tracker.log_metrics(run.run_id, {"loss": 0.5})
    tracker.log_metrics(run.run_id, {"loss": 0.25}, step=10)
    tracker.log_metric(run.run_id, "acc", 0.75)
    f = tmp_path / "model.bin"
    f.write_bytes(b"x" * 1000)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("hello")
    art = tracker.log_artifact(run.run_id, str(f))
    assert (art["name"], art["size"], art["sha256"]) == ("model.bin", 1000, hashlib.sha256(b"x" * 1000).hexdigest())
    assert art["uri"] == f.as_uri()
    arts = tracker.log_artifacts(run.run_id, [str(tmp_path / "d"), "s3://bucket/model.onnx"])
    assert arts[0]["kind"] == "directory" and arts[0]["size"] == 5 and len(arts[0]["sha256"]) == 64
    assert arts[1] == {**arts[1], "kind": "uri", "uri": "s3://bucket/model.onnx", "size": None, "sha256": None}
    tracker.log_artifact(run.run_id, "https://h/x.json", name="report", size=12, sha256="0" * 64)

    ended = tracker.end_run(run.run_id)
    assert ended.status == "finished" and ended.error is None
    assert ended.params == {"lr": 0.1, "layers": [2, 3], "batch": 32}
    assert ended.metrics == {"loss": 0.25, "acc": 0.75}
    assert ended.tags == {"git": "abc123"}
    assert [a["name"] for a in ended.artifacts] == ["model.bin", "d", "model.onnx", "report"]
    assert [(s, v) for s, _, v in tracker.metric_history(run.run_id, "loss")] == [(0, 1.0), (1, 0.5), (10, 0.25)]
    assert [(s, v) for s, _, v in tracker.metric_history(run.run_id, "acc")] == [(0, 0.5), (1, 0.75)]
    res = ended.resources
    assert res["wall_s"] >= 0 and res["cpu_s"] >= 0 and res["peak_rss_bytes"] > 1_000_000 and res["rss_bytes"] > 0
    assert ended.end_time >= ended.start_time

    # an ended run refuses more data, atomically
    with pytest.raises(RunNotActive) as err:
        tracker.log_metrics(run.run_id, {"loss": 0.1})
    assert (err.value.run_id, err.value.status) == (run.run_id, "finished")
    for call in (lambda: tracker.log_params(run.run_id, {"x": 1}),
                 lambda: tracker.log_artifact(run.run_id, "s3://b/k"),
                 lambda: tracker.end_run(run.run_id, "failed")):
        with pytest.raises(RunNotActive):
            call()
    assert tracker.get_run(run.run_id).metrics == {"loss": 0.25, "acc": 0.75}


def test_bad_run_input(tracker, tmp_path):
    tracker.start_experiment("e")
    run = tracker.start_run("e")
    with pytest.raises(ValueError, match="must be finite"):
        tracker.log_metrics(run.run_id, {"loss": float("nan")})
    with pytest.raises(ValueError, match="step must be a non-negative int"):
        tracker.log_metrics(run.run_id, {"loss": 1.0}, step=-1)
    with pytest.raises(ValueError, match="metric name must be"):
        tracker.log_metrics(run.run_id, {"val loss": 1.0})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tracker.log_artifact(run.run_id, str(tmp_path / "missing.bin"))
    with pytest.raises(ValueError, match="sha256 must be 64"):
        tracker.log_artifact(run.run_id, "s3://b/k", sha256="abc")
    with pytest.raises(ValueError, match="status must be one of finished, failed, killed"):
        tracker.end_run(run.run_id, "done")
    with pytest.raises(ValueError, match="run_id must look like"):
        tracker.log_metrics("not-a-run", {"loss": 1.0})
    with pytest.raises(RunNotFound):
        tracker.log_metrics("0123456789ab-0123456789ab", {"loss": 1.0})
    with pytest.raises(RunNotFound):
        tracker.get_run("0123456789ab-0123456789ab")
    with pytest.raises(ExperimentNotFound):
        tracker.start_run("nope")
    with pytest.raises(ValueError, match="finite numbers"):  # checked before anything is written
        tracker.start_run("e", params={"lr": float("nan")})
    assert len(tracker.list_runs("e")) == 1
    assert tracker.get_run(run.run_id).metrics == {}


def test_context_manager_records_failure_with_traceback(tracker):
    tracker.start_experiment("e")
    with tracker.run("e", params={"lr": 0.1}) as run:
        run.log_metrics({"loss": 0.3})
    assert tracker.get_run(run.run_id).status == "finished"

    with pytest.raises(ZeroDivisionError):
        with tracker.run("e") as bad:
            bad.log_metric("loss", 0.9)
            1 / 0  # noqa: B018
    failed = tracker.get_run(bad.run_id)
    assert failed.status == "failed"
    assert "Traceback" in failed.error and "ZeroDivisionError: division by zero" in failed.error
    assert failed.metrics == {"loss": 0.9} and failed.resources["wall_s"] >= 0

    with pytest.raises(KeyboardInterrupt):
        with tracker.run("e") as killed:
            raise KeyboardInterrupt
    assert tracker.get_run(killed.run_id).status == "killed"

    with tracker.run("e") as ended_early:
        ended_early.end("killed", "stopped by user")
    assert tracker.get_run(ended_early.run_id).error == "stopped by user"
    with tracker.run("e") as ended_directly:
        tracker.end_run(ended_directly.run_id, "killed")
    assert tracker.get_run(ended_directly.run_id).status == "killed"


def test_best_run_compare_and_search(tracker):
    a = tracker.start_experiment("a")
    tracker.start_experiment("b")
    for exp, lr, loss, acc in [("a", 0.1, 0.5, 0.7), ("a", 0.01, 0.3, 0.8), ("b", 0.2, 0.4, 0.9)]:
        with tracker.run(exp, params={"lr": lr}) as r:
            r.log_metrics({"loss": loss, "acc": acc})
    with pytest.raises(RuntimeError):
        with tracker.run("a", params={"lr": 9.0}) as r:
            r.log_metrics({"loss": 0.01, "acc": 0.99})  # best numbers, but the run failed
            raise RuntimeError("diverged")

    assert tracker.get_best_run("a", "loss", "min").params == {"lr": 0.01}
    assert tracker.get_best_run("a", "acc", "max").params == {"lr": 0.01}
    assert tracker.get_best_run("a", "loss", "min", statuses=("finished", "failed")).params == {"lr": 9.0}
    assert tracker.get_best_run("a", "nope") is None
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        tracker.get_best_run("a", "loss", "lowest")

    cmp = tracker.compare_experiments([a.experiment_id, "b"])
    assert [e.name for e in cmp.experiments] == ["a", "b"]
    assert cmp.params == ["lr"] and cmp.metrics == ["acc", "loss"]
    assert len(cmp.rows) == 4
    assert cmp.best["loss"]["value"] == 0.3 and cmp.best["loss"]["mode"] == "min"
    assert cmp.best["acc"] == {**cmp.best["acc"], "value": 0.9, "experiment": "b", "mode": "max"}
    cmp = tracker.compare_experiments(["a", "b"], modes={"acc": "min"})
    assert cmp.best["acc"]["value"] == 0.7
    assert set(cmp.to_dict()) == {"experiments", "params", "metrics", "rows", "best"}
    with pytest.raises(ExperimentNotFound):
        tracker.compare_experiments(["a", "zzz"])

    assert [r.params["lr"] for r in tracker.search_runs("a", status="finished")] == [0.1, 0.01]
    assert [r.params["lr"] for r in tracker.search_runs(metrics={"loss": ("<", 0.45)})] == [0.01, 9.0, 0.2]
    assert [r.params["lr"] for r in tracker.search_runs(params={"lr": 0.2})] == [0.2]
    with pytest.raises(ValueError, match="condition"):
        tracker.search_runs(metrics={"loss": ("lt", 0.4)})


def test_grid_search_one_run_per_point(tracker):
    tracker.start_experiment("grid")

    def objective(params, run):
        if params["depth"] == 0:
            raise ValueError("depth must be positive")
        run.log_metric("train_loss", 1.0)
        return {"loss": params["lr"] * params["depth"]}

    result = tracker.grid_search("grid", {"lr": [0.1, 0.5], "depth": [0, 1, 2]}, objective, metric="loss")
    assert len(result.runs) == 6 and len(tracker.list_runs("grid")) == 6
    assert [r.params for r in result.runs][:3] == [{"lr": 0.1, "depth": 0}, {"lr": 0.1, "depth": 1},
                                                   {"lr": 0.1, "depth": 2}]
    assert [r.status for r in result.failed] == ["failed", "failed"]
    assert "depth must be positive" in result.failed[0].error
    assert result.best.params == {"lr": 0.1, "depth": 1} and result.best.metrics["loss"] == 0.1
    assert all(r.tags.get("grid_search") == "1" for r in result.runs)
    with pytest.raises(ValueError, match="depth must be positive"):
        tracker.grid_search("grid", {"lr": [0.1], "depth": [0]}, objective, stop_on_error=True)
    with pytest.raises(ValueError, match="space\\['lr'\\] must list at least one value"):
        tracker.grid_search("grid", {"lr": []}, objective)
