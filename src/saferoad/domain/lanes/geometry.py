"""Lane lines on the road plane (a bird's-eye view) and the ego's place in its lane.

A lane-marking detector gives line segments in image pixels; :func:`ground_segments` maps
them onto the road plane with the camera's geometry (flat road, the same back-projection
the distance estimates use), which turns the image into a bird's-eye view in metres:
vehicle frame, x forward, y left, origin under the camera. There the markings of a
straight or gently curved road are nearly parallel to x, a lane width apart.

:func:`observe_lanes` groups the ground segments of one frame into lines (segments whose
lateral positions at ``x_ref_m`` agree within ``cluster_tol_m``), fits each with
``y = a + b·x (+ c·x²)``, and picks the ego lane: the nearest line on each side at the
camera (``y(0) = a``), as the pair a lane's width apart that the paint supports best.
Each line has a confidence in [0, 1]: the length of road along which
paint was seen, over ``full_support_m`` (a dashed line of 3 m dashes every 12 m shows about
8 m of paint over the 6-40 m a camera reads), times a penalty when the fit's residual is
larger than a marking's width (a curve the line model cannot follow, or segments of
different things grouped together), and a line whose nearest paint is more than 15 m
ahead loses trust linearly to none at 25 m (a long extrapolation to the camera). Night, worn paint and curves therefore come out as
low confidence or no line at all, never as a guess.
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
    x_ref_m: float = 12.0,
    cluster_tol_m: float = 0.45,
    max_slope: float = 0.2,
    full_support_m: float = 8.0,
    rms_ok_m: float = 0.15,
    min_width_m: float = 2.2,
    max_width_m: float = 5.0,
) -> LaneObservation:
    """The ego lane's lines from one frame's ground segments (see the module docstring)."""
    lines = fit_lines(
        ground, x_near_m=x_near_m, x_far_m=x_far_m, x_ref_m=x_ref_m, cluster_tol_m=cluster_tol_m,
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
    x_ref_m: float = 12.0,
    cluster_tol_m: float = 0.45,
    max_slope: float = 0.2,
    full_support_m: float = 8.0,
    rms_ok_m: float = 0.15,
) -> list[LaneLine]:
    """Every line the ground segments (N, 4) show, lateral position order."""
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
    b = (g[:, 3] - g[:, 1]) / dx
    keep = np.abs(b) <= max_slope
    g, b = g[keep], b[keep]
    if len(g) == 0:
        return []
    y_ref = g[:, 1] + b * (x_ref_m - g[:, 0])
    order = np.argsort(y_ref)
    groups: list[list[int]] = [[int(order[0])]]
    for i in order[1:]:
        if y_ref[i] - y_ref[groups[-1][-1]] <= cluster_tol_m:
            groups[-1].append(int(i))
        else:
            groups.append([int(i)])
    out = []
    for idx in groups:
        line = _fit(g[idx], x_near_m, x_far_m, full_support_m, rms_ok_m)
        if line is not None:
            out.append(line)
    return out


NEAR_FIT_M = 12.0
"""The line's position and heading at the camera come from its nearest this many metres."""


def _fit(g: FloatArray, x_near: float, x_far: float, full_support: float, rms_ok: float) -> LaneLine | None:
    xs, ys = [], []
    for x1, y1, x2, y2 in g:
        n = max(2, math.ceil((x2 - x1) / 0.5) + 1)
        f = np.linspace(0.0, 1.0, n)
        xs.append(x1 + f * (x2 - x1))
        ys.append(y1 + f * (y2 - y1))
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    sel = (x >= x_near) & (x <= x_far)
    x, y = x[sel], y[sel]
    if len(x) < 3:
        return None
    span = float(x.max() - x.min())
    deg = 2 if span >= 25.0 and len(g) >= 2 else 1
    # a pixel's lateral error on the road grows with the distance: weights 1/x (polyfit
    # squares them: inverse variance)
    coef = np.polyfit(x, y, deg, w=1.0 / x)
    resid = y - np.polyval(coef, x)
    # the line at the camera: the fit's shape (heading, curvature), moved onto the nearest
    # ``NEAR_FIT_M`` of paint (far paint, a few pixels wide, carries most of the bias;
    # a short near piece alone gives a poor heading to extrapolate with)
    near_sel = x <= float(x.min()) + NEAR_FIT_M
    shape = np.polyval(np.concatenate([coef[:-1], [0.0]]), x)
    wn = 1.0 / x[near_sel] ** 2
    coef = coef.copy()
    coef[-1] = float(np.sum(wn * (y[near_sel] - shape[near_sel])) / np.sum(wn))
    resid = y - np.polyval(coef, x)
    rms = float(np.sqrt(np.mean(resid * resid)))
    c = float(coef[0]) if deg == 2 else 0.0
    bb = float(coef[-2])
    aa = float(coef[-1])
    # support: the union of the segments' x-intervals inside the window
    iv = sorted((max(x_near, float(s[0])), min(x_far, float(s[2]))) for s in g)
    support = 0.0
    cur_a, cur_b = iv[0]
    for a, b in iv[1:]:
        if a > cur_b:
            support += max(0.0, cur_b - cur_a)
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    support += max(0.0, cur_b - cur_a)
    # a line first seen far ahead is extrapolated a long way to the camera: trusted fully
    # with paint within 15 m, not at all when the nearest paint is 25 m away
    near = float(np.clip((25.0 - float(x.min())) / 10.0, 0.0, 1.0))
    conf = min(1.0, support / full_support) * min(1.0, rms_ok / max(rms, 1e-9)) * near
    return LaneLine(aa, bb, c, float(conf), float(x.min()), float(x.max()), support, rms)
