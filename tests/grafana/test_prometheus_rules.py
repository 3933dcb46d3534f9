"""The predwatch rules translate to Prometheus rules that promtool accepts and that fire as specified."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from grafana.export import GENERATED_DIR
from grafana.prometheus_rules import UntranslatableRule, render, rule_expr, rule_groups
from grafana.promql import glob_to_regex
from streams.rules import Rule, default_rules

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not on PATH (apt-get install prometheus)")
RULES_FILE = GENERATED_DIR / "prometheus" / "predwatch-rules.yml"
RULES_TEST = Path(__file__).with_name("predwatch-rules.test.yml")


def rule(**kw) -> Rule:
    return Rule.from_dict({"name": "r", "condition": ">", "threshold": 1, **kw})


def test_every_default_rule_translates_and_keeps_for_and_severity():
    rules = default_rules()
    doc = rule_groups(rules)
    entries = doc["groups"][0]["rules"]
    assert [e["alert"] for e in entries] == [r.name for r in rules]
    for r, e in zip(rules, entries):
        assert e["labels"]["severity"] == r.severity
        assert e["labels"]["rule"] == r.name
        assert ("for" in e) == (r.for_s > 0)
    assert yaml.safe_load(RULES_FILE.read_text()) == doc
    assert RULES_FILE.read_text() == render(rules)


def test_latency_thresholds_are_converted_to_seconds():
    assert rule_expr(rule(metric="latency_p99_ms", threshold=250)) == \
        'monitor_latency_quantile_seconds{quantile="0.99"} > 0.25'
    assert rule_expr(rule(metric="latency_mean_ms", condition=">=", threshold=1500)) == \
        "monitor_latency_mean_seconds >= 1.5"
    assert rule_expr(rule(metric="mape", threshold=0.3)) == 'monitor_accuracy{metric="mape"} > 0.3'


def test_model_globs_and_exact_models():
    assert 'model="tok.counter"' in rule_expr(rule(metric="r2", model="tok.counter", condition="<"))
    assert 'model=~"tok\\\\..*"' in rule_expr(rule(metric="r2", model="tok.*", condition="<"))
    assert "model" not in rule_expr(rule(metric="r2", model="*", condition="<"))


def test_drift_metrics_map_to_scores_and_verdicts():
    assert rule_expr(rule(metric="drift.*.psi", threshold=0.2)) == 'monitor_drift_score{test="psi"} > 0.2'
    assert rule_expr(rule(metric="drift.country.chi2_drift", condition=">=")) == \
        'monitor_drift_detected{field="country",test="chi2"} >= 1'
    expr = rule_expr(rule(metric="drift.f_*.*_drift", condition=">="))
    for test in ("ks", "psi", "chi2", "zscore"):
        assert f'monitor_drift_detected{{field=~"f_.*",test="{test}"}} >= 1' in expr
    assert expr.count(" or ") == 3 and "monitor_drift_score" not in expr


def test_metric_globs_expand_with_per_metric_units():
    expr = rule_expr(rule(metric="latency_p9?_ms", threshold=3000))
    assert expr == ('monitor_latency_quantile_seconds{quantile="0.95"} > 3 or '
                    'monitor_latency_quantile_seconds{quantile="0.99"} > 3')


def test_hysteresis_keeps_firing_through_alerts_series_ignoring_rule_labels():
    expr = rule_expr(rule(name="p95", metric="latency_p95_ms", threshold=2000, resolve_threshold=1500,
                          labels={"team": "ml"}))
    assert expr.startswith('(monitor_latency_quantile_seconds{quantile="0.95"} > 2) or ((')
    assert '{quantile="0.95"} > 1.5) and ignoring(alertname, alertstate, severity, rule, team) ' \
           'ALERTS{alertname="p95",alertstate="firing"})' in expr


def test_concept_drift_is_a_counter_increase_within_the_cooldown():
    expr = rule_expr(rule(metric="concept_drift.detected", condition=">=", threshold=1, cooldown="10m",
                          model="tok"))
    assert expr == 'increase(monitor_concept_drift_detections_total{model="tok"}[10m]) > 0'
    with pytest.raises(UntranslatableRule):
        rule_expr(rule(metric="concept_drift.detected", condition="<", threshold=1))


@pytest.mark.parametrize("metric", ["latency_max_ms", "concept_drift.error", "events_total", "drift.x.nope",
                                    "nothing_*"])
def test_untranslatable_rules_fail_unless_skipped(metric):
    bad = rule(name="bad", metric=metric)
    good = rule(name="good", metric="r2", condition="<", threshold=0.5)
    with pytest.raises(UntranslatableRule, match="bad"):
        rule_groups([bad, good])
    names = [e["alert"] for e in rule_groups([bad, good], skip_untranslatable=True)["groups"][0]["rules"]]
    assert names == ["good"]


@pytest.mark.parametrize("glob", ["*", "tok-*", "tok?counter", "a.b*", "[abc]x*", "[!a]*", "v1.[0-9]*"])
def test_glob_to_regex_agrees_with_fnmatch(glob):
    names = ["tok-counter", "tokXcounter", "a.b.c", "axb", "ax", "bx1", "v1.2.0", "v1x2", "", "a", "x"]
    regex = re.compile(glob_to_regex(glob))
    for name in names:
        assert bool(regex.fullmatch(name)) == fnmatch.fnmatchcase(name, glob), (glob, name)


@needs_promtool
def test_promtool_checks_the_generated_rules():
    out = subprocess.run([PROMTOOL, "check", "rules", str(RULES_FILE)], check=False, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(default_rules())} rules found" in out.stdout


@needs_promtool
def test_promtool_unit_tests_of_the_rules_pass():
    out = subprocess.run([PROMTOOL, "test", "rules", str(RULES_TEST)], check=False, capture_output=True, text=True,
                         timeout=60, cwd=RULES_TEST.parent)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


@needs_promtool
def test_promtool_unit_tests_catch_a_missing_hysteresis(tmp_path):
    """Without the resolve threshold the 50 s case of the unit tests fails: the tests can fail."""
    rules = [Rule.from_dict({**r.to_dict(), "resolve_threshold": None}) if r.name == "latency-p95" else r
             for r in default_rules()]
    (tmp_path / "rules.yml").write_text(render(rules))
    test = RULES_TEST.read_text().replace("../../grafana/generated/prometheus/predwatch-rules.yml", "rules.yml")
    (tmp_path / "t.yml").write_text(test)
    out = subprocess.run([PROMTOOL, "test", "rules", "t.yml"], check=False, capture_output=True, text=True, timeout=60,
                         cwd=tmp_path)
    assert out.returncode != 0
    assert "alertname: latency-p95, time: 50s" in out.stdout + out.stderr
