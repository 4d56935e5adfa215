"""Lane-marking lines and the road's vanishing point, for the camera pitch.

Lane markings are bright, straight, slanted edges in the lower part of the image. We find
them with Canny + the probabilistic Hough transform (OpenCV), keep segments slanted 12-75°
whose lower end is left of centre for left-leaning and right of centre for right-leaning
markings, and intersect them robustly (least squares, then refit on the segments passing
within a few pixels). The vanishing point's row is the horizon of a flat road, which gives
the pitch (``saferoad.domain.geometry.pitch_from_horizon``; Stein, Mano & Shashua).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from saferoad.domain.geometry import vanishing_point


@dataclass(frozen=True, slots=True)
class LaneEstimate:
    vanishing_point: tuple[float, float]
    n_left: int
    n_right: int
    residual_px: float
    segments: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 4)))
    """The inlier marking segments (x1, y1, x2, y2) in image pixels."""


def hough_segments(
    band: NDArray[np.uint8], y0: int, *, canny_low: int, threshold: int, min_length: int, max_gap: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Straight edge segments of a BGR image band whose first row is image row ``y0``: blur,
    Canny, probabilistic Hough. Returns the segments (N, 4: x1, y1, x2, y2 in image rows), their
    dx, dy and their angle from the horizontal in degrees (0-90)."""
    gray = cv2.cvtColor(band, cv2.COLOR_BGR2GRAY)
    gray = cv2.GaussianBlur(gray, (5, 5), 0)
    edges = cv2.Canny(gray, canny_low, 150)
    found: Any = cv2.HoughLinesP(
        edges, 1, np.pi / 180, threshold=threshold, minLineLength=min_length, maxLineGap=max_gap
    )
    if found is None:
        empty = np.zeros(0)
        return np.zeros((0, 4)), empty, empty, empty
    seg = found.reshape(-1, 4).astype(np.float64)
    seg[:, [1, 3]] += y0
    dx = seg[:, 2] - seg[:, 0]
    dy = seg[:, 3] - seg[:, 1]
    ang = np.degrees(np.abs(np.arctan2(dy, dx)))
    return seg, dx, dy, np.where(ang > 90, 180 - ang, ang)


def lane_segments(image: NDArray[np.uint8], top_frac: float = 0.4, bottom_frac: float = 0.9) -> NDArray[np.float64]:
    """Candidate lane-marking segments (N, 4) as x1, y1, x2, y2 in image pixels."""
    h, w = image.shape[:2]
    y0, y1 = int(h * top_frac), int(h * bottom_frac)
    seg, dx, dy, ang = hough_segments(
        image[y0:y1], y0, canny_low=60, threshold=max(12, w // 40), min_length=max(12, w // 50),
        max_gap=max(8, w // 60),
    )
    keep = (ang >= 12) & (ang <= 75)
    seg = seg[keep]
    dx, dy = dx[keep], dy[keep]
    # lower end of each segment
    lower_x = np.where(seg[:, 1] > seg[:, 3], seg[:, 0], seg[:, 2])
    slope_sign = np.sign(dx * dy)  # image coords: left markings rise to the right (< 0)
    left = (slope_sign < 0) & (lower_x < w * 0.55)
    right = (slope_sign > 0) & (lower_x > w * 0.45)
    out: NDArray[np.float64] = np.concatenate([seg[left], seg[right]])
    return out


def estimate_vanishing_point(image: NDArray[np.uint8], inlier_px: float | None = None) -> LaneEstimate | None:
    """The lane markings' vanishing point, or ``None`` when there are not markings on both
    sides (at least one left- and one right-leaning segment agreeing within
    ``inlier_px``, default 1% of the width)."""
    h, w = image.shape[:2]
    # work at most 640 px wide: lane markings survive, Canny + Hough cost 4x less at 720p
    k = min(1.0, 640.0 / w)
    small: NDArray[np.uint8] = image
    if k < 1:
        small = np.asarray(
            cv2.resize(image, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA), np.uint8
        )
    seg = lane_segments(small) / k
    if len(seg) < 2:
        return None
    tol = inlier_px if inlier_px is not None else 0.01 * w
    vp = vanishing_point(seg)
    for _ in range(3):
        if vp is None:
            return None
        d = _line_distance(seg, vp)
        inl = seg[d <= max(tol, np.percentile(d, 50))]
        if len(inl) < 2:
            return None
        vp = vanishing_point(inl)
    if vp is None:
        return None
    d = _line_distance(seg, vp)
    inl = seg[d <= tol]
    signs = np.sign((inl[:, 2] - inl[:, 0]) * (inl[:, 3] - inl[:, 1]))
    n_left, n_right = int(np.sum(signs < 0)), int(np.sum(signs > 0))
    if n_left == 0 or n_right == 0:
        return None
    vp = vanishing_point(inl)
    if vp is None or not (0 <= vp[0] < w and 0 <= vp[1] < h):
        return None
    res = float(np.median(_line_distance(inl, vp)))
    return LaneEstimate(vp, n_left, n_right, res, inl)


def lane_horizon(image: NDArray[np.uint8]) -> tuple[float, NDArray[np.float64]] | None:
    """Horizon row from the lane markings' vanishing point, and the marking segments: the
    ``HorizonEstimator`` perception estimates the camera's pitch with
    (``domain/frame_geometry``) where the pitch is not known."""
    est = estimate_vanishing_point(image)
    return (est.vanishing_point[1], est.segments) if est is not None else None


def _line_distance(seg: NDArray[np.float64], p: tuple[float, float]) -> NDArray[np.float64]:
    d = seg[:, 2:] - seg[:, :2]
    n = np.stack([-d[:, 1], d[:, 0]], axis=1)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    out: NDArray[np.float64] = np.abs(np.sum(n * (np.asarray(p) - seg[:, :2]), axis=1))
    return out
