"""Lane markings from the road camera: the ego's place in its lane, lane changes the camera
sees and ``lane_departure`` (docs/events.md, docs/perception.md).

The departure rule starts from openpilot's lane departure warning
(``selfdrive/selfdrived/ldw.py``): line probability > 0.5, the line within 1.08 m of the
camera, above 31 mph, quiet for 5 s after a blinker.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from saferoad.config.base import Section


class LanesConfig(Section):
    """Lane markings, lane departure and camera lane changes (road camera)."""

    enabled: bool = Field(True, description="Find the lane markings in every road-camera frame of a video (lanes.parquet, lane_departure, camera lane changes).")
    detector: Literal["classical"] = Field(
        "classical", description="Lane-marking detector: classical = Canny + Hough back-projected to a bird's-eye view (adapters/video/lane_markings.py)."
    )
    min_line_confidence: float = Field(
        0.5, gt=0, le=1, description="A line counts as seen at this confidence or more (openpilot: lane line probability > 0.5)."
    )
    departure_line_distance_m: float = Field(
        1.08, gt=0, description="lane_departure when a seen line comes closer to the camera than this (openpilot: 1.08 m, the wheels at the marking)."
    )
    departure_min_speed_mps: float = Field(
        13.9, ge=0, description="No lane_departure below this speed (openpilot LDW_MIN_SPEED: 31 mph = 13.9 m/s)."
    )
    departure_min_duration_s: float = Field(
        0.3, ge=0, description="The line must stay that close this long (a few frames: one bad frame does not warn)."
    )
    departure_merge_gap_s: float = Field(
        0.5, ge=0, description="Stretches of a line that close less than this apart are one departure (a frame measured just beyond the threshold does not split it)."
    )
    quiet_after_lane_change_s: float = Field(
        5.0, ge=0, description="No lane_departure from a lane change's start until this long after its end (openpilot: 5 s after a blinker)."
    )
    turn_signal_quiet_s: float = Field(
        5.0, ge=0, description="No lane_departure toward the side the turn signal (can.csv turn_signal, the live CAN feed) showed, from the signal's start until this long after it went off (openpilot's LDW: 5 s blinker cooldown; ISO 17361 allows suppression on the driver's signalled intent)."
    )
    max_gap_s: float = Field(
        1.0, gt=0, description="Observations farther apart than this are not compared (no lane change is inferred across a gap)."
    )
    max_lateral_speed_mps: float = Field(
        4.0, gt=0, description="A line that moved farther since the last frame than this speed allows (plus gate_slack_m), and not by a lane width, is taken as not seen (a lane change peaks at about 2.8 m/s)."
    )
    gate_slack_m: float = Field(
        0.3, ge=0, description="Measurement noise allowed on top of max_lateral_speed_mps between frames."
    )
    flicker_s: float = Field(
        1.0, ge=0, description="A line crossing undone within this time is none (the car riding on the line)."
    )
    centre_band: float = Field(
        0.25, gt=0, lt=0.5, description="A lane change starts and ends where the ego is within this share of the lane width of its lane's centre."
    )
    fusion_margin_s: float = Field(
        1.0, ge=0, description="A camera lane change within this margin of the IMU's aggressive_lane_change gives it its direction."
    )
