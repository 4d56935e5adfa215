"""deploy/k8s: the checked-in rendered manifests equal a fresh render, and every document validates
offline against the Kubernetes schemas (kubernetes-validate's bundled ones) or, for the RayJob,
KubeRay's own CRD schema (vendored: deploy/schemas/kuberay/ray.io_rayjobs.yaml), whose elided core
subtrees (the pod templates, the head Service) are checked against Kubernetes' schema for that type."""

from __future__ import annotations

import copy
import importlib.util
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.30.0"  # oldest Kubernetes the manifests target (gRPC probes are GA since 1.27)
RAYJOB_CRD_PATH = ROOT / "deploy/schemas/kuberay/ray.io_rayjobs.yaml"
OVERLAYS = sorted(p.stem for p in (ROOT / "deploy/k8s/overlays").glob("*.yaml"))
INVALID = (kubernetes_validate.ValidationError, jsonschema.ValidationError)
DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# an elided subtree of the vendored CRD names its Kubernetes core type in its description
ELIDED = re.compile(
    r"saferoad: elided from the vendored CRD, core type io\.k8s\.api\.core\.v1\.(\w+)"
)
# the core types a CRD subtree may stand for -> how to wrap one as a whole object to validate it
CORE_WRAP = {
    "PodTemplateSpec": lambda v: {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": "t"},
        "template": v,
    },
    "Service": lambda v: {
        "apiVersion": "v1",
        "kind": "Service",
        **v,
        "metadata": {"name": "t", **v.get("metadata", {})},
    },
}
INT_RANGE = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def crd_to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """A CRD's structural openAPIV3Schema as a JSON Schema, with the API server's strict field
    validation (`kubectl apply --validate=strict`): an object with declared properties rejects
    unknown fields; int32/int64 are range-checked; `nullable` admits null. An elided core
    subtree becomes the keyword ``x-core-type``, checked by kubernetes-validate."""
    if node.get("x-kubernetes-preserve-unknown-fields"):
        m = ELIDED.fullmatch(node.get("description", ""))
        assert m and m.group(1) in CORE_WRAP, f"an unchecked free-form subtree: {node}"
        return {"type": "object", "x-core-type": m.group(1)}
    out: dict[str, Any] = {}
    for key in ("enum", "pattern", "minimum", "maximum", "minLength", "maxLength", "required"):
        if key in node:
            out[key] = node[key]
    if "anyOf" in node:  # x-kubernetes-int-or-string
        out["anyOf"] = [crd_to_json_schema(n) for n in node["anyOf"]]
    if "type" in node:
        out["type"] = [node["type"], "null"] if node.get("nullable") else node["type"]
    if node.get("format") in INT_RANGE:
        out["minimum"], out["maximum"] = INT_RANGE[node["format"]]
    if "properties" in node:
        out["properties"] = {k: crd_to_json_schema(v) for k, v in node["properties"].items()}
        out["additionalProperties"] = False
    elif "additionalProperties" in node:
        out["additionalProperties"] = crd_to_json_schema(node["additionalProperties"])
    if "items" in node:
        out["items"] = crd_to_json_schema(node["items"])
    return out


def _core_type(
    validator: Any, kind: str, instance: Any, schema: dict[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    if not isinstance(instance, dict):
        return
    try:
        kubernetes_validate.validate(CORE_WRAP[kind](instance), K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        yield jsonschema.ValidationError(f"not a valid core/v1 {kind}: {e.message}")


RayJobValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"x-core-type": _core_type}
)


def _crd() -> dict[str, Any]:
    (crd,) = list(yaml.safe_load_all(RAYJOB_CRD_PATH.read_text()))
    return crd


def _schema(crd: dict[str, Any], version: str) -> dict[str, Any]:
    (v,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    assert v["served"], version
    return crd_to_json_schema(v["schema"]["openAPIV3Schema"])


RAYJOB_SCHEMA = _schema(_crd(), "v1")


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
    if doc["apiVersion"] == "ray.io/v1" and doc["kind"] == "RayJob":
        RayJobValidator(RAYJOB_SCHEMA).validate(doc)
    else:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    assert DNS_1123.fullmatch(doc["metadata"]["name"]), doc["metadata"]["name"]


def test_the_vendored_crd_is_a_valid_crd_for_rayjob_v1() -> None:
    crd = _crd()
    kubernetes_validate.validate(crd, K8S_VERSION, strict=True)
    assert crd["metadata"]["name"] == "rayjobs.ray.io" and crd["spec"]["names"]["kind"] == "RayJob"
    text = RAYJOB_CRD_PATH.read_text()
    assert "Licence: Apache-2.0" in text and "github.com/ray-project/kuberay/blob/" in text
    assert (RAYJOB_CRD_PATH.parent / "LICENSE").read_text().lstrip().startswith("Apache License")
    # exactly the four core subtrees are elided, each checked against its core type
    elided = re.findall(r"core type io\.k8s\.api\.core\.v1\.(\w+)'", text)
    assert sorted(elided) == ["PodTemplateSpec"] * 3 + ["Service"]


def test_the_deploy_rayjob_validates() -> None:
    """deploy/rayjob-evaluate.yaml itself, not only its rendered copies."""
    (job,) = list(yaml.safe_load_all((ROOT / "deploy/rayjob-evaluate.yaml").read_text()))
    validate(job)


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


def _worker(j: dict[str, Any]) -> dict[str, Any]:
    group: dict[str, Any] = j["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
    return group


def _head_container(j: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = j["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"][
        "containers"
    ][0]
    return c


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        # wrong field types
        (lambda j: _worker(j).__setitem__("replicas", "4"), "'4' is not of type 'integer'"),
        (
            lambda j: j["spec"]["rayClusterSpec"]["headGroupSpec"]["rayStartParams"].__setitem__(
                "num-cpus", 0
            ),
            "0 is not of type 'string'",
        ),
        (lambda j: j["spec"].__setitem__("shutdownAfterJobFinishes", "yes"), "not of type"),
        (lambda j: j["spec"].__setitem__("activeDeadlineSeconds", 2**31), "maximum"),
        # unknown fields
        (lambda j: _worker(j).__setitem__("replica", 3), "'replica' was unexpected"),
        (
            lambda j: j["spec"].__setitem__("submitMode", "K8sJobMode"),
            "'submitMode' was unexpected",
        ),
        # required fields missing
        (lambda j: _worker(j).pop("groupName"), "'groupName' is a required property"),
        (lambda j: _worker(j).pop("minReplicas"), "'minReplicas' is a required property"),
        (lambda j: j["spec"].pop("entrypoint"), "'entrypoint' is a required property"),
        # inside the elided pod templates: Kubernetes' own PodTemplateSpec
        (
            lambda j: _head_container(j).__setitem__("resource", {}),
            "not a valid core/v1 PodTemplateSpec",
        ),
        (
            lambda j: _worker(j)["template"]["spec"].pop("containers"),
            "not a valid core/v1 PodTemplateSpec",
        ),
        (
            lambda j: j["spec"]["rayClusterSpec"]["headGroupSpec"].__setitem__(
                "headService", {"spec": {"ports": [{"port": "http"}]}}
            ),
            "not a valid core/v1 Service",
        ),
    ],
)
def test_the_validator_rejects_broken_rayjobs(break_it: Any, reason: str) -> None:
    job = copy.deepcopy(next(d for d in _docs("prod") if d["kind"] == "RayJob"))
    validate(copy.deepcopy(job))
    break_it(job)
    with pytest.raises(INVALID) as info:
        validate(job)
    assert reason in str(info.value)


def test_what_the_crd_does_not_check() -> None:
    """KubeRay's CRD at this version declares submissionMode a free string (the operator rejects
    an unknown mode when it reconciles, not the API server), so an offline check cannot either."""
    job = copy.deepcopy(next(d for d in _docs("prod") if d["kind"] == "RayJob"))
    job["spec"]["submissionMode"] = "Batch"
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
        # the command line (ENTRYPOINT + args) and its --port: tests/deploy/test_k8s_commands.py
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
