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
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("SAFEROAD_EVAL_LOG_LEVEL", "ERROR")


def _noop(x: int) -> int:
    return x


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
    tree = {root}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return sum(rss.get(p, 0) for p in tree) / 1024


class PeakMemory:
    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss_mb(os.getpid()))
            self._stop.wait(0.2)

    def __enter__(self) -> PeakMemory:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def make_trips(n: int, seed: int) -> Path:
    from saferoad.application.simulate import simulate_fleet

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
    hooks = ProgressHooks(advance=lambda o: stamps.append(time.perf_counter()))

    out = scratch / f"{kind}-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    cfg = load_config(overrides={"evaluation": {"bootstrap_samples": 200}})
    ds = resolve_manifest(manifest)
    t0 = time.perf_counter()
    with PeakMemory() as mem:
        ex = make_executor(kind, workers)
        with ex:
            started = time.perf_counter()
            res = evaluate_dataset(ds, cfg, out, ex, ports=analysis_ports(), hooks=hooks)
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
    args = ap.parse_args()
    import pandas as pd

    from saferoad.observability import configure_logging

    configure_logging("WARNING")

    manifest = make_trips(args.trips, args.seed)
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
