"""How often YOLOX-nano finds the simulator's rendered road users (docs/simulator.md,
"What a COCO detector sees").

    .venv/bin/python scripts/sim_detection_rates.py

Renders `tailgating`, `lead_braking` (lead vehicle: every 4th frame, IoU >= 0.5), `stop_sign`
and `red_light` (every 2nd frame, IoU >= 0.3: boxes of 4-27 px) by day and night with the
scenario defaults, passes each frame through the encoder's colour conversion (BGR -> I420 ->
BGR) and counts frames where the ONNX detector (default card and threshold) reports a box
of the object's class over the ground-truth box, by gap (`distance_m`) bins.
"""

from __future__ import annotations

import cv2
import numpy as np

from saferoad.adapters.detectors import build_detector
from saferoad.adapters.simulation.render import SceneRenderer
from saferoad.config import load_config
from saferoad.domain.simulation import SCENARIOS
from saferoad.domain.simulation.camera import frame_times, object_views
from saferoad.domain.types import Frame
from saferoad.observability import configure_logging

CASES = (("tailgating", "vehicle", 4, 0.5), ("lead_braking", "vehicle", 4, 0.5),
         ("stop_sign", "stop_sign", 2, 0.3), ("red_light", "traffic_light", 2, 0.3))  # fmt: skip
BINS = (10.0, 20.0, 35.0, 60.0, float("inf"))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = np.maximum(a[:2], b[:2])
    x2, y2 = np.minimum(a[2:], b[2:])
    inter = max(0.0, float(x2 - x1)) * max(0.0, float(y2 - y1))
    return inter / float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def main() -> None:
    configure_logging("WARNING")
    det = build_detector(load_config(None, {"perception": {"detector": "onnx"}}))
    for night in (False, True):
        for name, cls, step, min_iou in CASES:
            sc = SCENARIOS[name].make(["camera.night=true"] if night else [], seed=0)
            t = frame_times(sc.duration_s, sc.camera.fps)
            views = object_views(sc, t)
            r = SceneRenderer(sc, t, views)
            objs = [v for v in views if v.cls == cls]
            counts: dict[float, list[float]] = {}
            for f in range(0, t.shape[0], step):
                vis = [v for v in objs if v.visible[f]]
                if not vis:
                    continue
                v = min(vis, key=lambda v: float(v.distance_m[f]))
                yuv = cv2.cvtColor(r.frame(f), cv2.COLOR_BGR2YUV_I420)
                img = np.asarray(cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420), dtype=np.uint8)
                d = det.detect(Frame(f, float(t[f]), img))
                hit = any(c.value == cls and _iou(b, v.xyxy[f]) >= min_iou for b, c in zip(d.xyxy, d.classes, strict=True))
                upper = next(b for b in BINS if v.distance_m[f] < b)
                c = counts.setdefault(upper, [0, 0, 0.0])
                c[0] += hit
                c[1] += 1
                c[2] += float(v.xyxy[f][2] - v.xyxy[f][0])
            cells = "  ".join(f"<{u:g} m: {h:.0f}/{n:.0f} (box {w / n:.0f} px)" for u, (h, n, w) in sorted(counts.items()))
            print(f"{name:13s} {'night' if night else 'day  '} {cells}", flush=True)


if __name__ == "__main__":
    main()
