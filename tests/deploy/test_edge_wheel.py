"""The edge as one installable wheel (issue 21 item 4, docs/deploy.md "The edge wheel").

saferoad's base distribution carries only the edge recorder's dependencies; the cloud services'
are the extra ``saferoad[cloud]``. Checked two ways:

- in this (full) venv, ``saferoad edge --replay`` and ``edge --check`` run in a subprocess whose
  meta path refuses every module of a cloud-only distribution (the cloud extra's dependency
  closure less the base's, read from pyproject.toml and the installed metadata): they succeed
  and ``sys.modules`` holds none of them;
- the wheel, built from this tree, is installed into a fresh venv with only its own
  dependencies (each at its requirements.lock version) and replays a simulated drive there.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from saferoad.entrypoints.cli.app import CLOUD_MODULES
from saferoad.entrypoints.wiring import simulate

ROOT = Path(__file__).resolve().parents[2]


def _edge_wheel() -> ModuleType:
    spec = importlib.util.spec_from_file_location("edge_wheel", ROOT / "scripts/edge_wheel.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EW = _edge_wheel()


def _ingest_server_module() -> ModuleType:
    """tests/edge/conftest.py's loopback ingest server (device ingest API v1 contract)."""
    path = ROOT / "tests/edge/conftest.py"
    spec = importlib.util.spec_from_file_location("edge_ingest_server", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def ingest_server() -> Iterator[Any]:
    srv = _ingest_server_module().IngestServer()
    srv.start()
    yield srv
    srv.stop()


# Run `saferoad ARGS` with the named top-level modules unimportable; print what happened.
_PROBE = """
import importlib.abc, json, sys
BLOCK = frozenset(json.loads(sys.argv[1]))
attempts = {}  # refused module -> the module whose code asked for it

def _importer():
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith("<frozen"):
        frame = frame.f_back
    return frame.f_globals.get("__name__", "?") if frame is not None else "?"

class CloudBlocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCK:
            attempts.setdefault(name, _importer())
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: cloud)", name=name)
        return None

sys.meta_path.insert(0, CloudBlocker())
from saferoad.entrypoints.cli.app import main
sys.argv = ["saferoad", *sys.argv[2:]]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
loaded = sorted({m.partition(".")[0] for m in sys.modules} & BLOCK)
print("\\nPROBE " + json.dumps({"code": code, "loaded": loaded, "attempts": attempts}))
"""


def _probe(
    args: list[str], block: set[str], shared: Path, token: str = ""
) -> tuple[dict[str, object], str]:
    env = {**os.environ, "SAFEROAD_SHARED": str(shared), "SAFEROAD_DEVICE_TOKEN": token}
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(sorted(block)), *args],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("PROBE ")]
    assert lines, (
        f"probe crashed (exit {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    )
    return json.loads(lines[-1][len("PROBE ") :]), run.stdout + run.stderr


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = tmp_path_factory.mktemp("edge-wheel") / "rec"
    simulate("harsh_braking", rec, assignments=["duration_s=20", "at_s=8"], seed=3)
    return rec


@pytest.fixture(scope="module")
def cloud_modules() -> set[str]:
    modules: set[str] = EW.cloud_modules()
    return modules


def _assert_uploaded(server: Any) -> None:
    """The trip (opened at the drive's start), its event and clip and the trip's summary
    reached the ingest server, each once."""
    kinds = [k for k, _ in server.state.arrivals]
    assert kinds[:1] == ["trip"] and sorted(kinds) == ["clip", "event", "summary", "trip"], kinds


def _events(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines() if line]


def test_cloud_set_is_the_extras_closure(cloud_modules: set[str]) -> None:
    """The blocked set covers the cloud frameworks and nothing the edge needs."""
    dists = EW.cloud_distributions()
    assert {"ray", "fastapi", "uvicorn", "sqlalchemy", "alembic", "jinja2", "matplotlib",
            "grpcio", "pandas", "starlette"} <= dists  # fmt: skip
    assert {"ray", "fastapi", "sqlalchemy", "alembic", "grpc", "jinja2", "matplotlib",
            "pandas"} <= cloud_modules  # fmt: skip
    edge = {"numpy", "scipy", "pyarrow", "onnxruntime", "opencv-python-headless", "av", "pydantic"}
    assert not dists & edge


def test_cli_names_every_cloud_extra_module() -> None:
    """app.CLOUD_MODULES (the "needs the cloud extra" message) = the import names of the
    distributions the cloud extra names directly."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    direct = {canonicalize_name(Requirement(r).name) for r in extra["cloud"]}
    direct -= EW._closure(EW._base())  # provided by the base anyway (none today)
    names = {
        module
        for module, ds in md.packages_distributions().items()
        if any(canonicalize_name(d) in direct for d in ds) and not module.startswith("_")
        and module not in {"pylab", "mpl_toolkits", "argon2", "psycopg_binary"}
    }  # fmt: skip
    assert names == set(CLOUD_MODULES)


@pytest.mark.shared
def test_edge_replay_imports_nothing_from_the_cloud(
    recording: Path, cloud_modules: set[str], shared_dir: Path, tmp_path: Path, ingest_server: Any
) -> None:
    """The device's whole path: replay, spool, clip cut, upload during the drive."""
    out = tmp_path / "out"
    result, text = _probe(
        ["edge", "--replay", str(recording), "--speed", "0", "-o", str(out),
         "--spool", str(tmp_path / "spool.db"), "--upload",
         "--set", f"edge.ingest_url={ingest_server.url}"],
        cloud_modules, shared_dir, ingest_server.token,
    )  # fmt: skip
    assert result["code"] == 0, text[-3000:]
    assert result["loaded"] == [], text[-3000:]
    # refused imports come only from third-party optional imports those libraries do without
    # (rich.pretty's attr, numpy.f2py's charset_normalizer); saferoad's code never asks for one
    attempts: dict[str, str] = result["attempts"]  # type: ignore[assignment]
    assert not {m: by for m, by in attempts.items() if by.startswith("saferoad")}, attempts
    assert [e["type"] for e in _events(out)] == ["harsh_braking"]
    _assert_uploaded(ingest_server)


@pytest.mark.shared
def test_edge_check_imports_nothing_from_the_cloud(
    recording: Path, cloud_modules: set[str], shared_dir: Path
) -> None:
    result, text = _probe(
        ["edge", "--replay", str(recording), "--check"], cloud_modules, shared_dir
    )
    assert result["code"] == 0, text[-3000:]
    assert result["loaded"] == [], text[-3000:]
    assert "configuration valid" in text


def test_blocker_catches_a_cloud_command(cloud_modules: set[str], tmp_path: Path) -> None:
    """The probe can fail: `saferoad web` needs the web stack; blocked, it stops with the
    message naming the extra (exit 2), not a traceback."""
    result, text = _probe(["web", "--port", "0"], cloud_modules, tmp_path)
    assert result["code"] == 2, text[-3000:]
    attempts: dict[str, str] = result["attempts"]  # type: ignore[assignment]
    assert any(by.startswith("saferoad.") for by in attempts.values()), attempts
    assert "saferoad[cloud]" in text and "Traceback" not in text


@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.timeout(300)
def test_wheel_installs_into_a_fresh_venv_and_replays(
    recording: Path, shared_dir: Path, tmp_path: Path, ingest_server: Any
) -> None:
    """Build the wheel, install it alone (its dependencies at the lock's versions, no cloud
    extra) into a new venv, and run the edge recorder from that venv on a simulated drive,
    spooling and uploading to a loopback ingest server."""
    wheel = EW.build_wheel(tmp_path / "dist")
    venv = tmp_path / "venv"
    EW.make_venv(venv, wheel)

    have = EW.installed(venv)
    lock = EW.lock_pins()
    assert "saferoad" in have
    assert not set(have) & EW.cloud_distributions(), sorted(set(have) & EW.cloud_distributions())
    assert not {"ray", "fastapi", "sqlalchemy", "alembic", "grpcio", "pandas", "jinja2"} & set(have)
    off_lock = {n: v for n, v in have.items() if n != "saferoad" and lock.get(n) != v}
    assert not off_lock, f"not at the lock's version: {off_lock}"

    env = {**os.environ, "SAFEROAD_SHARED": str(shared_dir),
           "SAFEROAD_DEVICE_TOKEN": ingest_server.token}  # fmt: skip
    env.pop("PYTHONPATH", None)
    exe = str(venv / "bin" / "saferoad")
    out = tmp_path / "out"
    run = subprocess.run(
        [exe, "edge", "--replay", str(recording), "--speed", "0", "-o", str(out),
         "--spool", str(tmp_path / "spool.db"), "--upload",
         "--set", f"edge.ingest_url={ingest_server.url}"],
        capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert [e["type"] for e in _events(out)] == ["harsh_braking"]
    _assert_uploaded(ingest_server)
    # the package really is the venv's copy, not this checkout's
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import saferoad; print(saferoad.__file__)"],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path, check=True,
    ).stdout.strip()  # fmt: skip
    assert where.startswith(str(venv)), where

    # a cloud command in the edge install: the extra is named, no traceback
    web = subprocess.run(
        [exe, "web", "--port", "0"], capture_output=True, text=True, timeout=120, env=env,
        cwd=tmp_path,
    )  # fmt: skip
    assert web.returncode == 2
    assert "saferoad[cloud]" in web.stderr and "Traceback" not in web.stderr
