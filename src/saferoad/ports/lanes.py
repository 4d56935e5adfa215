"""Lane-marking detector port.

A :class:`LaneDetector` finds the ego lane's markings in a road-camera frame and returns
them on the road plane (:class:`~saferoad.domain.lanes.LaneObservation`). saferoad ships a
classical one (``saferoad.adapters.video.lane_markings``: Canny + Hough, back-projected to a
bird's-eye view); a learned lane model can take its place behind the same method, its
lines and confidences being what the lane rules read.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from saferoad.domain.geometry import CameraModel
from saferoad.domain.lanes import LaneObservation
from saferoad.domain.types import Frame


@runtime_checkable
class LaneDetector(Protocol):
    """Finds the ego lane's lines in a frame."""

    name: str

    def detect(self, frame: Frame, camera: CameraModel) -> LaneObservation:
        """The lines of ``frame`` seen through ``camera`` (scaled to the frame); a detector
        may refine the camera's pitch from the markings itself (:attr:`camera` after)."""
        ...


class LaneDetectorFactory(Protocol):
    """Builds a lane detector (``adapters/video/lane_markings.ClassicalLaneDetector``);
    ``estimate_pitch``: it may refine the camera's pitch from the markings."""

    def __call__(self, *, estimate_pitch: bool) -> LaneDetector: ...
