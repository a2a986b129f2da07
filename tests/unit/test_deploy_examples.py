"""The deployment examples in deploy/ are valid and agree with the server image (Dockerfile.server):
Kubernetes against its schema (kubernetes-validate, strict), Cloud Run's container spec against the same core
schema, compose and Fly for the port, probes and grace periods the image and handler/serve.py rely on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate")

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCKERFILE = (REPO / "Dockerfile.server").read_text()
PORT = 8080


def _documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((DEPLOY / name).read_text()) if doc]


def _validate(resource: dict[str, Any]) -> None:
    kubernetes_validate.validate(resource, kubernetes_validate.latest_version(), strict=True)


def test_image_serves_what_the_examples_expect() -> None:
    assert "EXPOSE 8080" in DOCKERFILE and "PORT=8080" in DOCKERFILE
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.M)
    assert "/health" in DOCKERFILE.split("HEALTHCHECK", 1)[1].split("\n", 2)[1]


def test_kubernetes_manifest_is_valid_and_complete() -> None:
    docs = _documents("kubernetes.yaml")
    for doc in docs:
        _validate(doc)
    kinds = {doc["kind"]: doc for doc in docs}
    assert set(kinds) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["ports"][0]["containerPort"] == PORT
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"  # 503 while saturated, not only at start
    for probe in ("livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
    assert container["resources"]["limits"]["cpu"] == container["resources"]["requests"]["cpu"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert pod["securityContext"]["runAsUser"] == 10001
    grace = int(next(e["value"] for e in container["env"] if e["name"] == "EDGE_SERVER_SHUTDOWN_GRACE_S"))
    assert pod["terminationGracePeriodSeconds"] > grace + container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == kinds["Deployment"]["metadata"]["name"]


def test_broken_kubernetes_manifest_is_refused() -> None:
    deployment = _documents("kubernetes.yaml")[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["prot"] = 8080
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(deployment)


def test_cloud_run_service_container_spec_is_a_valid_pod_spec() -> None:
    (service,) = _documents("cloudrun.yaml")
    assert service["apiVersion"] == "serving.knative.dev/v1" and service["kind"] == "Service"
    spec = service["spec"]["template"]["spec"]
    # Knative's container spec is core/v1's: validate it as one.
    _validate(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "x"},
            "spec": {"containers": [{"name": "edge-encoders", **c} for c in spec["containers"]]},
        }
    )
    (container,) = spec["containers"]
    assert container["ports"][0]["containerPort"] == PORT
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    grace = int(next(e["value"] for e in container["env"] if e["name"] == "EDGE_SERVER_SHUTDOWN_GRACE_S"))
    assert grace < 10  # Cloud Run gives 10 s after SIGTERM


def test_compose_and_fly_match_the_image() -> None:
    (service,) = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"].values()
    assert service["ports"] == [f"127.0.0.1:{PORT}:{PORT}"] and service["read_only"] is True
    assert service["tmpfs"] == ["/tmp"] and "/health" in " ".join(service["healthcheck"]["test"])
    assert int(service["stop_grace_period"].rstrip("s")) > int(service["environment"]["EDGE_SERVER_SHUTDOWN_GRACE_S"])
    fly = tomllib.loads((DEPLOY / "fly.toml").read_text())
    assert fly["http_service"]["internal_port"] == PORT
    assert fly["http_service"]["checks"][0]["path"] == "/health"
    assert fly["kill_timeout"] > int(fly["env"]["EDGE_SERVER_SHUTDOWN_GRACE_S"])
