"""Camera calibration files → :class:`~saferoad.domain.geometry.CameraModel`.

Read by suffix and content:

* KITTI ``calib/*.txt``: the ``P2:`` row (left colour camera's 3x4 projection) gives
  fx, fy, cx, cy; KITTI's camera is 1.65 m above the road, level (its setup page), which
  is what ``height_m``/``pitch_deg`` default to for this format.
* ``camera.toml``: the keys of ``meta.toml``'s ``[camera]`` table (docs/recording-format.md)
  — ``width``, ``height``, ``fx``, ``fy``, ``cx``, ``cy`` or ``hfov_deg``, ``height_m``,
  ``pitch_deg``, ``roll_deg``, ``lateral_offset_m`` — at top level or under ``[camera]``.
* A 3x3 intrinsic matrix as text (comma2k19's ``camera_intrinsics.txt``: ``[[910, 0, 582],
  [0, 910, 437], [0, 0, 1]]``).

Image size: files without one (KITTI, matrices) take it from the frames (``width``,
``height`` arguments); a ``camera.toml`` size is scaled to the frames when they differ.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

from saferoad.domain.geometry import CameraModel
from saferoad.domain.types import CameraIntrinsics, CameraMount

KITTI_HEIGHT_M = 1.65
_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _num(path: Path, key: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError(f"{path}: {key} must be a finite number, got {v!r}")
    return float(v)


def camera_from_table(
    t: dict[str, Any], path: Path, width: int | None = None, height: int | None = None
) -> CameraModel:
    """A camera from a ``[camera]``-style table (meta.toml / camera.toml keys)."""
    known = {"width", "height", "fx", "fy", "cx", "cy", "hfov_deg", "height_m", "pitch_deg",
             "roll_deg", "lateral_offset_m", "time_offset_s"}
    unknown = sorted(set(t) - known)
    if unknown:
        raise ValueError(f"{path}: [camera]: unknown keys {unknown}")
    w = int(_num(path, "width", t["width"])) if "width" in t else width
    h = int(_num(path, "height", t["height"])) if "height" in t else height
    if w is None or h is None:
        raise ValueError(f"{path}: [camera]: width and height are required")
    if w <= 0 or h <= 0:
        raise ValueError(f"{path}: [camera]: width/height must be > 0")
    if "fx" in t:
        fx = _num(path, "fx", t["fx"])
        fy = _num(path, "fy", t.get("fy", fx))
        intr = CameraIntrinsics(
            fx, fy, _num(path, "cx", t.get("cx", w / 2)), _num(path, "cy", t.get("cy", h / 2)), w, h
        )
    else:
        hfov = _num(path, "hfov_deg", t.get("hfov_deg", 90.0))
        if not 1.0 < hfov < 179.0:
            raise ValueError(f"{path}: hfov_deg {hfov} out of range (1, 179)")
        intr = CameraIntrinsics.from_fov(w, h, hfov)
    if intr.fx <= 0 or intr.fy <= 0:
        raise ValueError(f"{path}: fx/fy must be > 0")
    mount = CameraMount(
        height_m=_num(path, "height_m", t.get("height_m", 1.3)),
        pitch_deg=_num(path, "pitch_deg", t.get("pitch_deg", 0.0)),
        roll_deg=_num(path, "roll_deg", t.get("roll_deg", 0.0)),
        lateral_offset_m=_num(path, "lateral_offset_m", t.get("lateral_offset_m", 0.0)),
    )
    if mount.height_m <= 0:
        raise ValueError(f"{path}: height_m must be > 0")
    cam = CameraModel(intr, mount)
    if width is not None and height is not None:
        cam = cam.scaled(width, height)
    return cam


def load_camera(path: str | Path, width: int | None = None, height: int | None = None) -> CameraModel:
    """Read a calibration file (see the module docstring)."""
    return load_camera_setup(path, width, height)[0]


def load_camera_setup(
    path: str | Path, width: int | None = None, height: int | None = None
) -> tuple[CameraModel, bool]:
    """The camera and whether the file states its pitch (camera.toml with ``pitch_deg``;
    KITTI, whose rig is level); where it does not, perception may estimate it."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: camera file not found") from None
    except UnicodeDecodeError:
        raise ValueError(f"{p}: not a text calibration file") from None
    if p.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{p}: not valid TOML: {err}") from None
        table = data.get("camera", data)
        if not isinstance(table, dict):
            raise ValueError(f"{p}: [camera] must be a table")
        return camera_from_table(table, p, width, height), "pitch_deg" in table
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("P2:"):
            vals = [float(x) for x in _NUM.findall(line[3:])]
            if len(vals) != 12:
                raise ValueError(f"{p}:{lineno}: P2 must have 12 numbers, got {len(vals)}")
            if width is None or height is None:
                raise ValueError(f"{p}: KITTI calibration has no image size; pass width/height")
            intr = CameraIntrinsics(vals[0], vals[5], vals[2], vals[6], width, height)
            return CameraModel(intr, CameraMount(height_m=KITTI_HEIGHT_M)), True
    vals = [float(x) for x in _NUM.findall(text)]
    if len(vals) == 9 and vals[1] == 0 and vals[3] == 0 and vals[8] == 1:
        if width is None or height is None:
            raise ValueError(f"{p}: an intrinsic matrix has no image size; pass width/height")
        intr = CameraIntrinsics(vals[0], vals[4], vals[2], vals[5], width, height)
        if intr.fx <= 0 or intr.fy <= 0:
            raise ValueError(f"{p}: fx/fy must be > 0")
        return CameraModel(intr), False
    raise ValueError(
        f"{p}: not a camera file saferoad reads (camera.toml, KITTI calib with P2, 3x3 matrix)"
    )
