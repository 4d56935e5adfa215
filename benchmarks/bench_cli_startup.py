"""CLI start-up: wall time of ``saferoad --help`` against a bare ``python -c pass`` and against
``import saferoad.config`` (what every command that reads a config pays on top), measured in the
same run, interleaved, best and median of N.

    .venv/bin/python benchmarks/bench_cli_startup.py [--repeat 15]

Target (issue 19): ``saferoad --help`` under 0.5 s. Which modules it loads is guarded by
tests/test_cli_startup.py; this prints the time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
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
