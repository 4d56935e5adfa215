"""Replay detector: deterministic detections read from a labels file.

Two formats (docs/recording-format.md):

* saferoad's ``detections.json`` — ``{"width", "height", "fps", "frames": [{"frame",
  "t_s", "objects": [{"track_id", "cls", "score", "xyxy", "distance_m", "attributes"}]}]}``.
  ``distance_m`` (simulated ground truth) and ``attributes`` (``{"lamp": "red"}``) are
  kept; the labelled ``track_id`` is kept as ``attributes["source_track_id"]``.
* MOT Challenge text — ``frame,id,x,y,w,h,conf[,class,visibility | ,x,y,z]`` with 1-based
  frames. The MOT17/20 class column maps 1, 2, 7 → person; 3, 6 → vehicle; 4 → bicycle;
  5 → vehicle (motorbike); 8-12 (distractors, occluders, reflections) are dropped; a
  missing or −1 class is ``default_cls``. Rows whose ``conf`` is 0 are dropped (MOT
  ground truth marks ignored boxes that way).

Frames are looked up by their index (the source frame number, so a stride still lines
up). A frame the file does not mention has no detections. When the video's size differs
from the file's ``width``/``height``, boxes are scaled to the video (a warning says so).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from saferoad.adapters.jsonl import read_json
from saferoad.domain.types import Detections, Frame, RoadClass
from saferoad.observability import get_logger

log = get_logger("replay")

MOT_CLASSES: dict[int, RoadClass | None] = {
    1: RoadClass.PERSON,
    2: RoadClass.PERSON,
    3: RoadClass.VEHICLE,
    4: RoadClass.BICYCLE,
    5: RoadClass.VEHICLE,
    6: RoadClass.VEHICLE,
    7: RoadClass.PERSON,
    8: None,
    9: None,
    10: None,
    11: None,
    12: None,
}


@dataclass(frozen=True, slots=True)
class LabelsFile:
    path: Path
    frames: dict[int, Detections]
    width: int | None
    height: int | None
    fps: float | None
    t_s: dict[int, float] | None = None
    """Frame index → time (s) where a ``detections.json`` gives every frame's ``t_s``
    (what a recording without a video is walked by); None otherwise."""


def _fail(path: Path, where: str, msg: str) -> ValueError:
    return ValueError(f"{path}: {where}: {msg}")


def _parse_json(path: Path) -> LabelsFile:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise _fail(path, "(root)", 'expected an object with a "frames" list')

    def num(v: Any, where: str, name: str) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise _fail(path, where, f"{name} must be a finite number, got {v!r}")
        return float(v)

    def size(name: str) -> int | None:
        v = data.get(name)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise _fail(path, "(root)", f"{name} must be an integer > 0, got {v!r}")
        return int(v)

    width, height = size("width"), size("height")
    fps = data.get("fps")
    if fps is not None and not num(fps, "(root)", "fps") > 0:
        raise _fail(path, "(root)", f"fps must be > 0, got {fps!r}")
    frames: dict[int, Detections] = {}
    times: dict[int, float] = {}
    for fi, fr in enumerate(data["frames"]):
        where = f"frames[{fi}]"
        if not isinstance(fr, dict):
            raise _fail(path, where, "expected an object")
        idx = fr.get("frame")
        if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
            raise _fail(path, where, f"frame must be an integer >= 0, got {idx!r}")
        if idx in frames:
            raise _fail(path, where, f"frame {idx} listed twice")
        if "t_s" in fr:
            times[idx] = num(fr["t_s"], where, "t_s")
        objs = fr.get("objects", [])
        if not isinstance(objs, list):
            raise _fail(path, where, "objects must be a list")
        boxes, scores, classes, dists, labels, attrs = [], [], [], [], [], []
        for oi, o in enumerate(objs):
            ow = f"{where}.objects[{oi}]"
            if not isinstance(o, dict):
                raise _fail(path, ow, "expected an object")
            try:
                cls = RoadClass(str(o.get("cls")))
            except ValueError:
                raise _fail(
                    path, ow, f"cls {o.get('cls')!r} is not one of {[c.value for c in RoadClass]}"
                ) from None
            xyxy = o.get("xyxy")
            if not isinstance(xyxy, list) or len(xyxy) != 4:
                raise _fail(path, ow, "xyxy must be a list of 4 numbers")
            b = [num(v, ow, "xyxy") for v in xyxy]
            if b[2] <= b[0] or b[3] <= b[1]:
                raise _fail(path, ow, f"xyxy {b} has x2 <= x1 or y2 <= y1")
            score = num(o.get("score", 1.0), ow, "score")
            if not 0.0 <= score <= 1.0:
                raise _fail(path, ow, f"score {score} not in [0, 1]")
            dist = o.get("distance_m")
            d = math.nan if dist is None else num(dist, ow, "distance_m")
            if not math.isnan(d) and d < 0:
                raise _fail(path, ow, f"distance_m {d} is negative")
            a = o.get("attributes") or {}
            if not isinstance(a, dict):
                raise _fail(path, ow, "attributes must be an object")
            a = dict(a)
            if "track_id" in o:
                a["source_track_id"] = o["track_id"]
            boxes.append(b)
            scores.append(score)
            classes.append(cls)
            dists.append(d)
            labels.append(str(o.get("label", cls.value)))
            attrs.append(a)
        frames[idx] = Detections(
            xyxy=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
            scores=np.asarray(scores, dtype=np.float64),
            classes=tuple(classes),
            distance_m=np.asarray(dists, dtype=np.float64),
            labels=tuple(labels),
            attributes=tuple(attrs),
        )
    return LabelsFile(
        path, frames, width, height, None if fps is None else float(fps),
        times if len(times) == len(frames) else None,
    )


def _parse_mot(path: Path, default_cls: RoadClass) -> LabelsFile:
    rows: dict[int, list[tuple[list[float], float, RoadClass, int]]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for lineno, rec in enumerate(csv.reader(fh), 1):
            if not rec or not "".join(rec).strip():
                continue
            if len(rec) < 7:
                raise ValueError(f"{path}:{lineno}: expected at least 7 fields (frame,id,x,y,w,h,conf), got {len(rec)}")
            try:
                vals = [float(x) for x in rec]
            except ValueError:
                raise ValueError(f"{path}:{lineno}: fields must be numbers: {','.join(rec)}") from None
            if not all(math.isfinite(v) for v in vals[:7]):
                raise ValueError(f"{path}:{lineno}: non-finite value")
            frame, tid, x, y, w, h, conf = vals[:7]
            if frame < 1 or frame != int(frame):
                raise ValueError(f"{path}:{lineno}: frame must be an integer >= 1 (MOT is 1-based), got {rec[0]}")
            if w <= 0 or h <= 0:
                raise ValueError(f"{path}:{lineno}: width/height must be > 0, got {w}, {h}")
            if conf <= 0:
                continue
            cls: RoadClass | None = default_cls
            # MOT16-20 ground truth: column 8 is the class; a 10-column det file has x,y,z = -1.
            if len(vals) == 9 and vals[7] != -1:
                ci = int(vals[7])
                if ci not in MOT_CLASSES:
                    raise ValueError(f"{path}:{lineno}: unknown MOT class {ci}")
                cls = MOT_CLASSES[ci]
            if cls is None:
                continue
            rows.setdefault(int(frame) - 1, []).append(([x, y, x + w, y + h], min(conf, 1.0), cls, int(tid)))
    frames = {
        f: Detections(
            xyxy=np.asarray([r[0] for r in rs], dtype=np.float64),
            scores=np.asarray([r[1] for r in rs], dtype=np.float64),
            classes=tuple(r[2] for r in rs),
            distance_m=np.full(len(rs), np.nan),
            labels=tuple(r[2].value for r in rs),
            attributes=tuple({"source_track_id": r[3]} if r[3] >= 0 else {} for r in rs),
        )
        for f, rs in rows.items()
    }
    return LabelsFile(path, frames, None, None, None)


def load_labels(path: str | Path, default_cls: RoadClass = RoadClass.PERSON) -> LabelsFile:
    """Read a ``detections.json`` or MOT text file (by suffix: ``.json`` is saferoad's)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: labels file not found")
    if p.suffix.lower() == ".json":
        return _parse_json(p)
    return _parse_mot(p, default_cls)


class ReplayDetector:
    """A :class:`~saferoad.ports.detector.Detector` that returns the labelled boxes of
    the frame with the same index."""

    def __init__(self, path: str | Path, default_cls: RoadClass = RoadClass.PERSON) -> None:
        self.labels = load_labels(path, default_cls)
        self.name = f"replay:{self.labels.path.name}"
        self._warned = False

    def detect(self, frame: Frame) -> Detections:
        det = self.labels.frames.get(frame.index)
        if det is None:
            return Detections.empty()
        lw, lh = self.labels.width, self.labels.height
        if lw and lh and (lw, lh) != (frame.width, frame.height):
            if not self._warned:
                log.warning(
                    "replay_rescaled", path=str(self.labels.path), labels_size=[lw, lh],
                    frame_size=[frame.width, frame.height],
                )
                self._warned = True
            s = np.array([frame.width / lw, frame.height / lh] * 2)
            return Detections(
                det.xyxy * s, det.scores, det.classes, det.distance_m, det.labels, det.attributes
            )
        return det

    def close(self) -> None:
        return None
