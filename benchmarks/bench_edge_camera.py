"""Frames dropped per minute by the live camera path on this machine: the shared 720p highway
clip served as a live 30 fps camera (``ffmpeg -re``, looped, resampled to 30 fps) through
``FfmpegFrameSource`` (ring of 8) into YOLOX-nano (ONNX Runtime, the configured detector), for
``--seconds``. Baseline in the same run: the detector alone on one decoded frame, before and
after the live run (its ceiling; the two differ by what else the shared machine was doing).

    .venv/bin/python benchmarks/bench_edge_camera.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from saferoad.adapters.detectors import build_model_detector
from saferoad.adapters.video.live import FfmpegFrameSource
from saferoad.config import SaferoadConfig

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAFEROAD_SHARED", REPO.parent / "shared")).resolve()


def _model_fps(detector: object, frame: object, seconds: float = 5.0) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        detector.detect(frame)  # type: ignore[attr-defined]
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    video = SHARED / "data" / "video" / "highway_vehicles_720p.mp4"
    detector = build_model_detector(SaferoadConfig())

    src = FfmpegFrameSource(str(video), 1280, 720, realtime=True, loop_file=True, fps=30, ring=8)
    try:
        first = src.read(timeout_s=20)
        assert first is not None, src.stats.last_error
        model_fps = [_model_fps(detector, first)]  # baseline, before and after the live run
        # live: take the oldest frame in the ring, detect, repeat
        start = src.stats.frames, src.stats.dropped
        processed, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            f = src.read(timeout_s=2.0)
            if f is not None:
                detector.detect(f)
                processed += 1
        took = time.perf_counter() - t0
        decoded = src.stats.frames - start[0]
        dropped = src.stats.dropped - start[1]
        model_fps.append(_model_fps(detector, first))
    finally:
        src.close()
    print(f"live 720p camera at 30 fps for {took:.0f} s: {decoded} frames decoded ({decoded / took:.1f} fps), "
          f"{processed} detected ({processed / took:.1f} fps), {dropped} dropped = {dropped / took * 60:.0f} per minute "
          f"({dropped / max(decoded, 1):.0%}); restarts {src.stats.restarts}")
    print(f"baseline, YOLOX-nano alone on one frame (same run, before / after): {model_fps[0]:.1f} / {model_fps[1]:.1f} fps")


if __name__ == "__main__":
    main()
