"""Whole ``analyze`` on a 60 s simulated 720p drive with video and sensors.

    .venv/bin/python benchmarks/bench_analyze_video.py [--seconds 60] [--keep DIR]

Simulates a 60 s drive at 1280x720, 10 fps (a rolling stop at a stop sign, so the clip
stage has work), then runs the whole ``analyze`` (motion, road, cabin) with the ONNX
detector (YOLOX-nano) and prints frames per second, the real-time factor (drive seconds
per wall second) and the time of each stage from the trace. Baselines measured in the same
run, on the same video:

* decoding alone (PyAV, every frame to BGR) — the floor of any video pipeline;
* the same ``analyze`` with the replay detector — everything but the model.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import av

from saferoad.adapters.recording import open_recording
from saferoad.config import load_config
from saferoad.entrypoints.wiring import analyze_recording, simulate
from saferoad.observability import TraceRecorder, configure_logging


def decode_only(video: Path) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = 0
    with av.open(str(video)) as c:
        c.streams.video[0].thread_type = "AUTO"
        for f in c.decode(video=0):
            f.to_ndarray(format="bgr24")
            n += 1
    return n, time.perf_counter() - t0


def run(rec_dir: Path, out: Path, detector: str) -> tuple[float, dict[str, float], dict]:
    cfg = load_config(None, {"perception": {"detector": detector}})
    rec = open_recording(rec_dir)
    trace = TraceRecorder()
    t0 = time.perf_counter()
    res = analyze_recording(rec, cfg, out, trace=trace)
    wall = time.perf_counter() - t0
    trace.write(out / "trace.json")
    return wall, trace.stage_seconds(), res.summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--keep", type=Path, default=None, help="keep the recording and outputs here")
    args = ap.parse_args()
    configure_logging("WARNING", stream=open(os.devnull, "w"))  # noqa: SIM115
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-analyze-video-"))
    work.mkdir(parents=True, exist_ok=True)
    rec_dir = work / "drive"
    if rec_dir.exists():
        shutil.rmtree(rec_dir)
    dur = args.seconds
    t0 = time.perf_counter()
    simulate(
        "stop_sign", rec_dir, seed=1,
        assignments=[
            f"duration_s={dur}", f"at_s={max(3.0, dur - 20.0)}", "min_speed_kmh=15",
            "camera.width=1280", "camera.height=720", "camera.fps=10",
        ],
    )
    sim_s = time.perf_counter() - t0
    video = rec_dir / "video.mp4"
    n_dec, dec_s = decode_only(video)
    wall_r, stages_r, summary_r = run(rec_dir, work / "out-replay", "replay")
    wall, stages, summary = run(rec_dir, work / "out-onnx", "onnx")
    frames = summary["road"]["frames"]
    events = summary.get("event_counts", {})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"drive: {dur:.0f} s simulated at 1280x720, 10 fps ({frames} frames); "
          f"simulated in {sim_s:.1f} s; events {json.dumps(events)}")
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    print()
    print(f"{'run':38s} {'wall s':>8s} {'frames/s':>9s} {'x real time':>12s}")
    print(f"{'analyze, ONNX YOLOX-nano (the figure)':38s} {wall:8.2f} {frames / wall:9.1f} "
          f"{dur / wall:12.2f}")
    print(f"{'analyze, replay detector (baseline)':38s} {wall_r:8.2f} {frames / wall_r:9.1f} "
          f"{dur / wall_r:12.2f}")
    print(f"{'decode only, PyAV (baseline)':38s} {dec_s:8.2f} {n_dec / dec_s:9.1f} "
          f"{dur / dec_s:12.2f}")
    print()
    print("time per stage from the trace (s):")
    names = sorted(set(stages) | set(stages_r), key=lambda k: -stages.get(k, 0.0))
    print(f"  {'span':28s} {'onnx':>8s} {'replay':>8s}")
    for k in names:
        print(f"  {k:28s} {stages.get(k, 0.0):8.3f} {stages_r.get(k, 0.0):8.3f}")
    print(f"  {'(rules + timeline within road.camera)':28s} "
          f"{summary['road']['rules_s']:8.3f} {summary_r['road']['rules_s']:8.3f}")
    print(f"\npeak RSS {peak_mb:.0f} MB; outputs in {work}")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
