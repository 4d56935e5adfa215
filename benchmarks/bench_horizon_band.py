"""Horizon-band pass: the default road-camera configuration against the single pass.

    .venv/bin/python benchmarks/bench_horizon_band.py [--frames 150] [--rounds 2] [--workers 2]

On a 1280x720 H.264 clip (the shared ``highway_vehicles_720p.mp4`` looped to ``--frames``,
as bench_perception.py does) the whole road pipeline (``run_perception``: decoding, the
detector, ByteTrack, geometry) runs with YOLOX-nano at 416 twice per round, alternating:

* **single pass** (``horizon_band = false``): one inference a frame, the previous default;
* **default** (the card's ``[passes] horizon_band = true``): the full frame plus one packed
  inference over the horizon band.

Printed for each: wall-clock frames a second, CPU milliseconds a frame (process time of all
threads: steadier than wall clock on a shared machine), the capacity that CPU cost leaves on
the machine's cores (cores x 1000 / CPU ms: the frame rate the cores could sustain if nothing
else ran), detections a frame, and whether 720p at 30 fps live still holds: wall fps >= 30
and capacity >= 30. The load average at start and end says how busy the machine was.

``--live SECONDS`` runs the live camera path instead: the clip served as a 30 fps camera
(``FfmpegFrameSource``: an ``ffmpeg -re`` child, looped, resampled to 30 fps, ring of 8, as
the edge recorder reads it) into ``run_perception`` with ``--workers`` inference threads (the
recorder uses 1), single pass and default alternating, SECONDS each. Printed for each: frames
decoded and inferred a second, frames dropped a minute (decoded but never inferred: the ring
overflowed), CPU of this process and of the ffmpeg child (``/proc``), as milliseconds per
inferred frame and as cores busy.

``--merge`` times only the cross-pass merge (``suppress_across_passes``) on random clustered
boxes of n = 30 to 3000, the sweep against the previous n × n matrix formulation (kept here
as the baseline) in the same run, and checks that both keep the same boxes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_perception import CLIP, YOLOX, make_clip


def run(video: Path, horizon_band: bool, workers: int) -> dict[str, Any]:
    from saferoad.adapters.onnx.backend import OnnxBackend
    from saferoad.adapters.onnx.card import load_card
    from saferoad.adapters.onnx.detector import ModelDetector
    from saferoad.adapters.video.frames import open_frames
    from saferoad.adapters.video.lanes import lane_horizon
    from saferoad.application.perception import PerceptionStats, run_perception
    from saferoad.config import load_config

    cfg = load_config(overrides={"perception": {"workers": workers}})
    card = load_card("yolox-nano")
    det = ModelDetector(
        card, OnnxBackend(YOLOX, intra_op_threads=1, spinning=False, warmup=3), horizon_band=horizon_band
    )
    stats = PerceptionStats()
    t, c = time.perf_counter(), time.process_time()
    n = 0
    for _f, _objs in run_perception(open_frames(video), det, None, None, cfg, horizon=lane_horizon, stats=stats):
        n += 1
    wall = time.perf_counter() - t
    cpu_ms = (time.process_time() - c) / n * 1e3
    return {"fps": n / wall, "cpu_ms": cpu_ms, "frames": n, "det_per_frame": stats.detections / n}


def _child_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a live child process (``/proc/PID/stat``), 0 if gone."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_live(seconds: float, horizon_band: bool, workers: int) -> dict[str, Any]:
    from saferoad.adapters.onnx.backend import OnnxBackend
    from saferoad.adapters.onnx.card import load_card
    from saferoad.adapters.onnx.detector import ModelDetector
    from saferoad.adapters.video.lanes import lane_horizon
    from saferoad.adapters.video.live import FfmpegFrameSource
    from saferoad.application.perception import PerceptionStats, run_perception
    from saferoad.config import load_config

    cfg = load_config(overrides={"perception": {"workers": workers}})
    det = ModelDetector(
        load_card("yolox-nano"), OnnxBackend(YOLOX, intra_op_threads=1, spinning=False, warmup=3),
        horizon_band=horizon_band,
    )
    src = FfmpegFrameSource(str(CLIP), 1280, 720, realtime=True, loop_file=True, fps=30, ring=8)
    try:
        if src.read(timeout_s=20) is None:
            sys.exit(f"no frame from the live source: {src.stats.last_error}")
        deadline = time.perf_counter() + seconds

        def frames() -> Any:
            while time.perf_counter() < deadline:
                f = src.read(timeout_s=0.5)
                if f is not None:
                    yield f

        stats = PerceptionStats()
        start = src.stats.frames, src.stats.dropped, time.process_time(), _child_cpu_s(src.pid)
        t0 = time.perf_counter()
        n = sum(1 for _ in run_perception(frames(), det, None, None, cfg, horizon=lane_horizon, stats=stats))
        wall = time.perf_counter() - t0
        decoded = src.stats.frames - start[0]
        dropped = src.stats.dropped - start[1]
        cpu = time.process_time() - start[2]
        ffmpeg_cpu = _child_cpu_s(src.pid) - start[3]
    finally:
        src.close()
    return {
        "decoded_fps": decoded / wall, "inferred_fps": n / wall, "dropped_per_min": dropped / wall * 60,
        "dropped_share": dropped / max(decoded, 1), "cpu_ms": cpu / max(n, 1) * 1e3, "cores": cpu / wall,
        "ffmpeg_cores": ffmpeg_cpu / wall, "restarts": src.stats.restarts, "wall": wall,
    }


def bench_live(seconds: float, rounds: int, workers: int) -> None:
    cores = len(os.sched_getaffinity(0))
    print(f"cores {cores}, load average at start {os.getloadavg()[0]:.2f}")
    print(f"| live 1280x720 at 30 fps, YOLOX-nano 416, {workers} inference thread(s), {seconds:.0f} s | decoded fps | "
          "inferred fps | dropped / min (share) | CPU ms / inferred frame | cores busy: saferoad + ffmpeg |")
    print("|---|---|---|---|---|---|")
    for r in range(rounds):
        for name, band in (("single pass", False), ("default (full + band)", True)):
            x = run_live(seconds, band, workers)
            print(f"| round {r + 1}, {name} | {x['decoded_fps']:.1f} | {x['inferred_fps']:.1f} | "
                  f"{x['dropped_per_min']:.0f} ({x['dropped_share']:.0%}) | {x['cpu_ms']:.1f} | "
                  f"{x['cores']:.2f} + {x['ffmpeg_cores']:.2f} |" + (f" restarts {x['restarts']}" if x["restarts"] else ""),
                  flush=True)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


def matrix_baseline(boxes: Any, scores: Any, classes: Any, passes: Any, ios: float = 0.7) -> Any:
    """The previous ``suppress_across_passes``: an n × n IoS matrix and a greedy loop over
    all n boxes."""
    import numpy as np

    n = len(boxes)
    keep = np.ones(n, dtype=bool)
    if n < 2 or len(np.unique(passes)) < 2:
        return keep
    area = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    iw = np.clip(np.minimum(boxes[:, None, 2], boxes[None, :, 2]) - np.maximum(boxes[:, None, 0], boxes[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(boxes[:, None, 3], boxes[None, :, 3]) - np.maximum(boxes[:, None, 1], boxes[None, :, 1]), 0, None)
    smaller = np.minimum(area[:, None], area[None, :])
    overlap = (iw * ih) / np.where(smaller > 0, smaller, 1.0)
    same = (classes[:, None] == classes[None, :]) & (passes[:, None] != passes[None, :]) & (overlap >= ios)
    for i in np.argsort(-scores, kind="stable"):
        if keep[i]:
            keep[same[i] & (scores <= scores[i]) & (np.arange(n) != i)] = False
    return keep


def bench_merge() -> None:
    import numpy as np

    from saferoad.adapters.onnx.detector import suppress_across_passes

    rng = np.random.default_rng(0)
    print("| boxes a frame | matrix (previous) µs | sweep µs | speed-up | same boxes kept |")
    print("|---|---|---|---|---|")
    for n in (30, 100, 300, 1000, 3000):
        # cars in a 1280x720 frame: clusters of overlapping boxes from 2 passes, 8 classes
        c = rng.uniform([0, 200], [1280, 500], (n, 2))
        wh = rng.uniform(8, 150, (n, 2))
        boxes = np.concatenate([c - wh / 2, c + wh / 2], axis=1).astype(np.float32)
        scores = rng.uniform(0.1, 0.95, n).astype(np.float32)
        classes = rng.integers(0, 8, n).astype(np.int64)
        passes = rng.integers(0, 2, n).astype(np.int64)
        same = bool((matrix_baseline(boxes, scores, classes, passes) == suppress_across_passes(boxes, scores, classes, passes)).all())
        reps = max(3, 3000 // n)
        times: dict[str, float] = {}
        for name, fn in (("matrix", matrix_baseline), ("sweep", suppress_across_passes)):
            best = float("inf")
            for _ in range(3):
                t = time.perf_counter()
                for _ in range(reps):
                    fn(boxes, scores, classes, passes)
                best = min(best, (time.perf_counter() - t) / reps)
            times[name] = best * 1e6
        print(f"| {n} | {times['matrix']:.0f} | {times['sweep']:.0f} | x{times['matrix'] / times['sweep']:.1f} | {same} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--merge", action="store_true", help="time only the cross-pass merge")
    ap.add_argument("--live", type=float, default=0.0, metavar="SECONDS",
                    help="the live camera path instead, SECONDS per configuration")
    args = ap.parse_args()
    if args.live > 0:
        bench_live(args.live, args.rounds, args.workers)
        return
    if args.merge:
        print(f"load average at start {os.getloadavg()[0]:.2f}")
        bench_merge()
        print(f"load average at end {os.getloadavg()[0]:.2f}")
        return
    if not CLIP.is_file() or not YOLOX.is_file():
        sys.exit(f"needs {CLIP} and {YOLOX} (SAFEROAD_SHARED)")
    cores = len(os.sched_getaffinity(0))
    print(f"cores {cores}, load average at start {os.getloadavg()[0]:.2f}")
    results: dict[str, list[dict[str, Any]]] = {"single pass": [], "default (full + band)": []}
    with tempfile.TemporaryDirectory() as tmp:
        video = make_clip(Path(tmp) / "clip.mp4", args.frames)
        for r in range(args.rounds):
            for name, band in (("single pass", False), ("default (full + band)", True)):
                res = run(video, band, args.workers)
                results[name].append(res)
                print(f"round {r + 1} {name:22s} {res['fps']:6.1f} fps  {res['cpu_ms']:6.1f} ms CPU/frame  "
                      f"{res['det_per_frame']:.2f} detections/frame")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    print()
    print(f"| 1280x720, YOLOX-nano 416, {args.workers} workers | wall fps | CPU ms/frame | capacity on {cores} cores (fps) | detections/frame |")
    print("|---|---|---|---|---|")
    best: dict[str, dict[str, float]] = {}
    for name, rs in results.items():
        fps = max(x["fps"] for x in rs)
        cpu = min(x["cpu_ms"] for x in rs)
        best[name] = {"fps": fps, "cpu": cpu}
        print(f"| {name} | {fps:.1f} | {cpu:.1f} | {cores * 1000 / cpu:.1f} | {rs[0]['det_per_frame']:.2f} |")
    d, s = best["default (full + band)"], best["single pass"]
    print()
    print(f"default / single pass: CPU a frame x{d['cpu'] / s['cpu']:.2f}, wall fps x{d['fps'] / s['fps']:.2f} (best round of each)")
    live = d["fps"] >= 30 and cores * 1000 / d["cpu"] >= 30
    print(f"720p at 30 fps live with the default: {'holds' if live else 'does NOT hold'} on this machine "
          f"(wall {d['fps']:.1f} fps, capacity {cores * 1000 / d['cpu']:.1f} fps)")


if __name__ == "__main__":
    main()
