"""Issue 22: does a larger horizon-band scale bring far distances within 10%? Measured.

    .venv/bin/python scripts/far_band_scale.py [--scales packed,1.0,1.5,2.0] [--clip-stride 5]

For each band setting (``packed``: the default, one inference at the largest scale it allows;
a number: ``perception.band_scale``, the band laid over as many inferences as that scale takes)
the default road pipeline (``detect_sources``, what ``saferoad detect IMG --camera calib`` runs)
is run on:

* the shared KITTI frames with their calibration files: per labelled road user (Car, Truck,
  Pedestrian, Cyclist) the matched box (IoU >= 0.5) and its width against the label's box, the
  distance against the label's near face (``near_face_z``, as tests/perception/test_perception_far.py),
  the error, the stated sigma and z = error / sigma; recall (of 5) and boxes that are neither a
  labelled road user nor in a region KITTI labels otherwise (DontCare, Misc, Van);
* the comma2k19 preview (as the lead test: mount 1.22 m, pitch estimated from the lanes): the
  lead's distance against the radar's 29.3 m, and boxes on it;
* the shared clips (``highway_vehicles_720p`` and every ``--clip-stride``-th frame of
  ``highway_solid_white_right``): duplicate or fragment pairs (same class, the smaller box at
  least half inside the other), the issue's test.

Also printed: the band's scale and model inferences a frame on each source. Nothing is
tuned: the settings are the ones the docs' claim names (a band scale above 1.5).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from saferoad.adapters.counting_backend import CountingBackend
from saferoad.adapters.detectors.onnx import build_model_detector
from saferoad.adapters.onnx.detector import ModelDetector
from saferoad.adapters.video.calibration import load_camera_setup
from saferoad.adapters.video.frames import open_frames
from saferoad.adapters.video.lanes import lane_horizon
from saferoad.application.perception import run_perception
from saferoad.config import load_config
from saferoad.domain.geometry import DistanceEstimator
from saferoad.domain.tracking import iou_matrix
from saferoad.domain.types import CameraMount, TrackedObject
from saferoad.entrypoints.wiring import detect_sources

SHARED = Path(os.environ.get("SAFEROAD_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared"))
KITTI = ("000000", "000001", "000002")
ROAD_USERS = ("Car", "Truck", "Pedestrian", "Cyclist")
FIXED_PRIOR = {"Car": "car", "Truck": "truck"}
RADAR_LEAD_M = 29.3  # ../shared/data/README.md: the radar's lead at the preview frame


def near_face_z(f: list[str]) -> float:
    """Forward distance of the nearest corner of a KITTI label's 3D box (the documented
    ``distance_m``)."""
    w, length, z, ry = float(f[9]), float(f[10]), float(f[13]), float(f[14])
    xs = np.array([1, 1, -1, -1]) * length / 2
    zs = np.array([1, -1, 1, -1]) * w / 2
    return float(z + np.min(-np.sin(ry) * xs + np.cos(ry) * zs))


def detector(setting: str) -> tuple[ModelDetector, CountingBackend]:
    """The default road detector (``perception`` config, the card's horizon band) with the
    band at ``setting``: ``packed`` (one input) or a ``band_scale``; inferences counted and
    the band's scale recorded in ``det.seen_scales``."""
    det = build_model_detector(load_config())
    det.band_scale = None if setting == "packed" else float(setting)
    counter = CountingBackend(det.backend)
    det.backend = counter
    seen: set[float] = set()
    inputs_of = det.band_inputs

    def recording(frame: Any) -> list[Any]:
        inputs = inputs_of(frame)
        seen.update(round(w[0].scale, 3) for w in inputs)
        return inputs

    det.band_inputs = recording  # type: ignore[method-assign]
    det.seen_scales = seen  # type: ignore[attr-defined]
    return det, counter


def overlapping_pairs(objs: list[TrackedObject]) -> int:
    n = 0
    for i, a in enumerate(objs):
        for b in objs[i + 1 :]:
            if a.cls != b.cls:
                continue
            A, B = np.array(a.xyxy), np.array(b.xyxy)
            iw = max(0.0, min(A[2], B[2]) - max(A[0], B[0]))
            ih = max(0.0, min(A[3], B[3]) - max(A[1], B[1]))
            small = min((A[2] - A[0]) * (A[3] - A[1]), (B[2] - B[0]) * (B[3] - B[1]))
            n += int(small > 0 and iw * ih / small >= 0.5)
    return n


def kitti(setting: str, tmp: Path) -> dict[str, Any]:
    det, counter = detector(setting)
    base = SHARED / "data" / "kitti-object"
    rows, extra, calls, extra_boxes = [], 0, 0, []
    for k in KITTI:
        out = tmp / f"{setting}-{k}"
        before = counter.calls
        cfg = load_config()
        res = detect_sources([base / "image_2" / f"{k}.png"], out, cfg, camera_file=base / "calib" / f"{k}.txt", detector=det)
        assert res.error is None, res.error
        calls += counter.calls - before
        df = pq.read_table(out / "tracks.parquet").to_pandas()
        (frame,) = list(open_frames(base / "image_2" / f"{k}.png"))
        size_cue = DistanceEstimator(load_camera_setup(base / "calib" / f"{k}.txt", frame.width, frame.height)[0])
        lines = [ln.split() for ln in (base / "label_2" / f"{k}.txt").read_text().splitlines() if ln.split()]
        users = [ln for ln in lines if ln[0] in ROAD_USERS]
        other = np.array([[float(v) for v in r[4:8]] for r in lines if r[0] not in ROAD_USERS]).reshape(-1, 4)
        det_boxes = df[["x1", "y1", "x2", "y2"]].to_numpy(dtype=np.float64).reshape(-1, 4)
        lab = np.array([[float(v) for v in ln[4:8]] for ln in users])
        iou = iou_matrix(lab, det_boxes) if len(det_boxes) else np.zeros((len(users), 0))
        for i, ln in enumerate(users):
            truth = near_face_z(ln)
            row = {"frame": k, "cls": ln[0], "truth": truth, "label_w": lab[i, 2] - lab[i, 0], "label_h": lab[i, 3] - lab[i, 1]}
            if iou.shape[1] and iou[i].max() >= 0.5:
                j = int(iou[i].argmax())
                d, s = float(df.distance_m.iloc[j]), float(df.distance_sigma_m.iloc[j])
                fixed = FIXED_PRIOR.get(ln[0])  # the KITTI class's own COCO prior, whatever label the box got
                row["fixed_err"] = (float(size_cue.size(det_boxes[j : j + 1], [fixed])[0][0]) - truth) / truth if fixed else None
                row |= {"label": df.label.iloc[j], "box_w": det_boxes[j, 2] - det_boxes[j, 0], "box_h": det_boxes[j, 3] - det_boxes[j, 1], "d": d, "err": (d - truth) / truth,
                        "sigma": s, "z": (d - truth) / s}
            rows.append(row)
        matched = iou.max(axis=0) >= 0.5 if iou.shape[1] else np.zeros(0, dtype=bool)
        cx, cy = (det_boxes[:, 0] + det_boxes[:, 2]) / 2, (det_boxes[:, 1] + det_boxes[:, 3]) / 2
        in_other = ((cx[:, None] >= other[None, :, 0]) & (cx[:, None] <= other[None, :, 2])
                    & (cy[:, None] >= other[None, :, 1]) & (cy[:, None] <= other[None, :, 3])).any(axis=1)
        extra += int((~(matched | in_other)).sum())
        for j in np.flatnonzero(~(matched | in_other)):
            b = det_boxes[j]
            extra_boxes.append(f"{k} {df.cls.iloc[j]} {b[2] - b[0]:.0f}x{b[3] - b[1]:.0f} px at ({b[0]:.0f}, {b[1]:.0f}) "
                               f"score {df.score.iloc[j]:.2f}")
    return {"rows": rows, "extra": extra, "extra_boxes": extra_boxes, "calls": calls / len(KITTI),
            "scale": sorted(det.seen_scales)}  # type: ignore[attr-defined]


def comma(setting: str) -> dict[str, Any]:
    det, counter = detector(setting)
    seg = SHARED / "data" / "comma2k19-segment"
    frames = open_frames(seg / "preview.png")
    cam, _ = load_camera_setup(seg / "camera_intrinsics.txt", frames.width, frames.height)
    cam = cam.with_mount(CameraMount(height_m=1.22))
    ((_, objs),) = list(run_perception(frames, det, None, cam, load_config(), pitch_known=False, horizon=lane_horizon))
    lead = [o for o in objs if o.is_lead]
    d = lead[0].distance_m if lead else None
    return {"lead": d, "sigma": lead[0].attributes.get("distance_sigma_m") if lead else None,
            "pairs": overlapping_pairs(objs), "calls": counter.calls, "boxes": len(objs)}


def clips(setting: str, stride: int) -> dict[str, Any]:
    det, counter = detector(setting)
    pairs = boxes = n = 0
    for clip, s in (("highway_vehicles_720p.mp4", 1), ("highway_solid_white_right.mp4", stride)):
        for _f, objs in run_perception(open_frames(SHARED / "data" / "video" / clip, stride=s), det, None, None,
                                       load_config(), horizon=lane_horizon):
            n += 1
            boxes += len(objs)
            pairs += overlapping_pairs(objs)
    return {"pairs": pairs, "boxes_per_frame": boxes / n, "frames": n, "calls": counter.calls / n}


def fmt(x: Any, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", default="packed,1.0,1.5,2.0")
    ap.add_argument("--clip-stride", type=int, default=5)
    ap.add_argument("--no-clips", action="store_true", help="skip the clips' duplicate count")
    args = ap.parse_args()
    if not (SHARED / "data" / "kitti-object").is_dir():
        sys.exit(f"needs {SHARED}/data (SAFEROAD_SHARED)")
    settings = args.scales.split(",")
    print(f"load average at start {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        res = {s: kitti(s, Path(tmp)) for s in settings}
    print("\n| band | scale (KITTI) | inferences a KITTI frame | recall (of 5) | extra boxes | object | truth m | "
          "label w x h px | box w x h px | COCO label (size prior) | distance m | error | sigma m | z | "
          "size cue alone with the KITTI class's prior: error |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s, r in res.items():
        found = sum(1 for x in r["rows"] if "d" in x)
        for x in r["rows"]:
            print(f"| {s} | {r['scale']} | {r['calls']:.0f} | {found} | {r['extra']} | {x['frame']} {x['cls']} | "
                  f"{x['truth']:.2f} | {x['label_w']:.1f} x {x['label_h']:.1f} | {fmt(x.get('box_w'), '.1f')} x {fmt(x.get('box_h'), '.1f')} | {x.get('label', '-')} | {fmt(x.get('d'), '.2f')} | "
                  f"{fmt(x.get('err'), '+.1%')} | {fmt(x.get('sigma'), '.2f')} | {fmt(x.get('z'), '+.2f')} | "
                  f"{fmt(x.get('fixed_err'), '+.1%')} |")
    for s, r in res.items():
        for b in r["extra_boxes"]:
            print(f"extra box, band {s}: {b}")
    print("\n| band | comma2k19 lead m (radar 29.3) | error | sigma m | duplicate pairs | inferences | "
          "clips: duplicate/fragment pairs | boxes a frame | frames | inferences a frame |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in settings:
        c = comma(s)
        v = clips(s, args.clip_stride) if not args.no_clips else {}
        err = (c["lead"] - RADAR_LEAD_M) / RADAR_LEAD_M if c["lead"] is not None else None
        print(f"| {s} | {fmt(c['lead'], '.2f')} | {fmt(err, '+.1%')} | {fmt(c['sigma'], '.2f')} | {c['pairs']} | "
              f"{c['calls']} | {v.get('pairs', '-')} | {fmt(v.get('boxes_per_frame'), '.2f')} | {v.get('frames', '-')} | "
              f"{fmt(v.get('calls'), '.1f')} |", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
