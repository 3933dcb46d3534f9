from pathlib import Path

import pytest

from streams.errors import SettingsError
from streams.settings import Settings


def test_defaults_are_embedded():
    s = Settings.from_env({})
    assert s.kafka_is_embedded and s.redis_is_embedded and s.topic("alerts") == "predwatch.alerts"


@pytest.mark.parametrize("var,value", [
    ("PREDWATCH_KAFKA", "localhost:9092"),
    ("PREDWATCH_KAFKA", "kafka://host"),
    ("PREDWATCH_KAFKA", "kafka://h:99999"),
    ("PREDWATCH_REDIS", "http://x"),
    ("PREDWATCH_TOPIC_PREFIX", "bad prefix"),
    ("PREDWATCH_CONFIG", "/nonexistent/rules.yaml"),
    ("PREDWATCH_PARTITIONS", "0"),
    ("PREDWATCH_PARTITIONS", "many"),
    ("PREDWATCH_EVAL_INTERVAL_S", "-1"),
    ("PREDWATCH_KAFKA_SECURITY_PROTOCOL", "TLS"),
    ("PREDWATCH_KAFKA_SSL_CAFILE", "/nope.pem"),
])
def test_invalid_values_name_the_variable(var, value):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({var: value})
    assert info.value.variable == var and var in str(info.value) and repr(value) in str(info.value)


def test_sasl_needs_a_user_and_builds_librdkafka_config(tmp_path: Path):
    with pytest.raises(SettingsError, match="PREDWATCH_KAFKA_SASL_USERNAME"):
        Settings.from_env({"PREDWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    s = Settings.from_env({"PREDWATCH_KAFKA": "kafka://k:9093", "PREDWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                           "PREDWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "PREDWATCH_KAFKA_SASL_USERNAME": "u",
                           "PREDWATCH_KAFKA_SASL_PASSWORD": "s3cret", "PREDWATCH_KAFKA_SSL_CAFILE": str(ca)})
    conf = s.confluent_config()
    assert conf["security.protocol"] == "sasl_ssl" and conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["ssl.ca.location"] == str(ca) and conf["bootstrap.servers"] == "k:9093"
    assert "s3cret" not in repr(s.security) and s.security.sasl_password == "s3cret"  # the password is not printed


def test_rules_file_must_exist_and_is_kept(tmp_path: Path):
    f = tmp_path / "rules.yaml"
    f.write_text("rules: []\n")
    assert Settings.from_env({"PREDWATCH_CONFIG": str(f)}).config_path == f
