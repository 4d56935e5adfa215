"""``saferoad analyze FLEET_DIR -o OUT`` on bench_eval_scale's sensor-only simulated trips, with 1
and with 2 workers, and a rerun that finds every output up to date.

    .venv/bin/python benchmarks/bench_fleet_analyze.py [--trips 1000] [--seed 0]

Prints, per worker count, the wall time of the whole command (a fresh process, as a user runs
it: start-up, reading the manifest, spawning workers, the progress bar) and trips a second;
the CPU seconds the command and its workers used (user + system, which other jobs on the
machine do not inflate) and the load average before and after; the scaling efficiency (rate
with 2 workers / (2 x rate with 1)), the baseline being the 1-worker run of the same trips in
the same run; and the time of a rerun that skips every recording (resumability's cost). On a
machine whose load average is at or above its core count a second worker finds no free core,
and the efficiency measures that contention rather than the code: read it with the loads. The trips are ``bench_eval_scale.py``'s: written once by
``simulate_fleet(video=False)`` under ``$TMPDIR/saferoad-bench-eval/`` without their
``detections.json`` (IMU, GPS, labels), and shared with it.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_eval_scale import make_trips

SAFEROAD = Path(sys.executable).with_name("saferoad")


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def analyze(fleet: Path, out: Path, workers: int) -> tuple[float, float]:
    """Wall and CPU seconds of one ``saferoad analyze FLEET -o OUT --workers N`` process (its
    workers included: they are waited for, so they count as its children)."""
    cpu0 = _children_cpu_s()
    t0 = time.perf_counter()
    subprocess.run(
        [str(SAFEROAD), "analyze", str(fleet), "-o", str(out), "--workers", str(workers)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0, _children_cpu_s() - cpu0


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trips", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    fleet = make_trips(args.trips, args.seed).parent
    scratch = Path(tempfile.mkdtemp(prefix="saferoad-bench-fleet-"))
    print(f"{os.cpu_count()} CPUs; {args.trips} trips in {fleet}; outputs under {scratch}")
    try:
        rate: dict[int, float] = {}
        for workers in (1, 2):
            out = scratch / f"out-{workers}"
            before = _load()
            wall, cpu = analyze(fleet, out, workers)
            rate[workers] = args.trips / wall
            print(
                f"analyze FLEET_DIR --workers {workers}: {wall:.1f} s wall, {rate[workers]:.1f} trips/s; "
                f"{cpu:.1f} CPU s ({1000 * cpu / args.trips:.0f} ms a trip); load average {before} -> {_load()}"
            )
        eff = rate[2] / (2 * rate[1])
        print(f"scaling efficiency 1 -> 2 workers = {eff:.2f} (baseline: the 1-worker run above, same trips)")
        rerun, cpu = analyze(fleet, scratch / "out-2", 2)
        print(
            f"rerun, every output up to date: {rerun:.1f} s wall ({args.trips / rerun:.0f} trips/s checked), "
            f"{cpu:.1f} CPU s"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
