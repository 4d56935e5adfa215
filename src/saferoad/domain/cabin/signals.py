"""Per-frame driver-monitoring signals: pure geometry on landmarks and image statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from saferoad.domain.types import FloatArray, ImageArray

NAN = float("nan")


@dataclass(frozen=True, slots=True)
class CabinSample:
    """What one cabin frame says about the driver (a row of ``cabin.csv`` / ``cabin.parquet``).

    Where ``face`` is false every measurement is NaN and ``eyes_closed`` is false: an absent
    face is never evidence of closed eyes. ``mouth_open`` is the inner-lip gap over the mouth
    width (about 0.0-0.1 closed, 0.3 talking or smiling, 0.6 and more yawning).
    ``obstructed`` is true when the frame is dark or uniform (lens covered); it is false when
    the source cannot tell (a signal track without images).
    """

    frame: int
    t_s: float
    face: bool
    ear_left: float = NAN
    ear_right: float = NAN
    eyes_closed: bool = False
    yaw_deg: float = NAN
    pitch_deg: float = NAN
    roll_deg: float = NAN
    mouth_open: float = NAN
    obstructed: bool = False
    lid_left: float = NAN
    lid_right: float = NAN
    """Upper-lid aperture of each eye (see :func:`upper_lid_aperture`), where the source
    measures it (the face pipeline; not part of ``cabin.csv``)."""
    phone_score: float = 0.0
    """The phone detector's best phone score (0: none; ``saferoad.domain.cabin.phone``)."""
    phone_at: str | None = None
    """Where that phone is held: ``face``, ``hand``, or ``None`` (none, or not held)."""

    @property
    def ear(self) -> float:
        """Mean eye aspect ratio of the two eyes (NaN without a face)."""
        vals = [v for v in (self.ear_left, self.ear_right) if math.isfinite(v)]
        return sum(vals) / len(vals) if vals else NAN

    @property
    def openness(self) -> float:
        """The eye-openness measure the closure rule compares with the driver's baseline: the
        mean upper-lid aperture where measured, else the mean eye aspect ratio."""
        lids = [v for v in (self.lid_left, self.lid_right) if math.isfinite(v)]
        return sum(lids) / len(lids) if lids else self.ear

    @classmethod
    def no_face(cls, frame: int, t_s: float, obstructed: bool = False) -> CabinSample:
        return cls(frame=frame, t_s=t_s, face=False, obstructed=obstructed)


def eye_aspect_ratio(points: FloatArray) -> float:
    """Eye aspect ratio (Soukupová and Čech, 2016) of six eye-contour points ``(6, 2)`` in the
    order p1 (outer corner), p2, p3 (upper lid), p4 (inner corner), p5, p6 (lower lid):

        EAR = (|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|)

    About 0.3 for an open eye, under 0.2 closed. NaN for a degenerate eye (zero width)."""
    p = np.asarray(points, dtype=np.float64)
    if p.shape != (6, 2):
        raise ValueError(f"eye_aspect_ratio needs 6 points (6, 2), got {p.shape}")
    width = float(np.linalg.norm(p[0] - p[3]))
    if not width > 0.0:
        return NAN
    height = float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4]))
    return height / (2.0 * width)


def upper_lid_aperture(points: FloatArray, up: FloatArray) -> float:
    """Height of the upper lid (mean of p2, p3 of the six EAR points) above the line through
    the eye corners (p1, p4), over the eye width; ``up`` points to the top of the face.

    A closure brings the upper lid down to the corner line (about 0), while a smile's squint
    raises the *lower* lid and barely moves the upper one, so this separates the two better
    than the eye aspect ratio, which both shrink."""
    p = np.asarray(points, dtype=np.float64)
    if p.shape != (6, 2):
        raise ValueError(f"upper_lid_aperture needs 6 points (6, 2), got {p.shape}")
    d = p[3] - p[0]
    width = float(np.linalg.norm(d))
    if not width > 0.0:
        return NAN
    n = np.array([d[1], -d[0]]) / width
    if float(np.dot(n, np.asarray(up, np.float64))) < 0:
        n = -n
    return float((np.dot(p[1] - p[0], n) + np.dot(p[2] - p[0], n)) / 2.0) / width


def mouth_open_ratio(
    upper: FloatArray, lower: FloatArray, left: FloatArray, right: FloatArray
) -> float:
    """Inner-lip gap over mouth width (points are ``(2,)`` image coordinates)."""
    width = float(np.linalg.norm(np.asarray(left, np.float64) - np.asarray(right, np.float64)))
    if not width > 0.0:
        return NAN
    return (
        float(np.linalg.norm(np.asarray(upper, np.float64) - np.asarray(lower, np.float64))) / width
    )


def frame_obstruction(
    image: ImageArray, dark_level: float, uniform_std: float
) -> tuple[bool, float, float]:
    """Is the lens covered or the cabin black? Returns ``(obstructed, mean, std)`` of the
    frame's brightness (0-255, mean of the colour channels on a 4x subsampled grid).

    A covered lens gives a dark frame (mean under ``dark_level``) or a uniform one (standard
    deviation under ``uniform_std``, e.g. a hand or a sticker right on the lens)."""
    if image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(f"frame_obstruction needs an H x W (x C) image, got shape {image.shape}")
    sub = image[::4, ::4].astype(np.float32)
    grey = sub.mean(axis=2) if sub.ndim == 3 else sub
    mean = float(grey.mean())
    std = float(grey.std())
    return (mean < dark_level or std < uniform_std), mean, std
