"""The real ONNX detector (YOLOX-nano) on the simulator's rendered road video.

Measured (docs/simulator.md, "What a COCO detector sees"): at night the rendered lead car is
found in 43 of 47 sampled `tailgating` frames with a gap under 20 m (IoU >= 0.5 with the
ground-truth box); in daylight it is not (0 of 47, it scores as a `truck` below 0.2). The
tests pin the night case with margin and say plainly that daylight is not claimed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from saferoad.adapters.detectors import build_detector
from saferoad.adapters.recording import open_recording
from saferoad.adapters.replay.detector import ReplayDetector
from saferoad.adapters.video.frames import open_frames
from saferoad.config import load_config
from saferoad.entrypoints.wiring import analyze_recording, simulate

# a short tailgating drive: close in from 2.5 s to 0.5 s headway at 80 km/h (gap 11 m) over
# 2 s, follow 8 s, drop back; the rule's minimum duration is lowered to 3 s to fit
SHORT = ["duration_s=14", "at_s=1", "close_in_s=2", "hold_s=8", "camera.night=true"]
RULES = {"road_events": {"tailgating_min_duration_s": 3.0}}
NEAR_M = 15.0
"""Lead gaps below this are where the rate is asserted (measured 43/47 under 20 m; 86/87 under 15 m on this drive)."""
MIN_RATE = 0.7


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = np.maximum(a[:2], b[:2])
    x2, y2 = np.minimum(a[2:], b[2:])
    inter = max(0.0, float(x2 - x1)) * max(0.0, float(y2 - y1))
    area = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]))
    return inter / (area - inter)


@pytest.fixture(scope="module")
def night_tailgating(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("sim-onnx") / "rec"
    simulate("tailgating", out, assignments=SHORT, seed=2, config=load_config(None, RULES))
    return out


def test_onnx_finds_the_rendered_lead_car_at_night(night_tailgating: Path) -> None:
    cfg = load_config(None, {"perception": {"detector": "onnx"}})
    det = build_detector(cfg)
    truth = json.loads((night_tailgating / "detections.json").read_text())["frames"]
    hits, near = 0, 0
    for frame in open_frames(night_tailgating / "video.mp4"):
        lead = [o for o in truth[frame.index]["objects"] if o["cls"] == "vehicle" and o["distance_m"] < NEAR_M]
        if not lead:
            continue
        near += 1
        gt = np.array(lead[0]["xyxy"])
        d = det.detect(frame)
        hits += any(c.value == "vehicle" and _iou(b, gt) >= 0.5 for b, c in zip(d.xyxy, d.classes, strict=True))
    assert near >= 80  # ~10 s of 10 fps frames closer than 15 m
    assert hits / near >= MIN_RATE, f"lead found in {hits}/{near} frames nearer than {NEAR_M} m"


def test_onnx_analysis_finds_the_same_tailgating_as_replay(night_tailgating: Path) -> None:
    rec = open_recording(night_tailgating)
    assert rec.detections is not None
    cfg = load_config(None, {**RULES, "perception": {"detector": "onnx"}})
    replay = analyze_recording(rec, cfg, None, detector=ReplayDetector(rec.detections)).events
    onnx = analyze_recording(rec, cfg, None, detector=build_detector(cfg, rec)).events
    want = [e for e in replay if e.type.value == "tailgating"]
    got = [e for e in onnx if e.type.value == "tailgating"]
    assert len(want) == 1, replay
    assert len(got) == 1, onnx
    assert abs(got[0].start_s - want[0].start_s) <= 0.5
    assert abs(got[0].end_s - want[0].end_s) <= 0.5
