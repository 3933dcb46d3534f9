"""Every dashboard query and the generated rules against a real Prometheus scraping a metrics target.

Debian's ``prometheus`` runs on a free loopback port with a temporary config and storage, scrapes
``metrics_target`` every second and evaluates the generated alerting rules every second.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
import yaml

from grafana.dashboards import load_dashboards, panel_queries, substitute
from grafana.export import GENERATED_DIR
from streams import metric_names as mn

pytestmark = pytest.mark.prometheus
PROMETHEUS = shutil.which("prometheus")
READY_TIMEOUT_S = 40.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check, timeout_s: float = READY_TIMEOUT_S, every_s: float = 0.2):
    """Poll ``check()`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except OSError as exc:  # not listening yet
            last_error = exc
        time.sleep(every_s)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what} (last error: {last_error!r})")


class PrometheusAPI:
    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str, **params) -> dict:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}" if params else f"{self.base}{path}"
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        data = self.get("/api/v1/query", query=expr)
        assert data["resultType"] in ("vector", "scalar"), data
        return data["result"] if data["resultType"] == "vector" else [{"metric": {}, "value": data["result"]}]


@pytest.fixture(scope="module")
def prometheus(metrics_target, tmp_path_factory):
    if PROMETHEUS is None:
        pytest.skip("Debian's prometheus is not on PATH (apt-get install prometheus)")
    host_port, _, _ = metrics_target
    work = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(GENERATED_DIR / "prometheus" / "predwatch-rules.yml")],
        "scrape_configs": [{"job_name": "predwatch", "scrape_interval": "1s",
                            "static_configs": [{"targets": [host_port]}]}],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = open(work / "prometheus.log", "w")  # noqa: SIM115 - closed after the process ends
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        api = PrometheusAPI(f"http://127.0.0.1:{port}")

        def ready():
            if proc.poll() is not None:
                pytest.fail(f"prometheus exited with {proc.returncode}: {(work / 'prometheus.log').read_text()[-2000:]}")
            with urllib.request.urlopen(f"{api.base}/-/ready", timeout=2) as resp:
                return resp.status == 200

        wait_for("prometheus /-/ready", ready)
        yield api
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def scraped(prometheus, metrics_target):
    """Waits until the target is up and Prometheus holds several scrapes of the fed model."""
    _, model, version = metrics_target

    def target_up():
        targets = prometheus.get("/api/v1/targets")["activeTargets"]
        return targets and all(t["health"] == "up" for t in targets)

    wait_for("the target to be up", target_up)
    sel = f'{mn.PROM_EVENTS}{{model="{model}",version="{version}"}}'
    # rate() over the histogram and counters needs at least two samples that differ
    wait_for("4 scrapes with data", lambda: prometheus.query(f"count_over_time({sel}[1m]) >= 4"))
    return prometheus


def dashboard_queries():
    return [(name, title, expr) for name, board in load_dashboards().items()
            for title, expr in panel_queries(board)]


@pytest.mark.parametrize("board, title, expr", dashboard_queries(),
                         ids=[f"{n}:{t}:{i}" for i, (n, t, _) in enumerate(dashboard_queries())])
def test_every_panel_query_returns_data_for_the_fed_model(scraped, metrics_target, board, title, expr):
    _, model, version = metrics_target
    result = scraped.query(substitute(expr, {"model": model, "version": version}))
    assert result, f"{board}/{title}: no data for {expr!r}"
    values = [float(r["value"][1]) for r in result]
    assert all(math.isfinite(v) for v in values), f"{board}/{title}: {result}"
    models = {r["metric"].get("model") for r in result} - {None}
    if models:
        assert model in models, f"{board}/{title}: fed model {model!r} missing from {models}"


def test_model_dashboard_queries_are_really_filtered(scraped):
    """Substituting another model empties the per-model selectors: the filter is applied."""
    board = load_dashboards()["model"]
    for title, expr in panel_queries(board):
        result = scraped.query(substitute(expr, {"model": "no-such-model", "version": "9.9.9"}))
        if "time()" in expr:
            continue  # max(time() - nothing) is empty too, but keep the check on plain selectors
        assert result == [], f"{title}: {expr!r} returned {result} for an unknown model"


def test_fed_values_arrive_in_seconds_and_per_field(scraped, metrics_target):
    _, model, version = metrics_target
    key = f'model="{model}",version="{version}"'
    p95 = scraped.query(f'{mn.PROM_LATENCY_QUANTILE}{{{key},quantile="0.95"}}')
    assert 0.04 < float(p95[0]["value"][1]) < 1.0  # lognormal(40 ms, 0.5) p95 ~ 90 ms, in seconds
    fields = {r["metric"]["field"] for r in scraped.query(f'{mn.PROM_DRIFT_SCORE}{{{key},test="psi"}}')}
    assert fields == {"prediction", "latency_ms", "n_chars", "lang"}
    drifting = scraped.query(f"{mn.PROM_DRIFT_DETECTED}{{{key}}} == 1")
    assert ("lang", "chi2") in {(r["metric"]["field"], r["metric"]["test"]) for r in drifting}
    assert {r["metric"]["field"] for r in drifting} == {"lang"}  # nothing else moved


def test_generated_rules_load_and_fire_on_the_fed_drift(scraped, metrics_target):
    _, model, version = metrics_target

    def evaluated_ok():
        groups = scraped.get("/api/v1/rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return len(rules) >= 8 and all(r["health"] == "ok" for r in rules) and rules

    rules = wait_for("all generated rules evaluated without error", evaluated_ok)
    assert {r["name"] for r in rules} >= {"latency-p95", "drift-chi2", "concept-drift"}  # the shipped rules

    def firing(name):
        alerts = scraped.get("/api/v1/alerts")["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]

    chi2 = wait_for("drift-chi2 to fire", lambda: firing("drift-chi2"))
    assert {(a["labels"]["model"], a["labels"]["version"], a["labels"]["field"]) for a in chi2} >= {
        (model, version, "lang")}
    assert all(a["labels"]["severity"] == "warning" for a in chi2)
    assert not firing("latency-p95")  # ~90 ms p95 is far below 2 s
