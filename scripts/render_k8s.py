#!/usr/bin/env python3
"""Render saferoad's Kubernetes manifests for one overlay (deploy/k8s/overlays/NAME.yaml).

    python scripts/render_k8s.py prod > deploy/k8s/rendered/prod.yaml
    python scripts/render_k8s.py --write        # every overlay into deploy/k8s/rendered/

Helm and kustomize are not installable offline here, so this plays `helm template`: plain
manifests built from a handful of values (namespace, image tag, replicas, HPA range). The
evaluation RayJob is deploy/rayjob-evaluate.yaml with the overlay's image and namespace.
The rendered files are checked in; tests/deploy/test_k8s.py re-renders and validates them
against the bundled Kubernetes schemas (kubernetes-validate) and KubeRay's RayJob CRD
(deploy/schemas/kuberay/). See docs/deploy.md.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"
RENDERED = ROOT / "deploy" / "k8s" / "rendered"
RAYJOB = ROOT / "deploy" / "rayjob-evaluate.yaml"
REGISTRY = "registry.example.com"
APP = "saferoad"

# service name (also its image target) -> args, port, probe, requests, limits, whether it needs the
# DB, the token variables it reads (each from the Secret TOKEN_SECRET) and plain env.
# `args` are APPENDED to the image's ENTRYPOINT (deploy/Dockerfile: `saferoad <command> --host
# 0.0.0.0 --port P --token-env VAR`), as Kubernetes does when a container sets no `command`: only
# what the ENTRYPOINT lacks goes here (tests/deploy/test_k8s_commands.py joins the two and parses
# the result with saferoad's own CLI).
MODEL = "yolox-nano"  # the bundled card; its ONNX file from the models volume (MODELS_MOUNT)
SHARED_DIR = "/var/lib/saferoad/shared"  # $SAFEROAD_SHARED: the card's file is under its models/
MODELS_CLAIM = (
    "saferoad-models"  # a ReadOnlyMany PVC holding the model files, created by the operator
)
SERVICES: dict[str, dict[str, Any]] = {
    "web": {
        "args": [],
        "port": 8080,
        "probe": {"httpGet": {"path": "/api/v1/ingest/health", "port": 8080}},
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
        "db": True,
        "tokens": [],
    },
    "analysis": {
        # detection on the model server (as `saferoad up` wires it); its token is the client's
        # inference.token_env (SAFEROAD_INFERENCE_TOKEN by default)
        "args": [
            "--detector",
            "grpc",
            "--inference-url",
            f"grpc://{APP}-model-server:8001/{MODEL}",
        ],
        "port": 50051,
        "probe": {"grpc": {"port": 50051}},
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "4", "memory": "8Gi"},
        "db": False,
        "tokens": ["SAFEROAD_ANALYSIS_TOKEN", "SAFEROAD_INFERENCE_TOKEN"],
    },
    "model-server": {
        "args": ["--model", MODEL],
        "port": 8001,
        "probe": {"grpc": {"port": 8001}},
        "requests": {"cpu": "2", "memory": "2Gi"},
        "limits": {"cpu": "4", "memory": "4Gi"},
        "db": False,
        "tokens": ["SAFEROAD_INFERENCE_TOKEN"],
        "models": True,
    },
}
# Secret keys of the bearer tokens (created by the operator, like the database URL's Secret)
TOKEN_SECRET = f"{APP}-tokens"
TOKEN_KEYS = {"SAFEROAD_INFERENCE_TOKEN": "inference", "SAFEROAD_ANALYSIS_TOKEN": "analysis"}
DB_SECRET = {"name": "saferoad-db", "key": "url"}  # created by the operator; PostgreSQL is external


def image(target: str, tag: str) -> str:
    return f"{REGISTRY}/{APP}-{target}:{tag}"


def dns_label(text: str) -> str:
    """``text`` as a DNS-1123 label part (a Job per release: Jobs are immutable)."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40] or "x"


def labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": APP, "app.kubernetes.io/component": component}


def security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": False,
        "capabilities": {"drop": ["ALL"]},
    }


def db_env() -> list[dict[str, Any]]:
    return [{"name": "SAFEROAD_DB_URL", "valueFrom": {"secretKeyRef": dict(DB_SECRET)}}]


def token_env(var: str) -> dict[str, Any]:
    return {
        "name": var,
        "valueFrom": {"secretKeyRef": {"name": TOKEN_SECRET, "key": TOKEN_KEYS[var]}},
    }


def deployment(name: str, spec: dict[str, Any], ns: str, tag: str, replicas: int) -> dict[str, Any]:
    probe = spec["probe"]
    container: dict[str, Any] = {
        "name": name,
        "image": image(name, tag),
        "ports": [{"name": "http" if name == "web" else "grpc", "containerPort": spec["port"]}],
        "resources": {"requests": spec["requests"], "limits": spec["limits"]},
        "readinessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "livenessProbe": {
            **probe,
            "initialDelaySeconds": 30,
            "periodSeconds": 20,
            "failureThreshold": 3,
        },
        "securityContext": security(),
    }
    if spec["args"]:  # none: the image's ENTRYPOINT alone (its CMD is empty)
        container["args"] = list(spec["args"])
    env = (db_env() if spec["db"] else []) + [token_env(v) for v in spec["tokens"]]
    pod: dict[str, Any] = {"containers": [container], "securityContext": {"fsGroup": 1000}}
    if spec.get("models"):
        env.append({"name": "SAFEROAD_SHARED", "value": SHARED_DIR})
        container["volumeMounts"] = [
            {"name": "models", "mountPath": f"{SHARED_DIR}/models", "readOnly": True}
        ]
        pod["volumes"] = [
            {
                "name": "models",
                "persistentVolumeClaim": {"claimName": MODELS_CLAIM, "readOnly": True},
            }
        ]
    if env:
        container["env"] = env
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{APP}-{name}", "namespace": ns, "labels": labels(name)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels(name)},
            "template": {
                "metadata": {"labels": labels(name)},
                "spec": pod,
            },
        },
    }


def service(name: str, spec: dict[str, Any], ns: str) -> dict[str, Any]:
    port_name = "http" if name == "web" else "grpc"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{APP}-{name}", "namespace": ns, "labels": labels(name)},
        "spec": {
            "selector": labels(name),
            "ports": [{"name": port_name, "port": spec["port"], "targetPort": port_name}],
        },
    }


def migrate_job(ns: str, tag: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"{APP}-migrate-{dns_label(tag)}",
            "namespace": ns,
            "labels": labels("migrate"),
        },
        "spec": {
            "backoffLimit": 2,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": labels("migrate")},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "migrate",
                            "image": image("migrate", tag),
                            "env": db_env(),
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"cpu": "500m", "memory": "512Mi"},
                            },
                            "securityContext": security(),
                        }
                    ],
                },
            },
        },
    }


def hpa(ns: str, lo: int, hi: int, cpu_percent: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": f"{APP}-model-server",
            "namespace": ns,
            "labels": labels("model-server"),
        },
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": f"{APP}-model-server",
            },
            "minReplicas": lo,
            "maxReplicas": hi,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu_percent},
                    },
                }
            ],
        },
    }


def rayjob(ns: str, tag: str) -> dict[str, Any]:
    job: dict[str, Any] = copy.deepcopy(yaml.safe_load(RAYJOB.read_text()))
    job["metadata"]["namespace"] = ns
    cluster = job["spec"]["rayClusterSpec"]
    for pod in [cluster["headGroupSpec"]["template"]] + [
        g["template"] for g in cluster["workerGroupSpecs"]
    ]:
        for c in pod["spec"]["containers"]:
            c["image"] = image("eval-worker", tag)
    return job


def render(overlay: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("namespace", "tag", "replicas", "hpa"):
        if key not in overlay:
            raise ValueError(f"overlay: missing field '{key}'")
    ns, tag = str(overlay["namespace"]), str(overlay["tag"])
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    ]
    docs.append(migrate_job(ns, tag))
    for name, spec in SERVICES.items():
        if name not in overlay["replicas"]:
            raise ValueError(f"overlay: replicas: missing field '{name}'")
        docs.append(deployment(name, spec, ns, tag, int(overlay["replicas"][name])))
        docs.append(service(name, spec, ns))
    h = overlay["hpa"]
    docs.append(hpa(ns, int(h["min"]), int(h["max"]), int(h["cpu_percent"])))
    docs.append(rayjob(ns, tag))
    return docs


def render_text(name: str) -> str:
    path = OVERLAYS / f"{name}.yaml"
    overlay = yaml.safe_load(path.read_text())
    if not isinstance(overlay, dict):
        raise ValueError(f"{path}: line 1: expected a mapping of values")
    head = (
        f"# Rendered by scripts/render_k8s.py from deploy/k8s/overlays/{name}.yaml; do not edit.\n"
    )
    return head + yaml.safe_dump_all(render(overlay), sort_keys=False, width=100)


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        RENDERED.mkdir(parents=True, exist_ok=True)
        for path in sorted(OVERLAYS.glob("*.yaml")):
            (RENDERED / path.name).write_text(render_text(path.stem))
            print(f"wrote {RENDERED / path.name}")
        return 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    sys.stdout.write(render_text(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
