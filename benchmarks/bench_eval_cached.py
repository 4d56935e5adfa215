"""``saferoad evaluate --baseline --candidate`` with every result already cached, on 200
simulated sensor-only trips: the whole command's wall and CPU time, with and without Python
bytecode for the installed packages, interleaved in the same run.

    .venv/bin/python benchmarks/bench_eval_cached.py [--trips 200] [--repeat 3]

Target (issue 19): under 10 s for 200 trips. The trips are bench_eval_scale's
(``simulate_fleet(video=False)``, kept under ``$TMPDIR/saferoad-bench-eval/``); the first
evaluation fills the cache (not timed). ``SAFEROAD_CODE_VERSION`` is pinned so that edits to
the source tree between runs do not invalidate the cache.

"without bytecode" is this machine's default: ``PYTHONDONTWRITEBYTECODE=1`` in the environment
and a venv installed by uv without ``--compile-bytecode``, so every process (the CLI and each
worker) compiles every module it imports from source. "with bytecode" points
``PYTHONPYCACHEPREFIX`` at a cache filled by a first, untimed run: what a venv installed with
``uv pip install --compile-bytecode`` (the Makefile now does) gives.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_eval_scale import make_trips


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s of the command and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode not in (0, 1):  # 1: the gate failed, a valid outcome
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr[-2000:]}")
    if " computed" in res.stdout and "0 computed" not in res.stdout.replace("\n", " "):
        raise SystemExit("a result was computed: the cache was not complete")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trips", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    manifest = make_trips(args.trips, 0)
    tmp = Path(tempfile.mkdtemp(prefix="bench-eval-cached-"))
    (tmp / "base.toml").write_text("")
    (tmp / "cand.toml").write_text("[motion]\nbraking_g = 0.35\n")
    exe = str(Path(sys.executable).parent / "saferoad")
    cmd = [exe, "evaluate", str(manifest), "-o", str(tmp / "out"), "--baseline", str(tmp / "base.toml"),
           "--candidate", str(tmp / "cand.toml"), "--workers", "2"]  # fmt: skip
    base_env = {**os.environ, "SAFEROAD_CODE_VERSION": "bench-eval-cached", "SAFEROAD_EVAL_LOG_LEVEL": "ERROR"}
    no_pyc = {**base_env, "PYTHONDONTWRITEBYTECODE": "1"}
    no_pyc.pop("PYTHONPYCACHEPREFIX", None)
    pyc = {**base_env, "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
    pyc.pop("PYTHONDONTWRITEBYTECODE", None)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=pyc, capture_output=True, check=False)  # fills the result and bytecode caches
    print(f"first run (computes {2 * args.trips} analyses, writes bytecode): {time.perf_counter() - t0:.1f} s")
    load = os.getloadavg()
    times: dict[str, list[tuple[float, float]]] = {"without bytecode": [], "with bytecode": []}
    imports: dict[str, list[tuple[float, float]]] = {"without bytecode": [], "with bytecode": []}
    imp = [sys.executable, "-c", "import saferoad.application.evaluation.service, saferoad.application.evaluation.report"]
    for _ in range(args.repeat):
        times["without bytecode"].append(_run(cmd, no_pyc))
        times["with bytecode"].append(_run(cmd, pyc))
        imports["without bytecode"].append(_run(imp, no_pyc))
        imports["with bytecode"].append(_run(imp, pyc))
    print(f"cores: {os.cpu_count()}; load average {load[0]:.1f}; {args.trips} trips, every result cached, {args.repeat} runs each, interleaved")
    for name, ts in times.items():
        wall = statistics.median(t[0] for t in ts)
        cpu = statistics.median(t[1] for t in ts)
        print(f"  {name:17s} wall median {wall:5.1f} s (best {min(t[0] for t in ts):.1f}), CPU median {cpu:5.1f} s")
    print("  target: under 10 s wall")
    for name, ts in imports.items():
        print(f"  importing the evaluation stack, {name}: wall median {statistics.median(t[0] for t in ts):.1f} s")


if __name__ == "__main__":
    main()
