"""Every dashboard builds, queries only exported metrics, parses with promtool; generated files are current."""

from __future__ import annotations

import filecmp
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from agents.metrics import build_metrics
from grafana.dashboards import load_dashboards, panel_queries, substitute, variables
from grafana.export import GENERATED_DIR, export
from grafana.panels import DATASOURCE_UID
from streams import metric_names as mn
from tests.grafana.feeder import feed_all

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not on PATH (apt-get install prometheus)")
PROM_NAMES = {v for k, v in vars(mn).items() if k.startswith("PROM_")}
HISTOGRAMS = {mn.PROM_LATENCY, mn.PROM_EVALUATION_DURATION}
METRIC_TOKEN = re.compile(r"\bmonitor_[a-z0-9_]+")


@pytest.fixture(scope="module")
def boards():
    return load_dashboards()


def all_queries(boards):
    return [(name, title, expr) for name, board in boards.items() for title, expr in panel_queries(board)]


def test_both_dashboards_build_with_panels_and_uids(boards):
    assert set(boards) == {"overview", "model"}
    for name, board in boards.items():
        data = board.to_json_data()
        assert board.uid == f"predwatch-{name}"
        ids = [p.id for p in board._iter_panels()]
        assert all(ids) and len(ids) == len(set(ids))
        assert len(panel_queries(board)) >= 10
        json.dumps(data, default=lambda o: o.to_json_data())  # serialisable


def test_panels_fit_the_grid_without_overlap(boards):
    for board in boards.values():
        cells = set()
        for panel in board._iter_panels():
            g = panel.gridPos
            assert 0 <= g.x and g.x + g.w <= 24, panel.title
            for x in range(g.x, g.x + g.w):
                for y in range(g.y, g.y + g.h):
                    assert (x, y) not in cells, f"{panel.title} overlaps at {(x, y)}"
                    cells.add((x, y))


def test_every_query_uses_only_exported_metric_names(boards):
    allowed = (PROM_NAMES - HISTOGRAMS) | {f"{h}_{s}" for h in HISTOGRAMS for s in ("bucket", "sum", "count")}
    registry = CollectorRegistry()
    feed_all(build_metrics(registry), "tok-counter", "1.0.0", 0, np.random.default_rng(1))
    exported = {s.name for f in text_string_to_metric_families(generate_latest(registry).decode())
                for s in f.samples}
    used = set()
    for name, title, expr in all_queries(boards):
        tokens = set(METRIC_TOKEN.findall(expr))
        assert tokens, f"{name}/{title}: no predwatch metric in {expr!r}"
        assert tokens <= allowed, f"{name}/{title}: unknown metric(s) {tokens - allowed}"
        used |= tokens
    assert used <= exported, f"queried but not exported by a fed worker: {used - exported}"
    for board in boards.values():
        for template in board.templating.list:
            assert set(METRIC_TOKEN.findall(template.query)) <= allowed


def test_overview_covers_throughput_latency_alerts_drift_and_lag(boards):
    used = {t for _, _, e in all_queries({"overview": boards["overview"]}) for t in METRIC_TOKEN.findall(e)}
    assert {mn.PROM_EVENTS, mn.PROM_THROUGHPUT, mn.PROM_LATENCY_QUANTILE, f"{mn.PROM_LATENCY}_bucket",
            mn.PROM_ALERTS_FIRING, mn.PROM_DRIFT_DETECTED, mn.PROM_CONSUMER_LAG} <= used
    assert variables(boards["overview"]) == []


def test_model_dashboard_is_filtered_by_model_and_version(boards):
    board = boards["model"]
    assert variables(board) == ["model", "version"]
    exprs = [e for _, e in panel_queries(board)]
    for expr in exprs:
        assert 'model="$model"' in expr and 'version="$version"' in expr, expr
    joined = "\n".join(exprs)
    for stat in mn.DRIFT_STATS:
        assert f'test="{stat}"' in joined
    for metric in mn.ACCURACY_METRICS:
        assert f'metric="{metric}"' in joined
    for q in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({q}," in joined
    version_var = board.templating.list[1]
    assert 'model="$model"' in version_var.query


def test_panels_use_the_provisioned_datasource(boards):
    provisioned = yaml.safe_load((GENERATED_DIR / "provisioning/datasources/predwatch.yml").read_text())
    assert provisioned["datasources"][0]["uid"] == DATASOURCE_UID
    for board in boards.values():
        for panel in board._iter_panels():
            for target in getattr(panel, "targets", []):
                assert target.datasource["uid"] == DATASOURCE_UID


@needs_promtool
def test_every_query_parses_with_promtool(boards, tmp_path):
    values = {"model": "tok-counter", "version": "1.0.0"}
    rules = [{"record": f"predwatch:check:{i}", "expr": substitute(expr, values)}
             for i, (_, _, expr) in enumerate(all_queries(boards))]
    path = tmp_path / "exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    out = subprocess.run([PROMTOOL, "check", "rules", str(path)], check=False, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(rules)} rules found" in out.stdout


@needs_promtool
def test_promtool_rejects_a_broken_query(tmp_path):
    """The check above can fail: a bad expression is reported."""
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"record": "x:y", "expr": f"sum by (model ({mn.PROM_EVENTS})"}]}]}))
    out = subprocess.run([PROMTOOL, "check", "rules", str(path)], check=False, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0


def test_generated_files_are_current(tmp_path):
    export(tmp_path)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(GENERATED_DIR) for p in GENERATED_DIR.rglob("*") if p.is_file())
    assert fresh == committed, "run `python -m grafana.export` and commit grafana/generated/"
    for rel in fresh:
        assert filecmp.cmp(tmp_path / rel, GENERATED_DIR / rel, shallow=False), (
            f"grafana/generated/{rel} is stale: run `python -m grafana.export` and commit it")


def test_cli_command_writes_the_files(tmp_path):
    import typer

    from agents.cli_dashboards import dashboards_export

    app = typer.Typer()
    app.command()(dashboards_export)
    result = CliRunner().invoke(app, [str(tmp_path / "out"), "--prometheus-url", "http://prom:9999"])
    assert result.exit_code == 0, result.output
    assert "predwatch-overview.json" in result.output
    ds = yaml.safe_load((tmp_path / "out/provisioning/datasources/predwatch.yml").read_text())
    assert ds["datasources"][0]["url"] == "http://prom:9999"
    board = json.loads((tmp_path / "out/dashboards/predwatch-model.json").read_text())
    assert [v["name"] for v in board["templating"]["list"]] == ["model", "version"]


def test_substitute_refuses_unknown_variables():
    assert substitute("a{m=\"$model\"}", {"model": "x"}) == 'a{m="x"}'
    with pytest.raises(KeyError):
        substitute("a{m=\"$unknown\"}", {"model": "x"})


def test_provider_points_at_the_mounted_dashboards():
    provider = yaml.safe_load((GENERATED_DIR / "provisioning/dashboards/predwatch.yml").read_text())
    assert provider["providers"][0]["type"] == "file"
    assert Path(provider["providers"][0]["options"]["path"]).is_absolute()
