"""Batching short recordings into tasks: the local process pool with 2 workers computing the
same simulated sensor-only trips one recording a task (the baseline) and in batches
(``runner.batch_size``), interleaved in the same run, each into a fresh cache.

    .venv/bin/python benchmarks/bench_eval_batches.py [--trips 200] [--rounds 2] [--executor local|ray]

The trips are bench_eval_scale's (kept under ``$TMPDIR/saferoad-bench-eval/``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SAFEROAD_EVAL_LOG_LEVEL", "ERROR")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_eval_scale import make_trips


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trips", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--executor", default="local", choices=["local", "ray"])
    args = ap.parse_args()
    from saferoad.application.evaluation import runner
    from saferoad.application.evaluation.manifest import resolve_manifest
    from saferoad.application.evaluation.service import evaluate_dataset
    from saferoad.config import load_config
    from saferoad.entrypoints.wiring import analysis_ports, make_executor
    from saferoad.observability import configure_logging

    configure_logging("WARNING")
    ds = resolve_manifest(make_trips(args.trips, 0))
    cfg = load_config(overrides={"evaluation": {"bootstrap_samples": 0}})
    scratch = Path(tempfile.mkdtemp(prefix="bench-eval-batches-"))
    batched = runner.MAX_BATCH
    rates: dict[str, list[float]] = {"1 a task (baseline)": [], f"batches of {runner.batch_size(args.trips, args.workers)}": []}
    with make_executor(args.executor, args.workers) as ex:
        evaluate_dataset(ds, cfg, scratch / "warm", ex, ports=analysis_ports())  # start the workers, import saferoad in them
        for r in range(args.rounds):
            for name, max_batch in zip(rates, (1, batched), strict=True):
                runner.MAX_BATCH = max_batch
                out = scratch / f"{r}-{max_batch}"
                t0 = time.perf_counter()
                res = evaluate_dataset(ds, cfg, out, ex, ports=analysis_ports())
                rates[name].append(res.run.computed / (time.perf_counter() - t0))
                shutil.rmtree(out, ignore_errors=True)
    runner.MAX_BATCH = batched
    print(f"cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}; {args.executor}, {args.workers} workers, {args.trips} trips, {args.rounds} rounds")
    for name, rs in rates.items():
        print(f"  {name:22s} {statistics.median(rs):6.1f} trips/s (runs: {', '.join(f'{x:.1f}' for x in rs)})")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
