"""How sure a detector's box edges are, in model-input pixels, measured without labels.

    .venv/bin/python scripts/box_edge_noise.py [--zoom 2.0]

Every vehicle box (score >= 0.4) that the full-frame pass or the horizon-band pass of the
default YOLOX-nano detector finds whole on the shared road clips and frames is looked at
again through a window around it at ``--zoom`` times its pass's scale; the box found there
(same class, IoU >= 0.5) is the same object at another scale. If each edge's error is
sigma model-input pixels at any scale, an edge's difference between the two looks has
variance sigma² · (1/s1² + 1/s2²) in frame pixels, so each difference divided by
sqrt(1/s1² + 1/s2²) estimates sigma. Printed: the robust sd (1.4826 · MAD) and the RMS per
edge and for the width, overall and by the pass that found the box. The detector's
``BOX_EDGE_SIGMA_INPUT_PX`` (adapters/onnx/detector.py) comes from this. Errors common to
both looks (a box that stops short of a car's shaded side at every scale) do not show here:
the figure is a lower bound of the edge error against the truth.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from saferoad.adapters.detectors import build_detector
from saferoad.adapters.onnx.detector import ModelDetector, Window
from saferoad.adapters.video.frames import open_frames
from saferoad.config import load_config
from saferoad.domain.tracking import iou_matrix
from saferoad.domain.types import RoadClass


def robust_sd(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def pairs(det: ModelDetector, sources: list[tuple[Path, int]], zoom: float) -> np.ndarray:
    """Rows: x1, y1, x2, y2 differences (frame px), pass scale, zoom scale, box width."""
    rows = []
    in_w, in_h = det.card.input_width, det.card.input_height
    for src, stride in sources:
        for f in open_frames(src, stride=stride):
            inputs, info = det.preprocess(f)
            found = [(det.finish(*det.candidates(det.infer(inputs), info), f.width, f.height), info.scale_x)]
            windows = det.band_windows(f)
            if windows:
                found.append((det.finish(*det._window_pass(f.image, windows), f.width, f.height), windows[0].scale))
            for d, s in found:
                for k in range(len(d)):
                    if d.classes[k] is not RoadClass.VEHICLE or d.scores[k] < 0.4:
                        continue
                    b = d.xyxy[k].astype(np.float64)
                    sz = min(zoom * s, 2.5)
                    if max(b[2] - b[0], b[3] - b[1]) * sz > min(in_w, in_h) - 64:
                        continue  # would not fit whole with a margin
                    side_w, side_h = int(in_w / sz), int(in_h / sz)
                    x0 = int(np.clip((b[0] + b[2] - side_w) / 2, 0, max(0, f.width - side_w)))
                    y0 = int(np.clip((b[1] + b[3] - side_h) / 2, 0, max(0, f.height - side_h)))
                    win = Window(x0, y0, min(f.width, x0 + side_w), min(f.height, y0 + side_h), 0.0, 0.0, sz)
                    z = det.finish(*det._window_pass(f.image, [win]), f.width, f.height)
                    if len(z) == 0:
                        continue
                    iou = iou_matrix(b[None], z.xyxy.astype(np.float64))[0]
                    j = int(iou.argmax())
                    if iou[j] >= 0.5 and z.classes[j] is RoadClass.VEHICLE:
                        rows.append([*(b - z.xyxy[j]), s, sz, b[2] - b[0]])
    return np.array(rows).reshape(-1, 7)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zoom", type=float, default=2.0)
    args = ap.parse_args()
    data = Path(os.environ.get("SAFEROAD_SHARED", "../shared")) / "data"
    sources = [(data / "video" / "highway_solid_white_right.mp4", 3), (data / "video" / "highway_vehicles_720p.mp4", 2)]
    sources += [(p, 1) for p in sorted((data / "frames" / "bdd100k").glob("*.jpg"))]
    sources += [(p, 1) for p in sorted((data / "kitti-object" / "image_2").glob("*.png"))]
    sources += [(data / "comma2k19-segment" / "preview.png", 1)]
    det = build_detector(load_config())
    assert isinstance(det, ModelDetector)
    r = pairs(det, sources, args.zoom)
    norm = np.sqrt(1 / r[:, 4] ** 2 + 1 / r[:, 5] ** 2)
    print(f"{len(r)} pairs (zoom x{args.zoom}); box width median {np.median(r[:, 6]):.0f} frame px")
    print("| edge | sigma, model px (robust sd) | RMS |")
    print("|---|---|---|")
    for k, name in enumerate(("left", "top", "right", "bottom")):
        x = r[:, k] / norm
        print(f"| {name} | {robust_sd(x):.2f} | {np.sqrt(np.mean(x**2)):.2f} |")
    w = (r[:, 2] - r[:, 0]) / norm / np.sqrt(2)
    print(f"| width, per edge | {robust_sd(w):.2f} | {np.sqrt(np.mean(w**2)):.2f} |")
    for s in np.unique(r[:, 4].round(3)):
        m = r[:, 4].round(3) == s
        if m.sum() >= 5:
            print(f"found by the pass at scale {s}: {m.sum()} pairs, width per edge {robust_sd(w[m]):.2f} robust, "
                  f"{np.sqrt(np.mean(w[m] ** 2)):.2f} RMS model px")


if __name__ == "__main__":
    main()
