"""Lane markings from the road camera: the ego's place in its lane, lane changes the camera
sees and ``lane_departure`` (docs/events.md, docs/perception.md).

The departure rule starts from openpilot's lane departure warning
(``selfdrive/selfdrived/ldw.py``): line probability > 0.5, the line within 1.08 m of the
camera, above 31 mph, quiet for 5 s after a blinker.

Every threshold of the lane rules is declared once, in the domain
(``domain/lanes/rules.LaneParams``): the ``[lanes]`` keys of the same names are derived from
those fields (their defaults, descriptions and bounds; ``config/derive.py``) and read back by
``application/stages/road_lanes.lane_params``. Only the stage's switch and its detector choice
are written here. No ``lanes`` key is a client option of ``saferoad serve``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias

from pydantic import Field

from saferoad.config.base import Section
from saferoad.config.derive import derived_section
from saferoad.domain.lanes.rules import LaneParams


class _LanesKeys(Section):
    """Lane markings, lane departure and camera lane changes (road camera)."""

    enabled: bool = Field(True, description="Find the lane markings in every road-camera frame of a video (lanes.parquet, lane_departure, camera lane changes).")
    detector: Literal["classical"] = Field(
        "classical", description="Lane-marking detector: classical = Canny + Hough back-projected to a bird's-eye view (adapters/video/lane_markings.py)."
    )


if TYPE_CHECKING:
    # the type checker sees the hand-written keys; the derived ones are read through
    # LaneParams (application/stages/road_lanes.lane_params)
    LanesConfig: TypeAlias = _LanesKeys
else:
    LanesConfig = derived_section("LanesConfig", _LanesKeys, LaneParams)
