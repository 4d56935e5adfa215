"""The rendered Deployments, Job and RayJob start the images: each container's command line, as
Kubernetes builds it from the image (deploy/Dockerfile's ENTRYPOINT/CMD for the image's target)
and the container's `command`/`args`, parses with saferoad's own CLI (the Click parser Typer runs it
with, vendored in Typer 0.29: make_context checks every option and argument and starts nothing), and every variable the command reads a secret from
(`--token-env VAR`, `os.environ['VAR']`) is set in the container from a Secret.

Without this, `saferoad web ... web ...` (args repeating the ENTRYPOINT's subcommand), a model
server with no --model and gRPC services without their tokens all rendered, validated against
the schemas, and exited at start (found only by building the images: scripts/build_images.sh)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.core
import yaml

from saferoad.entrypoints.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy/Dockerfile"
OVERLAYS = sorted(p.stem for p in (ROOT / "deploy/k8s/overlays").glob("*.yaml"))
IMAGE = re.compile(r"registry\.example\.com/saferoad-([a-z-]+):\S+")
# the external base image's ENTRYPOINT and CMD (python:3.11-slim: none, ["python3"])
BASE_IMAGE = {"entrypoint": None, "cmd": ["python3"]}


def dockerfile_targets(text: str) -> dict[str, dict[str, list[str] | None]]:
    """Each stage's effective ENTRYPOINT and CMD (exec form), following FROM <stage> chains.
    As Docker does: a stage that sets ENTRYPOINT resets the CMD it inherited."""
    joined = re.sub(r"\\\n", " ", text)
    stages: dict[str, dict[str, list[str] | None]] = {}
    current: dict[str, list[str] | None] | None = None
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", rest.strip(), re.IGNORECASE)
            assert m, f"deploy/Dockerfile: a stage without a name: {line}"
            parent = stages.get(m.group(1), BASE_IMAGE)
            current = {"entrypoint": parent["entrypoint"], "cmd": parent["cmd"]}
            stages[m.group(2)] = current
        elif word in ("ENTRYPOINT", "CMD") and current is not None:
            value = json.loads(rest)  # exec form only (the shell form would run /bin/sh -c)
            assert isinstance(value, list), f"deploy/Dockerfile: {word} not in exec form: {line}"
            if word == "ENTRYPOINT":
                current["entrypoint"], current["cmd"] = value, None
            else:
                current["cmd"] = value
    return stages


def kubernetes_argv(container: dict[str, Any], target: dict[str, list[str] | None]) -> list[str]:
    """The process Kubernetes starts: `command` replaces the ENTRYPOINT (and drops the CMD);
    `args` replace the CMD; an unset or empty list counts as not given."""
    command = container.get("command") or None
    args = container.get("args") or None
    if command is not None:
        return [*command, *(args or [])]
    return [*(target["entrypoint"] or []), *(args if args is not None else target["cmd"] or [])]


def parse_saferoad(argv: list[str]) -> typer.Context:
    """Parse ``saferoad ARGS`` with the real CLI down to the subcommand, as its main() would,
    without invoking it; raises Click's UsageError, a typer.TyperException (missing option,
    extra argument, no such option)."""
    assert argv[0] == "saferoad", argv
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    ctx = group.make_context("saferoad", list(argv[1:]))
    rest = [*ctx._protected_args, *ctx.args]  # what the group leaves to its subcommand
    name, sub, sub_args = group.resolve_command(ctx, rest)
    assert sub is not None and name is not None, argv
    return sub.make_context(name, sub_args, parent=ctx)


def secret_vars(container: dict[str, Any]) -> set[str]:
    return {
        e["name"]
        for e in container.get("env", [])
        if e.get("valueFrom", {}).get("secretKeyRef", {}).get("key")
        and e["valueFrom"]["secretKeyRef"].get("name")
    }


def check_container(container: dict[str, Any], targets: dict[str, Any]) -> list[str]:
    """The command line a container runs, after checking it parses and has its secrets."""
    m = IMAGE.fullmatch(container["image"])
    assert m, container["image"]
    assert m.group(1) in targets, f"no deploy/Dockerfile target {m.group(1)}"
    argv = kubernetes_argv(container, targets[m.group(1)])
    assert argv, f"{container['name']}: nothing to run"
    needed: set[str] = set()
    if argv[0] == "saferoad":
        ctx = parse_saferoad(argv)
        if ctx.params.get("token_env"):
            needed.add(ctx.params["token_env"])
    else:  # the migrate Job: python -c CODE reading os.environ['VAR']
        assert argv[:2] == ["python", "-c"] and len(argv) == 3, argv
        compile(argv[2], "<migrate>", "exec")
        needed |= set(re.findall(r"os\.environ\[['\"](\w+)['\"]\]", argv[2]))
        assert needed, argv
    missing = needed - secret_vars(container)
    assert not missing, f"{container['name']}: {sorted(missing)} not set from a Secret"
    return argv


def check_rendered(docs: list[dict[str, Any]], targets: dict[str, Any]) -> dict[str, list[str]]:
    """Every Deployment/Job container checked; the RayJob's entrypoint parsed the same way."""
    out: dict[str, list[str]] = {}
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            for c in doc["spec"]["template"]["spec"]["containers"]:
                out[f"{doc['kind']}/{doc['metadata']['name']}"] = check_container(c, targets)
        elif doc["kind"] == "RayJob":
            # a shell line run by `ray job submit`: $(...) is the shell's, one word here
            line = re.sub(r"\$\([^)]*\)", "X", doc["spec"]["entrypoint"])
            argv = shlex.split(line)
            parse_saferoad(argv)
            out[f"RayJob/{doc['metadata']['name']}"] = argv
    return out


TARGETS = dockerfile_targets(DOCKERFILE.read_text())


def _docs(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((ROOT / "deploy/k8s/rendered" / f"{name}.yaml").read_text()))


def test_the_dockerfile_parse() -> None:
    assert TARGETS["web"]["entrypoint"] == [
        "saferoad",
        "web",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
    ]
    assert TARGETS["web"]["cmd"] is None  # ENTRYPOINT reset the base image's CMD
    assert TARGETS["eval-worker"] == {"entrypoint": None, "cmd": ["saferoad", "--help"]}
    assert TARGETS["runtime"] == BASE_IMAGE


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_rendered_container_parses_with_the_cli(name: str) -> None:
    argv = check_rendered(_docs(name), TARGETS)
    assert {k.split("/")[0] for k in argv} == {"Deployment", "Job", "RayJob"}
    assert len([k for k in argv if k.startswith("Deployment/")]) == 3
    # each service's subcommand once, listening on the port its probe and Service use
    ports = {
        f"Deployment/{d['metadata']['name']}": d["spec"]["template"]["spec"]["containers"][0][
            "ports"
        ][0]["containerPort"]
        for d in _docs(name)
        if d["kind"] == "Deployment"
    }
    for key, port in ports.items():
        line = argv[key]
        assert line.count(line[1]) == 1 and line.count("--port") == 1, line
        assert line[line.index("--port") + 1] == str(port), line


def test_kubernetes_argv_rules() -> None:
    target = {"entrypoint": ["saferoad", "web"], "cmd": ["--x"]}
    assert kubernetes_argv({}, target) == ["saferoad", "web", "--x"]
    assert kubernetes_argv({"args": []}, target) == ["saferoad", "web", "--x"]
    assert kubernetes_argv({"args": ["-a"]}, target) == ["saferoad", "web", "-a"]
    assert kubernetes_argv({"command": ["sh"]}, target) == ["sh"]
    assert kubernetes_argv({"command": ["sh"], "args": ["-c"]}, target) == ["sh", "-c"]


def _prod_container(name: str) -> dict[str, Any]:
    (dep,) = [
        d for d in _docs("prod") if d["metadata"]["name"] == name and d["kind"] == "Deployment"
    ]
    c: dict[str, Any] = dep["spec"]["template"]["spec"]["containers"][0]
    return c


@pytest.mark.parametrize(
    ("service", "break_it", "reason"),
    [
        # the bug this test was written for: args repeating the ENTRYPOINT's subcommand
        ("saferoad-web", lambda c: c.__setitem__("args", ["web"]), "unexpected extra argument"),
        (
            "saferoad-model-server",
            lambda c: c.__setitem__("args", ["serve-model", "--model", "yolox-nano"]),
            "unexpected extra argument",
        ),
        ("saferoad-model-server", lambda c: c.pop("args"), "Missing parameter: model"),
        (
            "saferoad-analysis",
            lambda c: c.__setitem__("args", ["--detctor", "grpc"]),
            "No such option",
        ),
        ("saferoad-analysis", lambda c: c.__setitem__("env", []), "SAFEROAD_ANALYSIS_TOKEN"),
        (
            "saferoad-model-server",
            lambda c: c.__setitem__(
                "env", [{"name": "SAFEROAD_INFERENCE_TOKEN", "value": "in-the-manifest"}]
            ),
            "not set from a Secret",
        ),
    ],
)
def test_a_broken_command_line_is_caught(service: str, break_it: Any, reason: str) -> None:
    c = _prod_container(service)
    check_container(c, TARGETS)
    break_it(c)
    with pytest.raises((typer.TyperException, AssertionError), match=reason):
        check_container(c, TARGETS)
