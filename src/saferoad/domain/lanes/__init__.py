"""Lane markings in a bird's-eye view, the ego's place in its lane, lane departures and
lane changes seen by the road camera (issue 20).

* :mod:`.geometry`: marking segments back-projected onto the road plane (the bird's-eye
  view of the camera geometry in :mod:`saferoad.domain.geometry`), grouped into lines,
  the ego lane's two lines with a confidence, the ego's lateral offset and the lane width.
* :mod:`.rules`: lane changes from the lines crossed, ``lane_departure`` (openpilot's lane
  departure warning as the starting point), the camera's lane changes fused with the IMU's
  ``aggressive_lane_change``.
"""

from saferoad.domain.lanes.geometry import (
    LaneLine,
    LaneObservation,
    ground_segments,
    observe_lanes,
)
from saferoad.domain.lanes.rules import (
    CameraLaneChange,
    LaneParams,
    LaneResult,
    fuse_lane_changes,
    lane_events,
)

__all__ = [
    "CameraLaneChange",
    "LaneLine",
    "LaneObservation",
    "LaneParams",
    "LaneResult",
    "fuse_lane_changes",
    "ground_segments",
    "lane_events",
    "observe_lanes",
]
