"""Lane lines on the road plane (a bird's-eye view) and the ego's place in its lane.

A lane-marking detector gives line segments in image pixels; :func:`ground_segments` maps
them onto the road plane with the camera's geometry (flat road, the same back-projection
the distance estimates use), which turns the image into a bird's-eye view in metres:
vehicle frame, x forward, y left, origin under the camera. There the markings of a
straight or gently curved road are nearly parallel to x, a lane width apart.

:func:`observe_lanes` fits one shape to all the frame's segments (markings are parallel:
the road's curvature ``c`` and the car's heading ``b`` in ``y = a + b·x + c·x²``,
:func:`road_shape`), groups segments by their lateral offset from that shape (within
``cluster_tol_m``) into lines, gives each line its own heading where its paint spans 8 m or
more and its position at the camera ``a`` from its nearest 12 m of paint, and picks the ego
lane: of the lines left and right of the camera, the pair a lane's width apart that the paint
supports best. Each line has a confidence in [0, 1]: the length of road along which paint was
seen, over ``full_support_m`` (a dashed line of 3 m dashes every 12 m shows about 8 m of paint
over the 4-30 m read), times a penalty when the residual is larger than a marking's width
(a curve the shape does not follow, or segments of different things grouped together), and a
line whose nearest paint is more than 15 m ahead loses trust linearly to none at 25 m (a long
extrapolation to the camera). Night, worn paint and curves therefore come out as low
confidence or no line at all, never as a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from saferoad.domain.geometry import CameraModel
from saferoad.domain.types import FloatArray


@dataclass(frozen=True, slots=True)
class LaneLine:
    """One lane line on the road plane: ``y = a + b·x + c·x²`` (metres, vehicle frame,
    left +), seen between ``x_near_m`` and ``x_far_m``."""

    a: float
    b: float
    c: float
    confidence: float
    x_near_m: float
    x_far_m: float
    support_m: float
    """Length of road (m) along which paint of this line was seen."""
    rms_m: float
    """Residual of the fit (m)."""

    def y_at(self, x: float) -> float:
        return self.a + self.b * x + self.c * x * x


@dataclass(frozen=True, slots=True)
class LaneObservation:
    """The ego lane in one frame: its left and right lines where seen (``None``: unknown)."""

    t_s: float
    frame: int
    left: LaneLine | None
    right: LaneLine | None

    @property
    def width_m(self) -> float | None:
        """Lane width at the camera, when both lines are seen."""
        if self.left is None or self.right is None:
            return None
        return self.left.a - self.right.a

    @property
    def offset_m(self) -> float | None:
        """The camera's lateral offset from the lane centre (left +), when both lines are seen."""
        if self.left is None or self.right is None:
            return None
        return -(self.left.a + self.right.a) / 2.0

    @property
    def confidence(self) -> float:
        """Confidence of offset and width: the smaller line confidence (0 with a line missing)."""
        if self.left is None or self.right is None:
            return 0.0
        return min(self.left.confidence, self.right.confidence)


def ground_segments(camera: CameraModel, segments_px: FloatArray, max_range_m: float = 60.0) -> FloatArray:
    """Image segments (N, 4: u1, v1, u2, v2) on the road plane (M, 4: x1, y1, x2, y2 in
    metres); segments with an end on or above the horizon or beyond ``max_range_m`` are
    dropped."""
    seg = np.asarray(segments_px, dtype=np.float64).reshape(-1, 4)
    if len(seg) == 0:
        return np.zeros((0, 4))
    p1 = camera.pixel_to_ground(seg[:, :2])
    p2 = camera.pixel_to_ground(seg[:, 2:])
    ok = (
        np.isfinite(p1).all(axis=1) & np.isfinite(p2).all(axis=1)
        & (p1[:, 0] > 0) & (p2[:, 0] > 0) & (p1[:, 0] <= max_range_m) & (p2[:, 0] <= max_range_m)
    )
    out: FloatArray = np.concatenate([p1[ok, :2], p2[ok, :2]], axis=1)
    return out


def observe_lanes(
    t_s: float,
    frame: int,
    ground: FloatArray,
    *,
    x_near_m: float = 4.0,
    x_far_m: float = 30.0,
    cluster_tol_m: float = 0.45,
    max_slope: float = 0.35,
    full_support_m: float = 8.0,
    rms_ok_m: float = 0.15,
    min_width_m: float = 2.2,
    max_width_m: float = 5.0,
) -> LaneObservation:
    """The ego lane's lines from one frame's ground segments (see the module docstring)."""
    lines = fit_lines(
        ground, x_near_m=x_near_m, x_far_m=x_far_m, cluster_tol_m=cluster_tol_m,
        max_slope=max_slope, full_support_m=full_support_m, rms_ok_m=rms_ok_m,
    )
    lefts = [ln for ln in lines if ln.a > 0]
    rights = [ln for ln in lines if ln.a <= 0]
    pairs = [
        (lf, rt) for lf in lefts for rt in rights if min_width_m <= lf.a - rt.a <= max_width_m
    ]
    if pairs:
        # the pair a lane's width apart that the paint supports best (a stray segment near
        # the centre does not make a lane with either real line)
        lp, rp = max(pairs, key=lambda lr: lr[0].confidence + lr[1].confidence)
        return LaneObservation(t_s, frame, lp, rp)
    # no pair: the surer of the nearest line on each side
    left = min(lefts, key=lambda ln: ln.a, default=None)
    right = max(rights, key=lambda ln: ln.a, default=None)
    if left is not None and right is not None:
        if left.confidence >= right.confidence:
            return LaneObservation(t_s, frame, left, None)
        return LaneObservation(t_s, frame, None, right)
    return LaneObservation(t_s, frame, left, right)


def fit_lines(
    ground: FloatArray,
    *,
    x_near_m: float = 4.0,
    x_far_m: float = 30.0,
    cluster_tol_m: float = 0.45,
    max_slope: float = 0.35,
    full_support_m: float = 8.0,
    rms_ok_m: float = 0.15,
) -> list[LaneLine]:
    """Every line the ground segments (N, 4) show, in lateral order. The markings of a road
    are parallel: one shape ``y = b·x + c·x²`` (the car's heading to the road, the road's
    curvature) is fitted to all segments' slopes at once (:func:`road_shape`), then each
    segment's lateral offset from that shape groups it into a line."""
    g = np.asarray(ground, dtype=np.float64).reshape(-1, 4)
    if len(g) == 0:
        return []
    # x increasing within each segment
    swap = g[:, 2] < g[:, 0]
    g = np.where(swap[:, None], g[:, [2, 3, 0, 1]], g)
    dx = g[:, 2] - g[:, 0]
    keep = (dx > 0.3) & (g[:, 2] >= x_near_m) & (g[:, 0] <= x_far_m)
    g, dx = g[keep], dx[keep]
    if len(g) == 0:
        return []
    slope = (g[:, 3] - g[:, 1]) / dx
    keep = np.abs(slope) <= max_slope
    g = g[keep]
    if len(g) == 0:
        return []
    b, c, inlier = road_shape(g)
    g = g[inlier]
    pts = [_points(seg, x_near_m, x_far_m) for seg in g]
    off = np.array([
        float(np.average(y - b * x - c * x * x, weights=1.0 / (x * x))) if len(x) else math.nan
        for x, y in pts
    ])
    ok = np.isfinite(off)
    idx_all = np.flatnonzero(ok)
    if len(idx_all) == 0:
        return []
    order = idx_all[np.argsort(off[idx_all])]
    groups: list[list[int]] = [[int(order[0])]]
    for i in order[1:]:
        if off[i] - off[groups[-1][-1]] <= cluster_tol_m:
            groups[-1].append(int(i))
        else:
            groups.append([int(i)])
    out = []
    for idx in groups:
        x = np.concatenate([pts[i][0] for i in idx])
        y = np.concatenate([pts[i][1] for i in idx])
        if len(x) < 3:
            continue
        # the shared curvature, the line's own heading where its paint spans enough road
        # (an uncalibrated camera's pitch or height error makes true parallels diverge
        # linearly), weights 1/x (a pixel's lateral error on the road grows with distance)
        yc = y - c * x * x
        bb = float(np.polyfit(x, yc, 1, w=1.0 / x)[0]) if np.ptp(x) >= 8.0 else b
        o = yc - bb * x
        # the line at the camera from its nearest ``NEAR_FIT_M`` of paint (far paint, a few
        # pixels wide, carries most of the bias)
        near = x <= float(x.min()) + NEAR_FIT_M
        aa = float(np.average(o[near], weights=1.0 / x[near] ** 2))
        rms = float(np.sqrt(np.mean((o - aa) ** 2)))
        support = _union_length([(max(x_near_m, float(s[0])), min(x_far_m, float(s[2]))) for s in g[idx]])
        trust_near = float(np.clip((25.0 - float(x.min())) / 10.0, 0.0, 1.0))
        conf = min(1.0, support / full_support_m) * min(1.0, rms_ok_m / max(rms, 1e-9)) * trust_near
        out.append(LaneLine(aa, bb, c, conf, float(x.min()), float(x.max()), support, rms))
    return out


NEAR_FIT_M = 12.0
"""A line's position at the camera comes from its nearest this many metres of paint."""


def road_shape(g: FloatArray, min_span_m: float = 10.0) -> tuple[float, float, np.ndarray]:
    """The shape ``y = b·x + c·x²`` all markings share, from the segments' slopes
    (``slope = b + 2c·x`` at each segment's middle; least squares weighted by ground length
    over distance, then again without segments more than 0.05 (or 3 median deviations) off:
    a vehicle's edge or a shadow), and which segments fit it. With the segments spanning less
    than ``min_span_m`` of road the curvature is not estimated (``c = 0``)."""
    dx = g[:, 2] - g[:, 0]
    xm = (g[:, 0] + g[:, 2]) / 2.0
    s = (g[:, 3] - g[:, 1]) / dx
    w = np.hypot(dx, g[:, 3] - g[:, 1]) / xm
    inlier = np.ones(len(g), dtype=bool)
    b = c = 0.0
    for _ in range(3):
        sel = inlier
        if sel.sum() >= 3 and np.ptp(xm[sel]) >= min_span_m:
            a_mat = np.stack([np.ones(int(sel.sum())), 2.0 * xm[sel]], axis=1) * np.sqrt(w[sel])[:, None]
            sol, *_ = np.linalg.lstsq(a_mat, s[sel] * np.sqrt(w[sel]), rcond=None)
            b, c = float(sol[0]), float(sol[1])
        else:
            b, c = float(np.average(s[sel], weights=w[sel])) if sel.any() else 0.0, 0.0
        r = np.abs(s - (b + 2.0 * c * xm))
        mad = float(np.median(r[inlier])) if inlier.any() else 0.0
        new = r <= max(0.05, 3.0 * 1.4826 * mad)
        if new.sum() < 2 or (new == inlier).all():
            inlier = new if new.sum() >= 2 else inlier
            break
        inlier = new
    return b, c, inlier


def _points(seg: FloatArray, x_near: float, x_far: float) -> tuple[FloatArray, FloatArray]:
    """Points every 0.5 m along a ground segment, inside the window."""
    x1, y1, x2, y2 = (float(v) for v in seg)
    n = max(2, math.ceil((x2 - x1) / 0.5) + 1)
    f = np.linspace(0.0, 1.0, n)
    x = x1 + f * (x2 - x1)
    y = y1 + f * (y2 - y1)
    sel = (x >= x_near) & (x <= x_far)
    return x[sel], y[sel]


def _union_length(iv: list[tuple[float, float]]) -> float:
    iv = sorted(iv)
    total = 0.0
    cur_a, cur_b = iv[0]
    for a, b in iv[1:]:
        if a > cur_b:
            total += max(0.0, cur_b - cur_a)
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    return total + max(0.0, cur_b - cur_a)
