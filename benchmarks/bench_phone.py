"""Phone detector cost on cabin frames, against the face pipeline measured in the same run.

    .venv/bin/python benchmarks/bench_phone.py [--rounds 2]

The frames of the shared ``head-pose-face-detection-male.gif`` (480x270) held in memory go
through the face pipeline (``FaceAnalyzer``: BlazeFace + FaceMesh, the baseline) and through
the shipped phone detector (``YoloxPhoneDetector``: YOLOX-nano at 416, "cell phone" only);
printed: CPU milliseconds a frame (process time, best of ``--rounds``) of each and the share
the phone detector adds to the cabin pipeline.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_perception import SHARED


def _best_ms(frames: list[Any], fn: Callable[[Any], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        c = time.process_time()
        for f in frames:
            fn(f)
        best = min(best, (time.process_time() - c) / len(frames) * 1e3)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    from saferoad.adapters.cabin.analyzer import FaceAnalyzer
    from saferoad.adapters.onnx.phone import YoloxPhoneDetector
    from saferoad.adapters.video import open_frames

    clip = SHARED / "data" / "cabin" / "head-pose-face-detection-male.gif"
    if not clip.is_file():
        sys.exit(f"needs {clip} (SAFEROAD_SHARED)")
    frames = list(open_frames(clip))
    models = SHARED / "models"
    ana = FaceAnalyzer(models_root=models)
    phone = YoloxPhoneDetector(models_root=models)
    print(f"cores {len(os.sched_getaffinity(0))}, load average at start {os.getloadavg()[0]:.2f}")
    face_ms = _best_ms(frames, ana.analyze, args.rounds)
    phone_ms = _best_ms(frames, lambda f: phone.detect(f, None), args.rounds)
    w, h = frames[0].width, frames[0].height
    print(f"| {clip.name}, {len(frames)} frames {w}x{h} | CPU ms/frame |")
    print("|---|---|")
    print(f"| baseline: face pipeline (BlazeFace + FaceMesh) | {face_ms:.2f} |")
    print(f"| phone detector (YOLOX-nano 416, cell phone) | {phone_ms:.2f} |")
    print(f"the phone detector adds {phone_ms / face_ms:.0%} to the face pipeline's CPU a frame")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
