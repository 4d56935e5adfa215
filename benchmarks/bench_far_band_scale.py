"""Issue 22: what a larger horizon-band scale costs on 720p video, against the live budget.

    .venv/bin/python benchmarks/bench_far_band_scale.py [--frames 30] [--scales packed,1.0,1.5,2.0]

On a 1280x720 H.264 clip (the shared ``highway_vehicles_720p.mp4`` looped to ``--frames``, as
bench_horizon_band.py does) the road pipeline (``run_perception``: decoding, YOLOX-nano 416,
ByteTrack, geometry) runs once per band setting, the single pass (no band) first as the
baseline, all in the same run:

* ``packed``: the default, the band in one model input (its largest scale, 0.80 on 720p);
* a number: ``ModelDetector(band_scale=)``, the band over as many inputs as that scale takes.

Printed for each: model inferences a frame (counted), and

* **batch** (``perception.workers`` 2, as ``saferoad detect``/``analyze`` run video): wall fps,
  CPU ms a frame (process time of all threads) and the capacity that leaves on the machine's
  cores (cores x 1000 / CPU ms);
* **live** (one frame at a time, as the edge recorder runs it, docs/edge.md "Adaptive
  stride"): mean wall and CPU ms a frame, the stride ``domain.stride.AdaptiveStride`` (the
  recorder's rule, ``edge.stride_target_load`` 0.8, ``edge.max_stride`` 8) settles on for a
  30 fps camera when fed the CPU times (what a core free of other work would take; the wall
  time on a busy machine is longer), and the frames a second it then infers. Every frame inferred live at
  30 fps needs <= 26.7 ms a frame (0.8 / 30 s).

The load average at start and end says how busy the shared machine was.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_perception import CLIP, YOLOX, make_clip

from saferoad.adapters.counting_backend import CountingBackend
from saferoad.adapters.onnx.backend import OnnxBackend
from saferoad.adapters.onnx.card import load_card
from saferoad.adapters.onnx.detector import ModelDetector
from saferoad.adapters.video.frames import open_frames
from saferoad.adapters.video.lanes import lane_horizon
from saferoad.application.perception import run_perception
from saferoad.config import load_config
from saferoad.domain.stride import AdaptiveStride

CAMERA_FPS = 30.0


def detector(setting: str) -> tuple[ModelDetector, CountingBackend]:
    backend = CountingBackend(OnnxBackend(YOLOX, intra_op_threads=1, spinning=False, warmup=3))
    card = load_card("yolox-nano")
    if setting == "single":
        return ModelDetector(card, backend, horizon_band=False), backend
    scale = None if setting == "packed" else float(setting)
    return ModelDetector(card, backend, horizon_band=True, band_scale=scale), backend


def batch(video: Path, setting: str) -> dict[str, float]:
    det, counter = detector(setting)
    cfg = load_config(overrides={"perception": {"workers": 2}})
    counter.calls = 0
    t, c, n = time.perf_counter(), time.process_time(), 0
    for _ in run_perception(open_frames(video), det, None, None, cfg, horizon=lane_horizon):
        n += 1
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return {"fps": n / wall, "cpu_ms": cpu / n * 1e3, "inferences": counter.calls / n}


def live(video: Path, setting: str) -> dict[str, float]:
    det, _ = detector(setting)
    cfg = load_config(overrides={"perception": {"workers": 1}})
    wall, cpu = [], []
    t, c = time.perf_counter(), time.process_time()
    for _ in run_perception(open_frames(video), det, None, None, cfg, horizon=lane_horizon):
        now, cnow = time.perf_counter(), time.process_time()
        wall.append(now - t)
        cpu.append(cnow - c)
        t, c = now, cnow
    wall, cpu = wall[3:], cpu[3:]  # warm-up (lane pitch, caches)
    # the recorder's rule fed the CPU time a frame (decoding included): what one core free of
    # other work would take; on a busy machine the wall time is longer and says so too
    rule = AdaptiveStride()
    for x in cpu:
        stride = rule.update(x, CAMERA_FPS)
    return {"ms": sum(wall) / len(wall) * 1e3, "cpu_ms": sum(cpu) / len(cpu) * 1e3, "stride": stride,
            "inferred_fps": CAMERA_FPS / stride}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--scales", default="packed,1.0,1.5,2.0")
    args = ap.parse_args()
    if not CLIP.is_file() or not YOLOX.is_file():
        sys.exit(f"needs {CLIP} and {YOLOX} (SAFEROAD_SHARED)")
    cores = len(os.sched_getaffinity(0))
    print(f"cores {cores}, load average at start {os.getloadavg()[0]:.2f}")
    print(f"| 1280x720, YOLOX-nano 416, {args.frames} frames | inferences a frame | batch (2 workers): wall fps | "
          f"CPU ms a frame | capacity on {cores} cores (fps) | live (1 frame at a time): ms a frame | "
          "CPU ms a frame | stride at 30 fps (from CPU ms) | frames inferred a second |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        video = make_clip(Path(tmp) / "clip.mp4", args.frames)
        for setting in ["single", *args.scales.split(",")]:
            b = batch(video, setting)
            v = live(video, setting)
            name = {"single": "single pass (baseline)", "packed": "packed band (default)"}.get(setting, f"band_scale {setting}")
            print(f"| {name} | {b['inferences']:.1f} | {b['fps']:.1f} | {b['cpu_ms']:.1f} | {cores * 1000 / b['cpu_ms']:.1f} | "
                  f"{v['ms']:.1f} | {v['cpu_ms']:.1f} | {v['stride']} | {v['inferred_fps']:.1f} |", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
