"""The live recorder's camera path on this machine: the shared 720p highway clip served as a live
30 fps camera (``ffmpeg -re``, looped) through ``FfmpegFrameSource`` into the live recorder's
inference stage (``LiveCamera``: YOLOX-nano, tracker, geometry, one frame at a time) for
``--seconds``, with the adaptive stride; baseline in the same run: the stride pinned at 1
(``edge.max_stride = 1``), where only the ring drops frames (the oldest, blindly). Prints frames
decoded, inferred and dropped per minute (ring / stride), the stride, the inference's load, and
the CPU (cores) and resident memory of the recorder process + its ffmpeg child.

    .venv/bin/python benchmarks/bench_edge_live.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from saferoad.adapters.detectors import build_model_detector
from saferoad.adapters.video.live import FfmpegFrameSource
from saferoad.application.edge_live import Heartbeats, LiveCamera, ResourceMeter
from saferoad.config import load_config, parse_assignments
from saferoad.domain.recording import RecordingMeta

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAFEROAD_SHARED", REPO.parent / "shared")).resolve()


def run(max_stride: int, seconds: float, video: Path) -> dict[str, float]:
    cfg = load_config(None, parse_assignments([f"edge.max_stride={max_stride}"]))
    detector = build_model_detector(cfg)
    meter = ResourceMeter()
    src = FfmpegFrameSource(str(video), 1280, 720, realtime=True, loop_file=True, fps=30, ring=cfg.edge.camera_ring)
    origin = time.monotonic()
    cam = LiveCamera(src, detector, cfg, RecordingMeta(), origin, Heartbeats(), width=1280, height=720).start()
    try:
        time.sleep(3.0)  # model warm-up and the decoder's start: not measured
        pid = src.pid
        meter.read([pid] if pid else [])
        s0 = cam.status(time.monotonic())
        t0 = time.monotonic()
        time.sleep(seconds)
        pid = src.pid
        cores, rss = meter.read([pid] if pid else [])
        s1 = cam.status(time.monotonic())
        took = time.monotonic() - t0
    finally:
        cam.close()
    per_min = 60.0 / took
    return {
        "decoded_per_min": (s1["decoded"] - s0["decoded"]) * per_min,
        "inferred_per_min": (s1["inferred"] - s0["inferred"]) * per_min,
        "dropped_ring_per_min": (s1["dropped_ring"] - s0["dropped_ring"]) * per_min,
        "dropped_stride_per_min": (s1["dropped_stride"] - s0["dropped_stride"]) * per_min,
        "stride": s1["stride"],
        "load": s1["inference_load"],
        "cores": cores or 0.0,
        "rss_mib": rss,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    video = SHARED / "data" / "video" / "highway_vehicles_720p.mp4"
    for name, max_stride in (("adaptive stride", 8), ("baseline, stride pinned at 1", 1)):
        r = run(max_stride, args.seconds, video)
        print(f"{name}: per minute {r['decoded_per_min']:.0f} decoded, {r['inferred_per_min']:.0f} inferred, "
              f"dropped {r['dropped_ring_per_min']:.0f} by the ring + {r['dropped_stride_per_min']:.0f} by the stride; "
              f"stride {r['stride']}, inference load {r['load']:.2f}; CPU {r['cores']:.2f} cores, RSS {r['rss_mib']:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
