"""The classical lane-marking detector (``LaneDetector`` port): Canny + probabilistic Hough
in the road part of the image, the segments back-projected onto the road plane (a bird's-
eye view in metres) and grouped into lines there (``saferoad.domain.lanes``).

* Works on at most 640 px wide frames (markings survive, Canny + Hough cost 4x less at 720p).
* Looks from a little below the horizon (``horizon_margin_deg``: farther markings are a few
  pixels wide) to the bottom of the frame.
* Keeps segments slanted at least 12° from the horizontal (a marking seen from the lane,
  including one straight ahead while the car crosses it) and brighter than the road on
  their sides... as Canny gives both edges of a painted line, the two edges fall a marking's
  width apart on the road and join one line there.
* The pitch: the camera's when the recording states it; otherwise, with ``estimate_pitch``,
  the median over the frames seen so far of the horizon that the markings' vanishing point
  gives (``adapters/video/lanes.py``, Stein, Mano & Shashua), tried every frame until the
  first estimate (no lines before it: the road plane is unknown), then every
  ``pitch_every`` frames.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from saferoad.adapters.video.lanes import estimate_vanishing_point, hough_segments
from saferoad.domain.geometry import CameraModel, pitch_from_horizon
from saferoad.domain.lanes import LaneObservation, ground_segments, observe_lanes
from saferoad.domain.types import FloatArray, Frame, ImageArray

MAX_WIDTH = 640


class ClassicalLaneDetector:
    """Lane lines from edges and Hough segments, no model."""

    name = "classical"

    def __init__(self, *, estimate_pitch: bool = False, pitch_every: int = 15, pitch_window: int = 25,
                 horizon_margin_deg: float = 2.0) -> None:
        self.estimate_pitch = estimate_pitch
        self.pitch_every = pitch_every
        self.rows: deque[float] = deque(maxlen=pitch_window)
        self.horizon_margin_deg = horizon_margin_deg
        self.camera: CameraModel | None = None
        self._n = 0

    def detect(self, frame: Frame, camera: CameraModel) -> LaneObservation:
        cam = camera.scaled(frame.width, frame.height)
        n = self._n
        self._n += 1
        if self.estimate_pitch:
            if not self.rows or n % self.pitch_every == 0:
                est = estimate_vanishing_point(frame.image)
                if est is not None:
                    self.rows.append(est.vanishing_point[1])
            if not self.rows:
                # no pitch yet: the road plane is unknown, so are the lines (a guessed pitch
                # of 0 put real lines a metre off)
                return LaneObservation(frame.t_s, frame.index, None, None)
            pitch = pitch_from_horizon(float(np.median(self.rows)), cam.intrinsics)
            cam = cam.with_mount(replace(cam.mount, pitch_deg=pitch))
        self.camera = cam
        seg = marking_segments(frame.image, cam, self.horizon_margin_deg)
        return observe_lanes(frame.t_s, frame.index, ground_segments(cam, seg))


def marking_segments(image: ImageArray, camera: CameraModel, horizon_margin_deg: float = 2.0) -> FloatArray:
    """Candidate marking segments (N, 4: u1, v1, u2, v2) in the pixels of ``image``."""
    h, w = image.shape[:2]
    k = min(1.0, MAX_WIDTH / w)
    small: Any = image
    if k < 1:
        small = cv2.resize(image, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    i = camera.intrinsics
    hz = camera.horizon_v() + i.fy * np.tan(np.radians(horizon_margin_deg))
    y0 = int(np.clip(hz * k, 0, sh - 8))
    seg, _, _, ang = hough_segments(
        small[y0:], y0, canny_low=50, threshold=max(8, sw // 80), min_length=max(8, sw // 80),
        max_gap=max(6, sw // 60),
    )
    out: FloatArray = seg[ang >= 12] / k
    return out
