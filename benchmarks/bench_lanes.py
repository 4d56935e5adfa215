"""Lane detection: milliseconds a frame, alone and inside the road pipeline.

    .venv/bin/python benchmarks/bench_lanes.py [--frames 120] [--rounds 2] [--workers 2]

1. **Alone**: the classical lane detector (``adapters/video/lane_markings.py``: Canny +
   Hough at <= 640 px wide, segments onto the road plane, lines fitted there) on the decoded
   frames of the shared ``highway_solid_white_right.mp4`` (960x540) and
   ``highway_vehicles_720p.mp4`` (1280x720), frames held in memory; the baseline printed
   beside it is the decoding of the same frames (PyAV), measured in the same run.
2. **Inside the road pipeline**: ``run_perception`` (decoding, YOLOX-nano at 416 with the
   horizon band, ByteTrack, geometry) over the 720p clip looped to ``--frames``, without
   and with the lane detector on every frame as the road stage runs it (``CameraFeed``),
   alternating, ``--rounds`` times. CPU milliseconds a frame (process time of all threads,
   steadier than wall clock on a shared machine) and wall frames a second; the lane share
   is (with - without) / with.
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
from bench_perception import CLIP, SHARED, YOLOX, make_clip

SOLID = SHARED / "data" / "video" / "highway_solid_white_right.mp4"


def _camera(w: int, h: int) -> Any:
    from saferoad.config import load_config
    from saferoad.domain.geometry import CameraModel
    from saferoad.domain.types import CameraIntrinsics, CameraMount

    return CameraModel(CameraIntrinsics.from_fov(w, h, load_config().perception.hfov_deg), CameraMount())


def alone(video: Path, frames: int) -> dict[str, float]:
    from saferoad.adapters.video.frames import open_frames
    from saferoad.adapters.video.lane_markings import ClassicalLaneDetector

    src = open_frames(video)
    t = time.process_time()
    held = []
    for f in src:
        held.append(f)
        if len(held) >= frames:
            break
    src.close()
    decode_ms = (time.process_time() - t) / len(held) * 1e3
    cam = _camera(held[0].width, held[0].height)
    det = ClassicalLaneDetector(estimate_pitch=True)
    both = 0
    t = time.process_time()
    for f in held:
        o = det.detect(f, cam)
        both += o.confidence >= 0.5
    lane_ms = (time.process_time() - t) / len(held) * 1e3
    return {"frames": len(held), "decode_ms": decode_ms, "lane_ms": lane_ms, "both": both / len(held)}


def pipeline(video: Path, frames: int, lanes: bool, workers: int) -> dict[str, float]:
    from saferoad.adapters.onnx.backend import OnnxBackend
    from saferoad.adapters.onnx.card import load_card
    from saferoad.adapters.onnx.detector import ModelDetector
    from saferoad.adapters.video.frames import open_frames
    from saferoad.adapters.video.lane_markings import ClassicalLaneDetector
    from saferoad.adapters.video.lanes import lane_horizon
    from saferoad.application.perception import run_perception
    from saferoad.config import load_config

    cfg = load_config(overrides={"perception": {"workers": workers}})
    card = load_card("yolox-nano")
    det = ModelDetector(card, OnnxBackend(YOLOX, intra_op_threads=1, spinning=False, warmup=3))
    lane_det = ClassicalLaneDetector(estimate_pitch=True)
    src = open_frames(video)
    cam = _camera(src.width, src.height)
    n = 0
    t, c = time.perf_counter(), time.process_time()
    for f, _objs in run_perception(src, det, None, None, cfg, horizon=lane_horizon):
        if lanes:
            lane_det.detect(f, cam)
        n += 1
        if n >= frames:
            break
    wall = time.perf_counter() - t
    cpu_ms = (time.process_time() - c) / n * 1e3
    src.close()
    return {"fps": n / wall, "cpu_ms": cpu_ms}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if not (CLIP.is_file() and SOLID.is_file() and YOLOX.is_file()):
        sys.exit(f"needs {CLIP}, {SOLID} and {YOLOX} (SAFEROAD_SHARED)")
    print(f"cores {len(os.sched_getaffinity(0))}, load average at start {os.getloadavg()[0]:.2f}")
    print()
    print("| clip | frames | lane detection CPU ms/frame | baseline: decoding CPU ms/frame | both lines found |")
    print("|---|---|---|---|---|")
    for clip in (SOLID, CLIP):
        r = min((alone(clip, 221) for _ in range(args.rounds)), key=lambda x: x["lane_ms"])
        print(f"| {clip.name} | {r['frames']} | {r['lane_ms']:.2f} | {r['decode_ms']:.2f} | {r['both']:.1%} |")
    print()
    res: dict[str, list[dict[str, float]]] = {"without lanes": [], "with lanes": []}
    with tempfile.TemporaryDirectory() as tmp:
        video = make_clip(Path(tmp) / "clip.mp4", args.frames)  # the 720p clip looped
        for _ in range(args.rounds):
            for name, lanes in (("without lanes", False), ("with lanes", True)):
                res[name].append(pipeline(video, args.frames, lanes, args.workers))
    print(f"| road pipeline, 1280x720, YOLOX-nano 416 + band, {args.workers} workers, {args.frames} frames | CPU ms/frame (best) | wall fps (best) |")
    print("|---|---|---|")
    best = {}
    for name, rs in res.items():
        best[name] = min(x["cpu_ms"] for x in rs)
        print(f"| {name} | {best[name]:.1f} | {max(x['fps'] for x in rs):.1f} |")
    w, wo = best["with lanes"], best["without lanes"]
    print()
    print(f"lane detection inside the pipeline: {w - wo:.1f} ms CPU a frame, {(w - wo) / w:.1%} of the road pipeline's CPU")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
