"""The road camera's view of a scenario: projection and exact ground-truth boxes.

The camera sits at the ego's front (the ego's ``s`` is its front bumper, where a dashcam's
view starts), ``height_m`` above the road, pitched down by ``pitch_deg``, looking along the
ego's heading. Camera axes: x right, y down, z forward (OpenCV). Pinhole without distortion.

``distance_m`` of an object is its longitudinal distance in the ego's frame from the camera
to the object's nearest face (for a lead vehicle: the bumper-to-bumper gap) — what
flat-road monocular geometry (``Z = f·H / (y − y_horizon)``) estimates from the box bottom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from saferoad.domain.simulation.model import CameraSim, Scenario
from saferoad.domain.simulation.sensors import sample_times
from saferoad.domain.types import FloatArray, IntArray

NEAR_M = 0.5
"""Near clipping plane (metres in front of the lens)."""


def frame_times(duration_s: float, fps: float) -> FloatArray:
    return sample_times(duration_s, fps, "camera fps")


@dataclass(frozen=True, slots=True)
class EgoPoses:
    """Camera position (world x, y) and heading for each frame."""

    t: FloatArray
    x: FloatArray
    y: FloatArray
    heading: FloatArray
    s: FloatArray
    v: FloatArray


def ego_poses(sc: Scenario, t: FloatArray) -> EgoPoses:
    e = sc.ego
    return EgoPoses(
        t,
        np.interp(t, e.t, e.x),
        np.interp(t, e.t, e.y),
        np.interp(t, e.t, e.heading),
        np.interp(t, e.t, e.s),
        np.interp(t, e.t, e.v),
    )


def to_camera(
    cam: CameraSim, poses: EgoPoses, wx: FloatArray, wy: FloatArray, wz: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """World points ``(F, P)`` (or broadcastable) to camera coordinates ``(xc, yc, zc)``
    and the ego-frame forward distance, for each frame's pose."""
    h = poses.heading[:, None]
    dx = wx - poses.x[:, None]
    dy = wy - poses.y[:, None]
    fwd = dx * np.cos(h) + dy * np.sin(h)
    left = -dx * np.sin(h) + dy * np.cos(h)
    p = math.radians(cam.pitch_deg)
    yc0 = -(wz - cam.height_m)
    xc = -left
    yc = yc0 * math.cos(p) - fwd * math.sin(p)
    zc = yc0 * math.sin(p) + fwd * math.cos(p)
    return xc, yc, zc, fwd


def project(cam: CameraSim, xc: FloatArray, yc: FloatArray, zc: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Pixel coordinates of camera-frame points (only meaningful where ``zc > 0``)."""
    f = cam.fx
    z = np.where(zc > 1e-6, zc, 1e-6)
    u: FloatArray = f * xc / z + cam.width / 2.0
    v: FloatArray = f * yc / z + cam.height / 2.0
    return u, v


def horizon_row(cam: CameraSim) -> float:
    """Image row of the horizon of a flat road."""
    return cam.height / 2.0 - cam.fx * math.tan(math.radians(cam.pitch_deg))


# Corners of a unit box: x (forward) 0..1, y (left) -0.5..0.5, z (up) 0..1.
_UNIT_BOX = np.array(
    [[0, -0.5, 0], [0, 0.5, 0], [0, 0.5, 1], [0, -0.5, 1],
     [1, -0.5, 0], [1, 0.5, 0], [1, 0.5, 1], [1, -0.5, 1]],
    dtype=np.float64,
)  # fmt: skip
BOX_EDGES = (
    (0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
    (0, 4), (1, 5), (2, 6), (3, 7),
)  # fmt: skip
BOX_FACES = {
    "rear": (0, 1, 2, 3),
    "front": (4, 5, 6, 7),
    "right": (0, 4, 7, 3),
    "left": (1, 5, 6, 2),
    "top": (3, 2, 6, 7),
}
"""Face corner indices of :func:`box_corners` (rear = the face at the object's ``s``)."""


def box_corners(
    sc: Scenario,
    s: FloatArray,
    d: FloatArray,
    length: float,
    width: float,
    height: float,
    z0: float = 0.0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """World corners ``(F, 8)`` x, y, z of boxes whose rear-centre is at road ``(s, d)``,
    aligned with the road's heading there."""
    x0, y0, h, _ = sc.road.at(s)
    x0 = x0 - d * np.sin(h)
    y0 = y0 + d * np.cos(h)
    u = _UNIT_BOX
    f = u[:, 0] * length
    lft = u[:, 1] * width
    ch, sh = np.cos(h)[:, None], np.sin(h)[:, None]
    wx = x0[:, None] + f * ch - lft * sh
    wy = y0[:, None] + f * sh + lft * ch
    wz = np.broadcast_to(z0 + u[:, 2] * height, wx.shape).astype(np.float64)
    return wx, wy, wz


@dataclass(frozen=True, slots=True)
class ObjectView:
    """One object across all frames: its clipped image box (NaN where not listed), its
    distance, and whether it is listed in a frame."""

    track_id: int
    cls: str
    xyxy: FloatArray
    """(F, 4) pixels."""
    distance_m: FloatArray
    visible: IntArray
    """(F,) 1 where the box is listed in detections.json."""
    attributes: list[dict[str, str]] = field(default_factory=list)
    """Per-frame attributes (empty when the class has none)."""
    corners: tuple[FloatArray, FloatArray, FloatArray] | None = None
    """World corners (F, 8) used to render a box-shaped object."""


def _clipped_boxes(
    cam: CameraSim, xc: FloatArray, yc: FloatArray, zc: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Image boxes of 8-corner boxes clipped at the near plane, then to the image.
    Returns ``(xyxy (F, 4), any_in_front (F,) as float)``."""
    pts_x, pts_y, ok = [], [], []
    front = zc > NEAR_M
    u, v = project(cam, xc, yc, zc)
    pts_x.append(u)
    pts_y.append(v)
    ok.append(front)
    for a, b in BOX_EDGES:
        za, zb = zc[:, a], zc[:, b]
        crosses = (za > NEAR_M) != (zb > NEAR_M)
        denom = np.where(crosses, zb - za, 1.0)
        r = np.where(crosses, (NEAR_M - za) / denom, 0.0)
        ix = xc[:, a] + r * (xc[:, b] - xc[:, a])
        iy = yc[:, a] + r * (yc[:, b] - yc[:, a])
        iu, iv = project(cam, ix, iy, np.full_like(ix, NEAR_M))
        pts_x.append(iu[:, None])
        pts_y.append(iv[:, None])
        ok.append(crosses[:, None])
    px = np.concatenate(pts_x, axis=1)
    py = np.concatenate(pts_y, axis=1)
    m = np.concatenate(ok, axis=1)
    inf = np.inf
    x1 = np.where(m, px, inf).min(axis=1)
    x2 = np.where(m, px, -inf).max(axis=1)
    y1 = np.where(m, py, inf).min(axis=1)
    y2 = np.where(m, py, -inf).max(axis=1)
    xyxy = np.column_stack(
        [
            np.clip(x1, 0, cam.width),
            np.clip(y1, 0, cam.height),
            np.clip(x2, 0, cam.width),
            np.clip(y2, 0, cam.height),
        ]
    )
    any_front: FloatArray = np.asarray(m.any(axis=1), dtype=np.float64)
    return xyxy, any_front


def _view(
    sc: Scenario,
    cam_pts: tuple[FloatArray, FloatArray, FloatArray],
    track_id: int,
    cls: str,
    corners: tuple[FloatArray, FloatArray, FloatArray],
    distance: FloatArray,
) -> ObjectView:
    """The view of an object whose corners are at ``cam_pts`` (camera frame, ``(F, 8)``).

    Only the frames within range (``0 < distance <= max_range_m``) can list the box, so only
    their boxes are computed: every step is per frame, so the boxes are the same as over all
    frames (most frames of a long drive see a sign or a car from far beyond range)."""
    cam = sc.camera
    xc, yc, zc = cam_pts
    near = np.flatnonzero((distance > 0) & (distance <= cam.max_range_m))
    xyxy = np.full((distance.shape[0], 4), np.nan)
    visible = np.zeros(distance.shape[0], dtype=bool)
    if near.size:
        box, any_front = _clipped_boxes(cam, xc[near], yc[near], zc[near])
        w = box[:, 2] - box[:, 0]
        h = box[:, 3] - box[:, 1]
        listed = (any_front > 0) & (w >= cam.min_box_px) & (h >= cam.min_box_px)
        visible[near] = listed
        xyxy[near[listed]] = box[listed]
    return ObjectView(track_id, cls, xyxy, distance, visible.astype(np.int64), [], corners)


def _distance(fwd: FloatArray, vehicle: bool) -> FloatArray:
    """An object's distance from its corners' forward distances ``(F, 8)``: a vehicle's nearest
    corner ahead (-1 with none ahead), another object's nearest corner."""
    if not vehicle:
        out: FloatArray = fwd.min(axis=1)
        return out
    dist = np.min(np.where(fwd > 0, fwd, np.inf), axis=1)
    return np.where(np.isfinite(dist), dist, -1.0)


def _subset(poses: EgoPoses, idx: IntArray) -> EgoPoses:
    return EgoPoses(poses.t[idx], poses.x[idx], poses.y[idx], poses.heading[idx], poses.s[idx], poses.v[idx])


def _object_view(
    sc: Scenario,
    poses: EgoPoses,
    track_id: int,
    cls: str,
    road_sd: tuple[FloatArray, FloatArray],
    dims: tuple[float, float, float, float],
    *,
    vehicle: bool = False,
    for_labels: bool = False,
) -> ObjectView:
    """The view of a box ``dims`` (length, width, height, bottom above the road) whose
    rear-centre is at road ``(s, d)`` in each frame.

    ``for_labels``: the corners, boxes and distance are computed only in the frames where a
    corner can be ahead of the camera and within its range (the horizontal distance of a
    corner from the rear-centre is at most ``hypot(length, width / 2)``; 1 m of margin), the
    rest are not listed; ``distance_m`` there is NaN and ``corners`` is ``None``. In the
    frames computed every step is the same per-frame arithmetic, so what is listed, its box
    and its distance are those of the full view."""
    cam = sc.camera
    s, d = road_sd
    length, width, height, z0 = dims
    if not for_labels:
        c = box_corners(sc, s, d, length, width, height, z0)
        xc, yc, zc, fwd = to_camera(cam, poses, *c)
        return _view(sc, (xc, yc, zc), track_id, cls, c, _distance(fwd, vehicle))
    rx, ry = sc.road.world(s, d)
    fwd_ref = (rx - poses.x) * np.cos(poses.heading) + (ry - poses.y) * np.sin(poses.heading)
    reach = math.hypot(length, width / 2.0) + 1.0
    idx = np.flatnonzero((fwd_ref - reach <= cam.max_range_m) & (fwd_ref + reach > 0.0))
    n = s.shape[0]
    xyxy = np.full((n, 4), np.nan)
    distance = np.full(n, np.nan)
    visible = np.zeros(n, dtype=np.int64)
    if idx.size:
        c = box_corners(sc, s[idx], d[idx], length, width, height, z0)
        xc, yc, zc, fwd = to_camera(cam, _subset(poses, idx), *c)
        near = _view(sc, (xc, yc, zc), track_id, cls, c, _distance(fwd, vehicle))
        xyxy[idx], distance[idx], visible[idx] = near.xyxy, near.distance_m, near.visible
    return ObjectView(track_id, cls, xyxy, distance, visible, [], None)


def object_views(sc: Scenario, t: FloatArray, *, for_labels: bool = False) -> list[ObjectView]:
    """Every actor of ``sc`` as the road camera sees it at frame times ``t``.

    ``for_labels``: only what the ground truth reads (:func:`~saferoad.domain.simulation.truth.road_labels`:
    vehicles, stop signs and traffic lights, without the lamps' per-frame attributes, and
    computed only in the frames where they can be listed, see :func:`_object_view`), for a
    recording that writes neither ``detections.json`` nor video: what is listed, its boxes
    and distances are those of the full list."""
    poses = ego_poses(sc, t)
    views: list[ObjectView] = []
    n = t.shape[0]
    for veh in sc.vehicles:
        sd = (np.interp(t, sc.t, veh.s), np.interp(t, sc.t, veh.d))
        dims = (veh.length_m, veh.width_m, veh.height_m, 0.0)
        views.append(_object_view(sc, poses, veh.track_id, "vehicle", sd, dims, vehicle=True, for_labels=for_labels))
    for ped in () if for_labels else sc.pedestrians:
        sd = (np.interp(t, sc.t, ped.s), np.interp(t, sc.t, ped.d))
        views.append(_object_view(sc, poses, ped.track_id, "person", sd, (0.3, 0.5, ped.height_m, 0.0)))
    for sign in sc.stop_signs:
        sd = (np.full(n, sign.s), np.full(n, sign.d))
        dims = (0.05, sign.size_m, sign.size_m, sign.height_m)
        views.append(_object_view(sc, poses, sign.track_id, "stop_sign", sd, dims, for_labels=for_labels))
    for light in sc.lights:
        sd = (np.full(n, light.s), np.full(n, light.d))
        dims = (0.3, 0.35, 0.95, light.height_m)
        v = _object_view(sc, poses, light.track_id, "traffic_light", sd, dims, for_labels=for_labels)
        if for_labels:
            views.append(v)
            continue
        lamps = light.lamp_at(t)
        views.append(
            ObjectView(
                v.track_id, v.cls, v.xyxy, v.distance_m, v.visible,
                [{"lamp": lamp} for lamp in lamps], v.corners,
            )
        )
    return views


def last_visible_time(view: ObjectView, t: FloatArray) -> float | None:
    """Time of the last frame in which ``view`` is listed (``None`` if never)."""
    idx = np.flatnonzero(view.visible)
    return float(t[idx[-1]]) if idx.size else None
