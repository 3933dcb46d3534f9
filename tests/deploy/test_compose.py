"""docker-compose.yml, deploy/prometheus.yml and the Dockerfile: valid, and wired as DESIGN.md says."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from grafana.export import DASHBOARDS_MOUNT, GENERATED_DIR

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus.yml"
DOCKER_COMPOSE = shutil.which("docker-compose")
PROMTOOL = shutil.which("promtool")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def volumes_of(service: dict) -> dict[str, str]:
    """container path -> host path (relative to the repo) of a service's bind mounts."""
    out = {}
    for v in service.get("volumes", []):
        host, container = v.split(":")[:2]
        out[container] = host
    return out


@pytest.mark.skipif(DOCKER_COMPOSE is None, reason="docker-compose not on PATH (apt-get install docker-compose)")
def test_docker_compose_config_is_valid(tmp_path):
    out = subprocess.run([DOCKER_COMPOSE, "-f", str(COMPOSE_FILE), "config", "-q"], cwd=REPO,
                         check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    image: redis:7.2\n", "    image: redis:7.2\n    replicas: x\n"))
    out = subprocess.run([DOCKER_COMPOSE, "-f", str(broken), "config", "-q"], cwd=tmp_path,
                         check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0, "docker-compose accepted an invalid file: the check cannot fail"


def test_services(compose):
    assert set(compose["services"]) == {"kafka", "redis", "worker", "producer", "prometheus", "grafana"}
    assert not any("zookeeper" in name for name in compose["services"])


def test_kafka_runs_kraft_from_the_official_image(compose):
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"]), "CLUSTER_ID must be a base64url UUID"


def test_redis_7_with_aof_everysec_and_noeviction(compose):
    redis = compose["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    args = redis["command"]
    pairs = dict(zip(args[1::2], args[2::2]))
    assert args[0] == "redis-server"
    assert pairs["--appendonly"] == "yes"
    assert pairs["--appendfsync"] == "everysec"
    assert pairs["--maxmemory-policy"] == "noeviction"
    assert "/data" in volumes_of(redis)


def test_workers_and_producer_reach_kafka_and_redis(compose):
    for name in ("worker", "producer"):
        env = compose["services"][name]["environment"]
        assert env["PREDWATCH_KAFKA"] == "kafka://kafka:9092"
        assert env["PREDWATCH_REDIS"] == "redis://redis:6379/0"
    worker = compose["services"]["worker"]
    assert worker["deploy"]["replicas"] == 2
    assert "ports" not in worker and "container_name" not in worker  # replicas cannot share them
    assert worker["environment"]["PREDWATCH_WEB_PORT"] == "6066"
    assert int(worker["environment"]["PREDWATCH_PARTITIONS"]) >= worker["deploy"]["replicas"]
    assert compose["services"]["producer"]["command"] == ["predwatch", "simulate"]
    assert compose["services"]["producer"]["image"] == worker["image"]


def test_prometheus_gets_the_config_and_the_generated_rules(compose):
    mounts = volumes_of(compose["services"]["prometheus"])
    assert (REPO / mounts["/etc/prometheus/prometheus.yml"]).resolve() == PROMETHEUS_CONFIG
    rules_dir = "/etc/prometheus/rules"
    assert (REPO / mounts[rules_dir]).resolve() == GENERATED_DIR / "prometheus"
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert config["rule_files"] == [f"{rules_dir}/*.yml"]
    assert list((GENERATED_DIR / "prometheus").glob("*.yml")), "no generated rules to load"
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "predwatch")
    assert job["metrics_path"] == "/metrics"
    sd = job["dns_sd_configs"][0]
    assert sd["names"] == ["worker"] and sd["port"] == 6066 and sd["type"] == "A"


def test_grafana_is_provisioned_with_the_generated_files(compose):
    mounts = volumes_of(compose["services"]["grafana"])
    for sub in ("datasources", "dashboards"):
        host = mounts[f"/etc/grafana/provisioning/{sub}"]
        assert (REPO / host).resolve() == GENERATED_DIR / "provisioning" / sub
    assert (REPO / mounts[DASHBOARDS_MOUNT]).resolve() == GENERATED_DIR / "dashboards"
    home = compose["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (GENERATED_DIR / "dashboards" / Path(home).relative_to(DASHBOARDS_MOUNT)).is_file()


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not on PATH (apt-get install prometheus)")
def test_prometheus_config_passes_promtool(tmp_path):
    # Point rule_files at the generated rules so promtool checks them with the config.
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["rule_files"] = [str(GENERATED_DIR / "prometheus" / "*.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    out = subprocess.run([PROMTOOL, "check", "config", str(path)], check=False, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr and "rules found" in out.stdout + out.stderr


def test_dockerfile_installs_every_package_on_python_311_slim():
    lines = [ln.strip() for ln in (REPO / "Dockerfile").read_text().splitlines()]
    assert next(ln for ln in lines if ln and not ln.startswith("#")) == "FROM python:3.11-slim"
    assert any(ln.startswith("RUN pip install .") for ln in lines)
    assert "EXPOSE 6066" in lines
    assert 'CMD ["predwatch", "worker"]' in lines
    copied = {part.rstrip("/") for ln in lines if ln.startswith("COPY ") for part in ln.split()[1:-1]}
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied, f"packages not copied into the image: {packages - copied}"
    assert {"pyproject.toml", pyproject["project"]["readme"]} <= copied
    assert any(ln.startswith("USER ") and ln != "USER root" for ln in lines)
