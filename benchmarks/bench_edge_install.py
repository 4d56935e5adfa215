"""The edge wheel against the full install (issue 21 item 4, docs/deploy.md "The edge wheel"):
saferoad's wheel is built once and installed into two fresh venvs, each dependency at its
requirements.lock version and bytecode compiled as `make install` does:

- edge:  the wheel alone (the base distribution: the edge recorder's dependencies);
- full:  the wheel with `[cloud]` (what the cloud images and `make install` carry, less the dev
         tools) - the baseline, measured in the same run.

Prints the wheel's size; per venv the install time (uv's cache warm), the distributions and the
size on disk (every file once, hard links to uv's cache included: what a device would hold);
and the wall time of `saferoad edge --help` and of `saferoad edge --replay REC --check` (the
edge command path's real imports, config and source check) in each, interleaved, best and median
of N, against a bare `python -c pass` from the same venv.

    .venv/bin/python benchmarks/bench_edge_install.py [--repeat 7] [--check-repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _edge_wheel() -> ModuleType:
    spec = importlib.util.spec_from_file_location("edge_wheel", ROOT / "scripts/edge_wheel.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree_bytes(path: Path) -> int:
    """Size of every regular file under PATH, each inode once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            key = (st.st_dev, st.st_ino)
            if key in seen or not os.path.isfile(os.path.join(dirpath, name)):
                continue
            seen.add(key)
            total += st.st_size
    return total


def _wall(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                   cwd=cwd, timeout=300)  # fmt: skip
    return time.perf_counter() - t0


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7, help="runs of each --help case")
    ap.add_argument("--check-repeat", type=int, default=3, help="runs of each edge --check case")
    ap.add_argument("--keep", type=Path, help="build here and keep the venvs (default: a temp dir)")
    args = ap.parse_args()
    ew = _edge_wheel()

    with tempfile.TemporaryDirectory(prefix="bench-edge-install-") as tmp_name:
        work = args.keep or Path(tmp_name)
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        wheel = ew.build_wheel(work / "dist")
        build_s = time.perf_counter() - t0
        print(f"wheel: {wheel.name} {wheel.stat().st_size / 1e6:.2f} MB "
              f"({_mib(wheel.stat().st_size)}), built in {build_s:.1f} s")  # fmt: skip

        venvs = {"edge": work / "venv-edge", "full": work / "venv-full"}
        sizes: dict[str, int] = {}
        for name, venv in venvs.items():
            t0 = time.perf_counter()
            ew.make_venv(venv, wheel, cloud=name == "full", compile_bytecode=True)
            install_s = time.perf_counter() - t0
            dists = ew.installed(venv)
            sizes[name] = _tree_bytes(venv)
            print(f"{name:5s} venv: {len(dists)} distributions, {_mib(sizes[name])} on disk, "
                  f"installed in {install_s:.1f} s (uv cache warm, bytecode compiled)")  # fmt: skip
        print(f"edge venv = {sizes['edge'] / sizes['full']:.2f} of the full one "
              f"({_mib(sizes['full'] - sizes['edge'])} less)")  # fmt: skip

        rec = work / "rec"
        subprocess.run(
            [str(venvs["edge"] / "bin" / "saferoad"), "simulate", "harsh_braking", "-o", str(rec),
             "--set", "duration_s=20", "--no-video"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        cases: dict[str, tuple[list[str], int]] = {}
        for name, venv in venvs.items():
            b = venv / "bin"
            cases[f"{name}: python -c pass"] = ([str(b / "python"), "-c", "pass"], args.repeat)
            cases[f"{name}: saferoad edge --help"] = (
                [str(b / "saferoad"), "edge", "--help"], args.repeat,
            )  # fmt: skip
            cases[f"{name}: saferoad edge --replay REC --check"] = (
                [str(b / "saferoad"), "edge", "--replay", str(rec), "--check"], args.check_repeat,
            )  # fmt: skip
        times: dict[str, list[float]] = {k: [] for k in cases}
        for cmd, _n in cases.values():  # warm the file cache once, not timed
            _wall(cmd, env, work)
        for i in range(max(args.repeat, args.check_repeat)):
            for name, (cmd, n) in cases.items():  # interleaved: other jobs' load hits all alike
                if i < n:
                    times[name].append(_wall(cmd, env, work))
        load = os.getloadavg()
        print(f"cores: {os.cpu_count()}; load average {load[0]:.1f}; interleaved runs")
        med = {k: statistics.median(v) for k, v in times.items()}
        for name, ts in times.items():
            venv_name = name.split(":")[0]
            base = med[f"{venv_name}: python -c pass"]
            print(f"{name:44s} best {min(ts):.3f} s  median {med[name]:.3f} s  "
                  f"(+{med[name] - base:.3f} s over bare python, n={len(ts)})")  # fmt: skip
        for what in ("saferoad edge --help", "saferoad edge --replay REC --check"):
            e, f = med[f"edge: {what}"], med[f"full: {what}"]
            print(f"{what}: edge {e:.3f} s vs full {f:.3f} s (median; edge/full {e / f:.2f})")


if __name__ == "__main__":
    sys.exit(main())
