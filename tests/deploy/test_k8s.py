"""deploy/k8s: the checked-in rendered manifests equal a fresh render, and every document validates
offline against the Kubernetes schemas (kubernetes-validate's bundled ones) or, for the RayJob,
deploy/k8s/schemas/rayjob-ray.io-v1.json with its pod templates checked as Kubernetes PodTemplates."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.30.0"  # oldest Kubernetes the manifests target (gRPC probes are GA since 1.27)
RAYJOB_SCHEMA = json.loads((ROOT / "deploy/k8s/schemas/rayjob-ray.io-v1.json").read_text())
OVERLAYS = sorted(p.stem for p in (ROOT / "deploy/k8s/overlays").glob("*.yaml"))
INVALID = (kubernetes_validate.ValidationError, jsonschema.ValidationError)
DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _renderer() -> Any:
    spec = importlib.util.spec_from_file_location("render_k8s", ROOT / "scripts/render_k8s.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _docs(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((ROOT / "deploy/k8s/rendered" / f"{name}.yaml").read_text()))


def validate(doc: dict[str, Any]) -> None:
    """Raise if ``doc`` is not a valid object of its kind."""
    if doc["kind"] == "RayJob":
        jsonschema.validate(doc, RAYJOB_SCHEMA)
        cluster = doc["spec"]["rayClusterSpec"]
        for tpl in [cluster["headGroupSpec"]["template"]] + [
            g["template"] for g in cluster["workerGroupSpecs"]
        ]:
            pod = {
                "apiVersion": "v1",
                "kind": "PodTemplate",
                "metadata": {"name": "t"},
                "template": tpl,
            }
            kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    else:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    assert DNS_1123.fullmatch(doc["metadata"]["name"]), doc["metadata"]["name"]


def test_overlays_exist() -> None:
    assert {"dev", "prod"} <= set(OVERLAYS)


@pytest.mark.parametrize("name", OVERLAYS)
def test_rendered_is_current(name: str) -> None:
    """Like `helm template` output checked in: regenerate with scripts/render_k8s.py --write."""
    assert (
        _renderer().render_text(name) == (ROOT / "deploy/k8s/rendered" / f"{name}.yaml").read_text()
    )


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_document_validates(name: str) -> None:
    docs = _docs(name)
    for doc in docs:
        validate(doc)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds.count("Deployment") == 3 and kinds.count("Service") == 3
    assert {"Job", "HorizontalPodAutoscaler", "RayJob", "Namespace"} <= set(kinds)


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d["spec"].__setitem__("replicas", "two"),
        lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("livenessprobe", {}),
        lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"].__setitem__(
            "limits", "1"
        ),
    ],
)
def test_the_validator_rejects_broken_deployments(break_it: Any) -> None:
    dep = copy.deepcopy(next(d for d in _docs("prod") if d["kind"] == "Deployment"))
    break_it(dep)
    with pytest.raises(INVALID):
        validate(dep)


@pytest.mark.parametrize(
    "break_it",
    [
        lambda j: j["spec"].__setitem__("submissionMode", "Batch"),
        lambda j: j["spec"]["rayClusterSpec"]["workerGroupSpecs"][0].__setitem__("replica", 3),
        lambda j: j["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][
            0
        ].__setitem__("resource", {}),
    ],
)
def test_the_validator_rejects_broken_rayjobs(break_it: Any) -> None:
    job = copy.deepcopy(next(d for d in _docs("prod") if d["kind"] == "RayJob"))
    break_it(job)
    with pytest.raises(INVALID):
        validate(job)


def test_services_have_probes_resources_and_the_database_from_a_secret() -> None:
    docs = _docs("prod")
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    assert set(deployments) == {"saferoad-web", "saferoad-analysis", "saferoad-model-server"}
    for name, dep in deployments.items():
        c = dep["spec"]["template"]["spec"]["containers"][0]
        assert c["readinessProbe"] and c["livenessProbe"]
        assert set(c["resources"]) == {"requests", "limits"}
        assert c["securityContext"]["runAsNonRoot"] is True
        port = c["ports"][0]["containerPort"]
        probe = c["livenessProbe"]
        assert probe.get("grpc", probe.get("httpGet", {})).get("port") == port
        assert f"--port {port}" in " ".join(c["args"])
        svc = services[name]
        assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
        assert svc["spec"]["ports"][0]["port"] == port
    web = deployments["saferoad-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/api/v1/ingest/health"
    migrate = next(d for d in docs if d["kind"] == "Job")
    for c in (web, migrate["spec"]["template"]["spec"]["containers"][0]):
        (env,) = [e for e in c["env"] if e["name"] == "SAFEROAD_DB_URL"]
        assert env["valueFrom"]["secretKeyRef"] == {"name": "saferoad-db", "key": "url"}
    assert not [d for d in docs if d["kind"] in ("StatefulSet", "Secret")], "PostgreSQL is external"


def test_hpa_scales_the_model_server_and_the_rayjob_evaluates_from_a_volume() -> None:
    docs = _docs("prod")
    (hpa,) = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "saferoad-model-server",
    }
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    (job,) = [d for d in docs if d["kind"] == "RayJob"]
    args = shlex.split(job["spec"]["entrypoint"])
    assert args[:2] == ["saferoad", "evaluate"]
    head = job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in head["containers"][0]["volumeMounts"]}
    assert args[2].startswith("/data/") and "/data" in mounts
    claim = {v["name"]: v for v in head["volumes"]}[mounts["/data"]]["persistentVolumeClaim"]
    assert claim["readOnly"] is True
    images = {c["image"] for c in head["containers"]}
    assert images == {"registry.example.com/saferoad-eval-worker:GIT_SHA"}


def test_overlay_missing_a_field_is_named() -> None:
    with pytest.raises(ValueError, match="hpa"):
        _renderer().render({"namespace": "x", "tag": "t", "replicas": {}})
