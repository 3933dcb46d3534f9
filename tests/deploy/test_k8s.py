"""k8s/ manifests validate offline (kubernetes-validate --strict) and are wired together."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
K8S_VERSION = "1.30.0"
MANIFESTS = sorted(K8S.glob("*.yaml"))


def validator() -> list[str] | None:
    exe = Path(sys.executable).with_name("kubernetes-validate")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("kubernetes-validate")
    return [found] if found else None


needs_validator = pytest.mark.skipif(validator() is None,
                                     reason="kubernetes-validate not installed (pip install kubernetes-validate)")


@pytest.fixture(scope="module")
def resources() -> dict[tuple[str, str], dict]:
    out = {}
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out[(doc["kind"], doc["metadata"]["name"])] = doc
    return out


@needs_validator
def test_manifests_validate_strictly_offline():
    out = subprocess.run([*validator(), "--strict", "-k", K8S_VERSION, "--quiet", *map(str, MANIFESTS)],
                         check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


@needs_validator
def test_validator_rejects_an_unknown_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((K8S / "deployment.yaml").read_text().replace("  replicas: 2", "  replica: 2"))
    out = subprocess.run([*validator(), "--strict", "-k", K8S_VERSION, str(bad)], check=False, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0 and "replica" in out.stdout + out.stderr


def test_all_pieces_are_there(resources):
    kinds = {kind for kind, _ in resources}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap",
            "Secret"} <= kinds
    assert resources[("HorizontalPodAutoscaler", "predwatch-worker")]["apiVersion"] == "autoscaling/v2"


def test_deployment_probes_config_and_credentials(resources):
    deploy = resources[("Deployment", "predwatch-worker")]
    pod = deploy["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"web": 6066}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "web"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "web"}
    assert set(container["resources"]) == {"requests", "limits"}
    sources = {(k, v["name"]) for s in container["envFrom"] for k, v in s.items()}
    assert ("configMapRef", "predwatch-config") in sources and ("secretRef", "predwatch-credentials") in sources
    for kind, name in (("ConfigMap", "predwatch-config"), ("Secret", "predwatch-credentials")):
        assert (kind, name) in resources
    config = resources[("ConfigMap", "predwatch-config")]["data"]
    assert all(key.startswith("PREDWATCH_") for key in config), "envFrom skips keys that are not env names"
    secret = resources[("Secret", "predwatch-credentials")]["stringData"]
    assert "PREDWATCH_REDIS" in secret and "PREDWATCH_REDIS" not in config
    assert not any("PASSWORD" in key for key in config)
    # the rules file is mounted where PREDWATCH_CONFIG points and parses as predwatch rules
    from streams.rules import parse_rules

    rules_cm = next(v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v)
    mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "rules")
    (item,) = next(v for v in pod["volumes"] if "configMap" in v)["configMap"]["items"]
    assert f"{mount}/{item['path']}" == config["PREDWATCH_CONFIG"]
    assert parse_rules(yaml.safe_load(resources[("ConfigMap", rules_cm)]["data"][item["key"]]))


def test_selectors_match_the_pods(resources):
    deploy = resources[("Deployment", "predwatch-worker")]
    pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert deploy["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert resources[("Service", "predwatch-worker")]["spec"]["selector"].items() <= pod_labels.items()
    assert resources[("PodDisruptionBudget", "predwatch-worker")]["spec"]["selector"]["matchLabels"].items() \
        <= pod_labels.items()
    service_port = resources[("Service", "predwatch-worker")]["spec"]["ports"][0]
    assert service_port["targetPort"] == "web" and service_port["port"] == 6066
    target = resources[("HorizontalPodAutoscaler", "predwatch-worker")]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "predwatch-worker")


def test_autoscaling_never_exceeds_the_partitions(resources):
    hpa = resources[("HorizontalPodAutoscaler", "predwatch-worker")]["spec"]
    partitions = int(resources[("ConfigMap", "predwatch-config")]["data"]["PREDWATCH_PARTITIONS"])
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"] <= partitions
    assert resources[("Deployment", "predwatch-worker")]["spec"]["replicas"] >= hpa["minReplicas"]


def test_readme_explains_partitions_and_replicas():
    text = (K8S / "README.md").read_text()
    for phrase in ("Max useful replicas = partitions", "(model, version)", "rebalance"):
        assert phrase in text
