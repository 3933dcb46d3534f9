"""The predwatch CLI against the session's broker and Redis: publish, alerts, rules, services."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agents.cli import app
from streams.records import Alert, encode

pytestmark = pytest.mark.services


@pytest.fixture
def env(kafka_url, redis_url, topic_prefix, tmp_path, monkeypatch):
    values = {"PREDWATCH_KAFKA": kafka_url, "PREDWATCH_REDIS": redis_url, "PREDWATCH_TOPIC_PREFIX": topic_prefix,
              "PREDWATCH_PARTITIONS": "1", "PREDWATCH_STATE_DIR": str(tmp_path)}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


@pytest.mark.parametrize("flags,contract", [([], 2), (["--v1"], 1)])
def test_publish_jsonl_reports_bad_lines_and_sends_the_rest(env, kafka_bootstrap, tmp_path, flags, contract):
    from tests.agents.worker_proc import TopicReader, decode_all

    f = tmp_path / "events.jsonl"
    good = {"model": "tok", "version": "1.0.0", "ts": 5.0, "latency_ms": 3.0, "prediction": 7.0}
    f.write_text("\n".join([json.dumps(good), json.dumps(dict(good, latency_ms=-1)), "not json",
                            json.dumps(dict(good, prediction=8.0)), ""]) + "\n")
    result = CliRunner().invoke(app, ["publish", str(f), *flags])
    assert result.exit_code == 1, result.output
    assert "sent 2 event(s), rejected 2 line(s)" in result.output
    assert "line 2: latency_ms: got -1" in result.output and "line 3:" in result.output
    reader = TopicReader(kafka_bootstrap, f"{env['PREDWATCH_TOPIC_PREFIX']}.predictions")
    events, values = [], []
    deadline_reads = 0
    while len(events) < 2 and deadline_reads < 50:
        values = [v for *_, v in reader.drain(0.2)]  # every record so far
        events = decode_all(values)
        deadline_reads += 1
    assert [e.prediction for e in events] == [7.0, 8.0]
    assert {json.loads(v)["v"] for v in values} == {contract}  # one envelope, columnar unless --v1
    reader.close()


def test_alerts_prints_readably_and_as_json_with_filters(env, kafka_bootstrap):
    from confluent_kafka import Producer

    from streams.settings import Settings
    from streams.topics import ensure_topics

    ensure_topics(Settings.from_env())
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    for i, sev in enumerate(["warning", "critical"]):
        a = Alert(alert_id=f"id{i}", fingerprint=f"tok/1.0.0/r{i}", status="firing", model="tok", version="1.0.0",
                  rule=f"r{i}", metric="mae", value=3.5, threshold=2.0, condition=">", severity=sev,
                  message=f"mae high {i}", started_at=1.0, ts=1_800_000_000.0)
        p.produce(f"{env['PREDWATCH_TOPIC_PREFIX']}.alerts", encode(a), key=a.fingerprint.encode())
    p.flush(10)
    runner = CliRunner()
    out = runner.invoke(app, ["alerts", "--json", "--severity", "critical", "--idle-s", "3"])
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in out.output.splitlines() if x.startswith("{")]
    assert [a["alert_id"] for a in lines] == ["id1"]
    out = runner.invoke(app, ["alerts", "--idle-s", "3"])
    assert "FIRING" in out.output and "tok@1.0.0 r0: mae=3.5 (> 2)" in out.output
    bad = runner.invoke(app, ["alerts", "--severity", "loud"])
    assert bad.exit_code != 0 and "loud" in bad.output


def test_rules_set_list_delete_through_redis(env, tmp_path):
    f = tmp_path / "rules.yaml"
    f.write_text("rules:\n  - name: mape-high\n    model: 'tok-*'\n    metric: mape\n    condition: '>'\n"
                 "    threshold: 0.3\n    severity: critical\n")
    runner = CliRunner()
    assert runner.invoke(app, ["rules", "set", str(f)]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["rules", "list", "--json"]).output)
    ours = [r for r in listed if r["name"] == "mape-high"]
    assert ours and ours[0]["source"] == "redis" and ours[0]["threshold"] == 0.3
    assert any(r["source"] == "file" and r["name"] == "latency-p95" for r in listed)  # shipped defaults
    assert runner.invoke(app, ["rules", "delete", "mape-high"]).exit_code == 0
    assert runner.invoke(app, ["rules", "delete", "mape-high"]).exit_code == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    metric: mae\n    condition: '=>'\n    threshold: 1\n")
    out = runner.invoke(app, ["rules", "set", str(bad)])
    assert out.exit_code == 2 and "condition must be one of" in out.output and "'=>'" in out.output


def test_alert_manager_send_alert_and_configure(env, kafka_bootstrap):
    from agents.alerting import AlertManager
    from streams.rules import RuleError
    from streams.subscriber import AlertSubscriber

    manager = AlertManager()
    with pytest.raises(RuleError, match="severity"):
        manager.configure_alert({"name": "x", "metric": "mae", "threshold": 1, "severity": "loud"})
    with AlertSubscriber(from_beginning=True, models=["tok"]) as sub:
        sent = manager.send_alert("tok", "1.0.0", "manual check", severity="info")
        got = sub.poll(10)
    assert got is not None and got.alert_id == sent.alert_id and got.context == {"source": "manual"}
    assert [a["fingerprint"] for a in manager.firing()] == ["tok/1.0.0/manual"]
    manager.close()


def test_services_status_without_services_says_how_to_start(tmp_path, monkeypatch):
    monkeypatch.setenv("PREDWATCH_STATE_DIR", str(tmp_path))
    out = CliRunner().invoke(app, ["services", "status"])
    assert out.exit_code == 1 and "predwatch services up" in out.output


def test_bad_setting_fails_naming_the_variable(monkeypatch):
    monkeypatch.setenv("PREDWATCH_KAFKA", "localhost:9092")
    out = CliRunner().invoke(app, ["alerts"])
    assert out.exit_code == 2 and "PREDWATCH_KAFKA" in out.output


@pytest.mark.parametrize("argv", [["alerts"], ["publish", "/dev/null"]])
def test_unreachable_broker_exits_1_with_its_message(argv, tmp_path, monkeypatch):
    monkeypatch.setenv("PREDWATCH_KAFKA", "kafka://127.0.0.1:1")  # nothing listens on port 1
    monkeypatch.setenv("PREDWATCH_STATE_DIR", str(tmp_path))
    out = CliRunner().invoke(app, argv)
    assert out.exit_code == 1 and "error: broker" in out.output and "127.0.0.1:1" in out.output
