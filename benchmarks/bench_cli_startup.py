"""CLI start-up: wall time of ``saferoad --help`` against a bare ``python -c pass`` and against
``import saferoad.config`` (what every command that reads a config pays on top), measured in the
same run, interleaved, best and median of N.

    .venv/bin/python benchmarks/bench_cli_startup.py [--repeat 15]
    .venv/bin/python benchmarks/bench_cli_startup.py --detect [--baseline SRC] [--repeat 8]

Target (issue 19): ``saferoad --help`` under 0.5 s. Which modules it loads is guarded by
tests/test_cli_startup.py; this prints the time.

``--detect``: the start-up and exit of ``saferoad detect`` on the shared 38-frame 720p clip,
as a user runs it (a child process, launch to exit, with bytecode: ``PYTHONPYCACHEPREFIX``
filled by a first run), and the part of it outside the frame loop (the wall time less
``detect.json``'s ``wall_s``), wall and the child's CPU; with ``--baseline SRC`` (an earlier
tree's ``src``: ``git archive REV src | tar -x -C DIR``) that tree alternates with this one
in the same run; ``--src SRC`` runs that tree in place of this one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAFEROAD_SHARED", REPO.parent / "shared")).resolve()
CLIP = SHARED / "data" / "video" / "highway_vehicles_720p.mp4"


def _detect_once(exe: str, env: dict[str, str], out: Path) -> dict[str, float]:
    """One ``saferoad detect CLIP -o OUT``: wall from launch to exit, the child's CPU, and
    the wall outside the frame loop (``detect.json``'s ``wall_s`` is the loop)."""
    shutil.rmtree(out, ignore_errors=True)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([exe, "detect", str(CLIP), "-o", str(out)], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    loop = json.loads((out / "detect.json").read_text())["wall_s"]
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return {"wall": wall, "cpu": cpu, "outside": wall - loop}


def bench_detect(exe: str, repeat: int, baseline: str | None, src: str | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-detect-startup-") as td:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(td) / "pycache")
        env["SAFEROAD_SHARED"] = str(SHARED)  # the models, wherever the tree is
        trees = {"this tree": dict(env)} if not src else {src: {**env, "PYTHONPATH": str(Path(src).resolve())}}
        if baseline:
            trees[f"baseline {baseline}"] = {**env, "PYTHONPATH": str(Path(baseline).resolve())}
        for e in trees.values():  # fill the bytecode cache and the file cache, not timed
            _detect_once(exe, e, Path(td) / "warm")
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
        for i in range(repeat):  # interleaved, the order alternating: load hits both alike
            for name in list(trees) if i % 2 == 0 else list(trees)[::-1]:
                runs[name].append(_detect_once(exe, trees[name], Path(td) / "out"))
        load = os.getloadavg()
        print(f"saferoad detect on {CLIP.name} (38 frames), with bytecode; cores: {os.cpu_count()}; "
              f"load average {load[0]:.1f}; {repeat} runs each, interleaved (median, min)")
        for name, rs in runs.items():
            cols = []
            for key, what in (("wall", "wall"), ("outside", "outside the frame loop"), ("cpu", "CPU")):
                xs = [r[key] for r in rs]
                cols.append(f"{what} {statistics.median(xs):.3f} s ({min(xs):.3f})")
            print(f"{name:40s} " + ";  ".join(cols))
        if len(runs) == 2:  # each round ran both, back to back: their difference shares its load
            (a, ra), (b, rb) = runs.items()
            for key, what in (("wall", "wall"), ("outside", "outside the frame loop"), ("cpu", "CPU")):
                d = [x[key] - y[key] for x, y in zip(ra, rb, strict=True)]
                print(f"{what}, {a} less {b}, round by round: median {statistics.median(d):+.3f} s "
                      f"({sum(x < 0 for x in d)} of {len(d)} rounds lower)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--detect", action="store_true", help="time saferoad detect's start-up and exit instead")
    ap.add_argument("--baseline", metavar="SRC", help="--detect: also run this src folder, alternating")
    ap.add_argument("--src", metavar="SRC", help="--detect: run this src folder instead of the installed tree "
                    "(both sides from one commit: other people's uncommitted edits out of the comparison)")
    args = ap.parse_args()
    if args.detect:
        exe = shutil.which("saferoad", path=str(Path(sys.executable).parent)) or "saferoad"
        bench_detect(exe, args.repeat, args.baseline, args.src)
        return
    exe = shutil.which("saferoad", path=str(Path(sys.executable).parent)) or "saferoad"
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "saferoad --help": [exe, "--help"],
        "saferoad analyze --help": [exe, "analyze", "--help"],
        "python -c 'import saferoad.config'": [sys.executable, "-c", "import saferoad.config"],
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for cmd in cases.values():  # warm the file cache once, not timed
        _wall(cmd)
    for _ in range(args.repeat):  # interleaved: load from other jobs hits every case alike
        for name, cmd in cases.items():
            times[name].append(_wall(cmd))
    load = os.getloadavg()
    print(f"cores: {os.cpu_count()}; load average {load[0]:.1f}; {args.repeat} runs each, interleaved")
    base = statistics.median(times["python -c pass"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:38s} best {min(ts):.3f} s  median {med:.3f} s  (+{med - base:.3f} s over bare python)")
    verdict = "meets" if statistics.median(times["saferoad --help"]) < 0.5 else "misses"
    print(f"saferoad --help {verdict} the 0.5 s target (median)")


if __name__ == "__main__":
    main()
