"""Evaluation at scale: simulated sensor-only trips through the Ray executor on a local
instance with 1 and with 2 workers, against the local process pool on the same trips.

    .venv/bin/python benchmarks/bench_eval_scale.py [--trips 1000] [--seed 0]

Prints, per executor and worker count: trips a second (compute phase), wall time including
start-up, peak memory of the whole process tree (driver + workers + Ray's own processes,
sampled from /proc every 0.2 s), scaling efficiency (rate with 2 workers / (2 x rate with
1)), and Ray's own cost: start-up of a local instance and per-task overhead (no-op tasks
through each executor). The trips are written once by ``simulate_fleet(video=False)`` under
``$TMPDIR/saferoad-bench-eval/`` and kept for later runs; their ``detections.json`` (camera
ground truth) is removed so that they are sensor-only: IMU, GPS, labels.

What keeps a run from scaling (issue 19): each run also prints its phases (the driver
hashing every trip, serially; the wait for the first result, i.e. worker start-up and
imports; the results; scoring) and the CPU seconds spent during the compute by role, from
/proc: the driver (hashing, storing results, Ray's driver-side threads), the workers, and
Ray's own processes (raylet, GCS, agents). ``--bytecode`` reuses compiled bytecode in the
driver and every worker (``PYTHONPYCACHEPREFIX``, filled by a first unmeasured pass on 4
trips through each executor), as an installed package has it; this venv has no ``.pyc``
files and sets ``PYTHONDONTWRITEBYTECODE=1``, so by default every worker compiles saferoad
when it starts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("SAFEROAD_EVAL_LOG_LEVEL", "ERROR")


def _noop(x: int) -> int:
    return x


def _descendants(root: int, parents: dict[int, int]) -> set[int]:
    """``root`` and every process below it, from a pid -> parent pid map."""
    tree = {root}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return tree


def _tree_rss_mb(root: int) -> float:
    """Resident memory (MiB) of ``root`` and every descendant, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/status", encoding="utf-8") as fh:
                ppid = kb = 0
                for line in fh:
                    if line.startswith("PPid:"):
                        ppid = int(line.split()[1])
                    elif line.startswith("VmRSS:"):
                        kb = int(line.split()[1])
            parents[int(d)] = ppid
            rss[int(d)] = kb
        except (OSError, ValueError):
            continue
    return sum(rss.get(p, 0) for p in _descendants(root, parents)) / 1024


def _tree_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) so far of this process and every descendant, with the
    role each plays: ``driver`` (this process), ``worker`` (a Ray worker or a pool
    process running tasks), ``ray system`` (raylet, GCS, Ray's agents and monitors; for the
    process pool, its resource tracker)."""
    tick = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    parents: dict[int, int] = {}
    info: dict[int, tuple[str, float]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", encoding="utf-8") as fh:
                stat = fh.read()
            with open(f"/proc/{d}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        parents[int(d)] = int(fields[1])
        cpu = (int(fields[11]) + int(fields[12])) / tick
        pid = int(d)
        if pid == me:
            role = "driver"
        elif "ray::" in cmd or "default_worker.py" in cmd or "spawn_main" in cmd:
            # a pool worker runs multiprocessing.spawn's spawn_main; the pool's resource
            # tracker (also "multiprocessing" in its command line) runs no tasks
            role = "worker"
        else:
            role = "ray system"
        info[pid] = (role, cpu)
    return {p: info[p] for p in _descendants(me, parents) if p in info}


def _role_cpu(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds each role spent between two :func:`_tree_cpu` snapshots."""
    out = {"driver": 0.0, "worker": 0.0, "ray system": 0.0}
    for pid, (role, cpu) in after.items():
        out[role] += cpu - before.get(pid, (role, 0.0))[1]
    return out


class PeakMemory:
    """Samples the process tree every 0.2 s: peak resident memory, and each process's CPU
    as last seen (``cpu_seen``), so that a worker that exits during the run still counts."""

    def __init__(self) -> None:
        self.peak = 0.0
        self.cpu_seen: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def sample_cpu(self) -> dict[int, tuple[str, float]]:
        snap = _tree_cpu()
        with self._lock:
            self.cpu_seen.update(snap)
            return dict(self.cpu_seen)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss_mb(os.getpid()))
            self.sample_cpu()
            self._stop.wait(0.2)

    def __enter__(self) -> PeakMemory:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def make_trips(n: int, seed: int) -> Path:
    from saferoad.entrypoints.wiring import simulate_fleet

    root = Path(tempfile.gettempdir()) / "saferoad-bench-eval" / f"trips-{n}-seed{seed}"
    manifest = root / "manifest.yaml"
    if manifest.is_file():
        return manifest
    if root.exists():
        shutil.rmtree(root)
    t0 = time.perf_counter()
    simulate_fleet(root, n, seed=seed, video=False)
    for det in root.glob("*/detections.json"):
        det.unlink()
    print(f"simulated {n} sensor-only trips in {time.perf_counter() - t0:.1f} s under {root}")
    return manifest


def run(kind: str, workers: int, manifest: Path, scratch: Path) -> dict[str, Any]:
    from saferoad.application.evaluation.manifest import resolve_manifest
    from saferoad.application.evaluation.runner import ProgressHooks
    from saferoad.application.evaluation.service import evaluate_dataset
    from saferoad.config import load_config
    from saferoad.entrypoints.wiring import analysis_ports, make_executor

    stamps: list[float] = []
    hashed: list[float] = []
    hooks = ProgressHooks(
        start=lambda total, cached: hashed.append(time.perf_counter()),
        advance=lambda o: stamps.append(time.perf_counter()),
    )

    out = scratch / f"{kind}-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    cfg = load_config(overrides={"evaluation": {"bootstrap_samples": 200}})
    ds = resolve_manifest(manifest)
    t0 = time.perf_counter()
    with PeakMemory() as mem:
        ex = make_executor(kind, workers)
        with ex:
            started = time.perf_counter()
            cpu0 = mem.sample_cpu()
            res = evaluate_dataset(ds, cfg, out, ex, ports=analysis_ports(), hooks=hooks)
            seen = mem.sample_cpu()
            cpu = _role_cpu(cpu0, seen)
            worker_procs = sum(1 for p, (role, _) in seen.items() if role == "worker" and p not in cpu0)
            done = time.perf_counter()
        wall = time.perf_counter() - t0
    values = dict(zip(res.scores.metrics["metric"], res.scores.metrics["value"].astype(float), strict=True))
    return {
        "kind": kind,
        "workers": workers,
        "startup_s": started - t0,
        "compute_s": res.run.wall_s,
        "wall_s": wall,
        "tps": res.run.computed / res.run.wall_s,
        # After the first result: workers have started and imported saferoad.
        "steady_tps": (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan"),
        "peak_mb": mem.peak,
        # phases of the compute: the driver hashes every trip (serial), then results arrive
        # (the first once a worker has started and imported saferoad), then scoring
        "hash_s": hashed[0] - started if hashed else float("nan"),
        "first_result_s": stamps[0] - hashed[0] if stamps and hashed else float("nan"),
        "results_s": stamps[-1] - stamps[0] if stamps else float("nan"),
        "scoring_s": done - stamps[-1] if stamps else float("nan"),
        "cpu_driver_s": cpu["driver"],
        "cpu_workers_s": cpu["worker"],
        "cpu_ray_system_s": cpu["ray system"],
        "new_worker_processes": worker_procs,
        "failed": res.run.failed,
        "f1": values.get("events.f1", float("nan")),
        "metrics": res.scores.metrics[res.scores.metrics["kind"] != "timing"].reset_index(drop=True),
    }


def task_overhead(kind: str, workers: int, n: int) -> tuple[float, float]:
    """(start-up s, seconds per no-op task) through an executor."""
    from saferoad.entrypoints.wiring import make_executor

    t0 = time.perf_counter()
    ex = make_executor(kind, workers)
    with ex:
        up = time.perf_counter() - t0
        list(ex.map_unordered(_noop, [0] * 20))  # warm the workers
        t1 = time.perf_counter()
        got = sum(1 for _ in ex.map_unordered(_noop, list(range(n))))
        per = (time.perf_counter() - t1) / got
    return up, per


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trips", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noop-tasks", type=int, default=2000)
    ap.add_argument(
        "--bytecode", action="store_true",
        help="compile to bytecode once and reuse it in the driver and every worker "
        "(PYTHONPYCACHEPREFIX under $TMPDIR), as an installed package has it; by default the "
        "environment decides (this venv has no .pyc files and PYTHONDONTWRITEBYTECODE=1, so "
        "every worker compiles saferoad at its start)",
    )
    args = ap.parse_args()
    if args.bytecode:
        prefix = str(Path(tempfile.gettempdir()) / "saferoad-bench-eval" / "pycache")
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = prefix  # the workers inherit it
        sys.pycache_prefix = prefix
        sys.dont_write_bytecode = False
    import pandas as pd

    from saferoad.observability import configure_logging

    configure_logging("WARNING")

    manifest = make_trips(args.trips, args.seed)
    if args.bytecode:
        # fill the bytecode cache with what the driver, a pool worker and a Ray worker import:
        # 4 of the trips through each executor once, not measured
        import yaml

        data = yaml.safe_load(manifest.read_text())
        data["recordings"] = data["recordings"][:4]
        small = manifest.parent / "warm-4.yaml"
        small.write_text(yaml.safe_dump(data))
        warm = Path(tempfile.mkdtemp(prefix="saferoad-bench-eval-warm-"))
        for kind in ("local", "ray"):
            run(kind, 1, small, warm)
        shutil.rmtree(warm, ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix="saferoad-bench-eval-out-"))
    print(f"{os.cpu_count()} CPUs; {args.trips} trips; outputs under {scratch}")
    results: list[dict[str, Any]] = []
    plan: list[tuple[str, int]] = [("ray", 1), ("ray", 2), ("local", 1), ("local", 2)]
    for kind, w in plan:
        r = run(kind, w, manifest, scratch)
        results.append(r)
        print(
            f"{kind:>5} x{w}: {r['tps']:7.1f} trips/s, {r['steady_tps']:.1f} after the first result (compute {r['compute_s']:.1f} s, wall {r['wall_s']:.1f} s "
            f"incl. start-up {r['startup_s']:.1f} s), peak memory {r['peak_mb']:.0f} MiB, failed {r['failed']}, "
            f"events F1 {r['f1']:.4f}",
            flush=True,
        )
        print(
            f"         phases: hashing {r['hash_s']:.1f} s (driver), to the first result {r['first_result_s']:.1f} s, "
            f"results {r['results_s']:.1f} s, scoring {r['scoring_s']:.1f} s; CPU: driver {r['cpu_driver_s']:.1f} s, "
            f"workers {r['cpu_workers_s']:.1f} s, Ray's own processes {r['cpu_ray_system_s']:.1f} s; "
            f"worker processes started during it: {r['new_worker_processes']}; workers busy "
            f"{r['cpu_workers_s'] / max(r['results_s'] + r['first_result_s'], 1e-9):.2f} cores on average",
            flush=True,
        )
    by: Callable[[str, int], dict[str, Any]] = lambda k, w: next(r for r in results if r["kind"] == k and r["workers"] == w)  # noqa: E731
    for kind in ("ray", "local"):
        eff = by(kind, 2)["tps"] / (2 * by(kind, 1)["tps"])
        eff_s = by(kind, 2)["steady_tps"] / (2 * by(kind, 1)["steady_tps"])
        print(f"{kind}: scaling efficiency 1 -> 2 workers = {eff:.2f} (steady state {eff_s:.2f})")
    same = all(
        r["metrics"].equals(results[0]["metrics"]) for r in results[1:]
    )
    print(f"identical metrics from every run: {same}")
    for w in (1, 2):
        ratio = by("ray", w)["tps"] / by("local", w)["tps"]
        print(f"ray / local throughput with {w} worker(s): {ratio:.2f}  (baseline: local process pool, same trips, same run)")
    for kind in ("ray", "local"):
        up, per = task_overhead(kind, 2, args.noop_tasks)
        print(f"{kind}: start-up {up:.2f} s, per-task overhead {per * 1e3:.2f} ms (no-op tasks, 2 workers)")
    pd.DataFrame([{k: v for k, v in r.items() if k != "metrics"} for r in results]).to_csv(scratch / "bench.csv", index=False)
    shutil.rmtree(scratch / "ray-1", ignore_errors=True)


if __name__ == "__main__":
    main()
