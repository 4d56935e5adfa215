"""The edge wheel: build saferoad's wheel and install it into a fresh venv, with or without the
cloud extra, every dependency at its requirements.lock version (docs/deploy.md, "The edge wheel").

    python scripts/edge_wheel.py build DIST             # DIST/saferoad-<version>-py3-none-any.whl
    python scripts/edge_wheel.py venv VENV WHEEL        # the edge install: no cloud extra
    python scripts/edge_wheel.py venv VENV WHEEL --cloud
    python scripts/edge_wheel.py cloud                  # the cloud extra's distributions and modules

Used by tests/deploy/test_edge_wheel.py and benchmarks/bench_edge_install.py. The wheel is built
from a copy of pyproject.toml, README.md and src/ (without caches or egg-info), so the build
writes nothing into the checkout; it uses this venv's setuptools (no build isolation: nothing is
downloaded to build) when there is one. Installing uses uv's cache, and the package registry for what it lacks.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
UV = Path(sys.executable).parent / "uv"


def _uv() -> str:
    return str(UV) if UV.exists() else (shutil.which("uv") or "uv")


def _extras(name: str) -> list[Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [Requirement(r) for r in pyproject["project"]["optional-dependencies"][name]]


def _base() -> list[Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [Requirement(r) for r in pyproject["project"]["dependencies"]]


def _closure(reqs: list[Requirement]) -> set[str]:
    """Every distribution the requirements pull in (as installed in this venv), by canonical
    name: markers evaluated for this interpreter, requested extras followed."""
    seen: set[str] = set()
    todo = [(r, "") for r in reqs]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        key = name + "[" + ",".join(sorted(req.extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = md.requires(req.name) or []
        except md.PackageNotFoundError:
            continue
        for text in requires:
            sub = Requirement(text)
            if sub.marker is None:
                todo.append((sub, ""))
                continue
            for e in ["", *req.extras]:
                if sub.marker.evaluate({"extra": e}):
                    todo.append((sub, e))
                    break
    return {k.split("[")[0] for k in seen}


def cloud_distributions() -> set[str]:
    """The distributions only the cloud extra brings: its closure less the base's."""
    return _closure(_extras("cloud")) - _closure(_base()) - {"saferoad"}


def cloud_modules() -> set[str]:
    """Top-level import names of the cloud-only distributions (as installed in this venv)."""
    cloud = cloud_distributions()
    return {
        module
        for module, dists in md.packages_distributions().items()
        if all(canonicalize_name(d) in cloud for d in dists)
    }


def lock_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if m:
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def build_wheel(dist: Path) -> Path:
    """Build the wheel into DIST from a clean copy of the project; return its path."""
    dist.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="saferoad-wheel-") as tmp:
        src = Path(tmp) / "project"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, src / name)
        shutil.copytree(
            ROOT / "src",
            src / "src",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
        )
        # this venv's setuptools (in the lock through grpcio-tools) when it has one; else uv
        # fetches the build requirements into an isolated environment
        isolation = (
            [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
        )
        res = subprocess.run(
            [_uv(), "build", "--wheel", *isolation, "--python", sys.executable,
             "--out-dir", str(dist), str(src)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if res.returncode != 0:
            raise RuntimeError(f"uv build failed:\n{res.stdout}\n{res.stderr}")
    wheels = sorted(dist.glob("saferoad-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise RuntimeError(f"no saferoad wheel in {dist}")
    return wheels[-1]


def make_venv(venv: Path, wheel: Path, cloud: bool = False, compile_bytecode: bool = False) -> None:
    """A fresh venv at VENV holding the wheel (with the cloud extra if asked) and its
    dependencies, each at the lock's version (-c requirements.lock)."""
    base = sys.base_prefix
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"  # this venv's, not a fixed one
    python = shutil.which(version, path=str(Path(base) / "bin")) or sys.executable
    subprocess.run(
        [_uv(), "venv", "--quiet", "--python", python, str(venv)],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    target = f"{wheel}[cloud]" if cloud else str(wheel)
    cmd = [_uv(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
           "-c", str(LOCK)]  # fmt: skip
    if compile_bytecode:
        cmd.append("--compile-bytecode")
    res = subprocess.run([*cmd, target], capture_output=True, text=True, timeout=900)
    if res.returncode != 0:
        raise RuntimeError(f"uv pip install {target} failed:\n{res.stdout}\n{res.stderr}")


def installed(venv: Path) -> dict[str, str]:
    """canonical name -> version of every distribution in VENV."""
    out = subprocess.run(
        [_uv(), "pip", "list", "--python", str(venv / "bin" / "python"), "--format", "json"],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    return {canonicalize_name(d["name"]): d["version"] for d in json.loads(out)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("dist", type=Path)
    v = sub.add_parser("venv")
    v.add_argument("venv", type=Path)
    v.add_argument("wheel", type=Path)
    v.add_argument("--cloud", action="store_true")
    sub.add_parser("cloud")
    args = p.parse_args()
    if args.cmd == "build":
        print(build_wheel(args.dist))
    elif args.cmd == "venv":
        make_venv(args.venv, args.wheel, cloud=args.cloud)
        print(json.dumps(installed(args.venv), indent=1))
    else:
        print(json.dumps({"distributions": sorted(cloud_distributions()),
                          "modules": sorted(cloud_modules())}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
