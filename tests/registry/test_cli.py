"""``predwatch registry`` / ``predwatch experiments`` through typer's CliRunner against the real Redis."""

from __future__ import annotations

import json
import time

import pytest
import typer
from typer.testing import CliRunner

from agents.cli_registry import experiments_app, registry_app

pytestmark = pytest.mark.services

app = typer.Typer()
app.add_typer(registry_app, name="registry")
app.add_typer(experiments_app, name="experiments")


@pytest.fixture
def cli(redis_url, prefix):
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(app, [*args, "--redis", redis_url, "--prefix", prefix])
        assert result.exit_code == code, (result.exit_code, result.output, getattr(result, "stderr", ""))
        return result
    return invoke


def test_registry_commands(cli, registry):
    cli("registry", "register", "tok", "1.0.0", "--metadata", '{"family": "counter"}', "--model-path", "s3://m/1")
    cli("registry", "register", "tok", "1.1.0")
    out = json.loads(cli("registry", "register", "tok", "2.0.0-rc.1", "--json").output)
    assert out["version"] == "2.0.0-rc.1" and out["stage"] == "development"

    for v in ("1.0.0", "1.1.0"):
        assert "development -> staging" in cli("registry", "promote", "tok", v, "--stage", "staging").output
    out = cli("registry", "promote", "tok", "1.0.0", "--actor", "alice", "--reason", "go live").output
    assert "tok 1.0.0: staging -> production" in out
    t = json.loads(cli("registry", "promote", "tok", "1.1.0", "--json").output)
    assert (t["production"], t["previous_production"], t["to_stage"]) == ("1.1.0", "1.0.0", "production")

    table = cli("registry", "list").output
    assert "tok" in table and "1.1.0" in table
    rows = json.loads(cli("registry", "list", "--json").output)
    assert rows == [{"model": "tok", "versions": 3, "latest": "2.0.0-rc.1", "production": "1.1.0", "aliases": {}}]
    versions = json.loads(cli("registry", "list", "tok", "--json").output)
    assert [(v["version"], v["stage"]) for v in versions] == [
        ("1.0.0", "deprecated"), ("1.1.0", "production"), ("2.0.0-rc.1", "development")]
    assert "deprecated" in cli("registry", "list", "tok").output
    prod = json.loads(cli("registry", "list", "tok", "--stage", "production", "--json").output)
    assert [v["version"] for v in prod] == ["1.1.0"]

    shown = json.loads(cli("registry", "show", "tok", "1.0.0", "--json").output)
    assert shown["metadata"] == {"family": "counter"} and shown["model_path"] == "s3://m/1"
    assert "counter" in cli("registry", "show", "tok", "1.0.0").output
    summary = json.loads(cli("registry", "show", "tok", "--json").output)
    assert summary["production"] == "1.1.0" and summary["previous_production"] == ["1.0.0"]
    assert "rollback stack" in cli("registry", "show", "tok").output

    out = cli("registry", "alias", "tok", "champion", "1.1.0").output
    assert "alias champion -> 1.1.0" in out
    assert "tok champion -> 1.1.0" in cli("registry", "alias", "tok", "champion").output
    assert json.loads(cli("registry", "alias", "tok", "challenger", "--json").output)["version"] is None
    cli("registry", "alias", "tok", "challenger", code=1)
    assert json.loads(cli("registry", "show", "tok", "champion", "--json").output)["version"] == "1.1.0"
    assert "no alias 'challenger'" in cli("registry", "show", "tok", "challenger", code=1).output

    before = time.time()
    time.sleep(0.01)
    rb = json.loads(cli("registry", "rollback", "tok", "--alert-id", "a-1", "--reason", "p95", "--json").output)
    assert (rb["kind"], rb["version"], rb["alert_id"]) == ("rollback", "1.0.0", "a-1")
    assert "no previous production version" in cli("registry", "rollback", "tok", code=1).output

    hist = json.loads(cli("registry", "history", "tok", "--json").output)
    assert [h["kind"] for h in hist][-3:] == ["promote", "alias", "rollback"]
    table = cli("registry", "history", "tok").output
    assert "rollback" in table and "alice" in table
    assert len(json.loads(cli("registry", "history", "tok", "-n", "2", "--json").output)) == 2
    at = json.loads(cli("registry", "history", "tok", "--at", str(before), "--json").output)
    assert at["production"] == "1.1.0"
    assert "production at" in cli("registry", "history", "tok", "--at", "2000-01-01T00:00:00").output
    assert registry.get_production_version("tok") == "1.0.0"


def test_registry_cli_errors(cli, registry):
    assert "is not registered" in cli("registry", "show", "nope", code=1).output
    assert "model name must be" in cli("registry", "register", "bad name", "1.0.0", code=2).output
    assert "semantic version" in cli("registry", "register", "tok", "1.0", code=2).output
    assert "--metadata must be a JSON object" in cli("registry", "register", "tok", "1.0.0", "-m", "{x", code=2).output
    cli("registry", "register", "tok", "1.0.0")
    assert "already registered" in cli("registry", "register", "tok", "1.0.0", code=1).output
    assert "development -> production is not allowed" in cli("registry", "promote", "tok", "1.0.0", code=1).output
    assert "stage must be one of" in cli("registry", "promote", "tok", "1.0.0", "-s", "live", code=2).output
    registry.set_quality_gate("tok", {"r2": (">=", 0.9)})
    assert "r2=missing" in cli("registry", "promote", "tok", "1.0.0", "-s", "staging", code=1).output
    t = json.loads(cli("registry", "promote", "tok", "1.0.0", "-s", "staging", "--force", "--json").output)
    assert t["forced"] is True
    assert "--at must be" in cli("registry", "history", "tok", "--at", "yesterday", code=2).output


def test_redis_url_errors(prefix):
    runner = CliRunner()
    bad = runner.invoke(app, ["registry", "list", "--redis", "http://x:1", "--prefix", prefix])
    assert bad.exit_code == 2 and "Redis URL must start with redis://" in bad.output
    down = runner.invoke(app, ["registry", "list", "--redis", "redis://127.0.0.1:1/0", "--prefix", prefix])
    assert down.exit_code == 3 and "unavailable" in down.output


def test_experiments_commands(cli, tracker):
    a = tracker.start_experiment("sweep-a", {"lr": [0.1, 0.01]}, "first sweep", {"team": "ml"})
    tracker.start_experiment("sweep-b")
    for exp, lr, loss in [("sweep-a", 0.1, 0.5), ("sweep-a", 0.01, 0.2), ("sweep-b", 0.3, 0.4)]:
        with tracker.run(exp, params={"lr": lr}) as run:
            run.log_metrics({"loss": loss, "acc": 1 - loss})

    assert "sweep-a" in cli("experiments", "list").output
    listed = json.loads(cli("experiments", "list", "--name", "sweep-*", "--json").output)
    assert [e["name"] for e in listed] == ["sweep-a", "sweep-b"] and listed[0]["run_count"] == 2

    out = cli("experiments", "show", "sweep-a").output
    assert "first sweep" in out and "2 run(s)" in out
    shown = json.loads(cli("experiments", "show", a.experiment_id, "--json").output)
    assert len(shown["runs"]) == 2
    run_id = shown["runs"][0]["run_id"]
    assert json.loads(cli("experiments", "show", run_id, "--json").output)["params"] == {"lr": 0.1}
    assert "resources" in cli("experiments", "show", run_id).output

    cmp = json.loads(cli("experiments", "compare", "sweep-a", "sweep-b", "--json").output)
    assert cmp["best"]["loss"]["value"] == 0.2 and cmp["best"]["acc"]["value"] == 0.8
    assert "best loss (min): 0.2" in cli("experiments", "compare", "sweep-a", "sweep-b").output
    cmp = json.loads(cli("experiments", "compare", "sweep-a", "--metric", "loss", "--mode", "loss=max",
                         "--json").output)
    assert cmp["metrics"] == ["loss"] and cmp["best"]["loss"]["value"] == 0.5

    best = json.loads(cli("experiments", "best", "sweep-a", "loss", "--json").output)
    assert best["params"] == {"lr": 0.01}
    assert "best acc (max) in sweep-a: 0.8" in cli("experiments", "best", "sweep-a", "acc", "--mode", "max").output
    assert "no finished run" in cli("experiments", "best", "sweep-a", "nope", code=1).output
    assert "not found" in cli("experiments", "show", "missing", code=1).output
    assert "mode must be" in cli("experiments", "best", "sweep-a", "loss", "--mode", "low", code=2).output
    assert "--mode must look like" in cli("experiments", "compare", "sweep-a", "--mode", "loss", code=2).output
