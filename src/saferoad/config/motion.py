"""Thresholds of the inertial (harsh driving) event engine.

Defaults follow published practice (docs/events.md cites each one).
"""

from __future__ import annotations

from pydantic import Field

from saferoad.config.base import Section


class MotionConfig(Section):
    resample_hz: float = Field(100.0, gt=0, description="IMU resampling rate (Hz) before filtering.")
    lowpass_hz: float = Field(
        2.0, gt=0, description="Low-pass cut-off (Hz) applied to vehicle-frame acceleration."
    )
    braking_g: float = Field(
        0.38, gt=0, le=2, description="Harsh braking threshold in g (GPS Insight light vehicles 0.38 g)."
    )
    acceleration_g: float = Field(
        0.37, gt=0, le=2, description="Harsh acceleration threshold in g (GPS Insight 0.37 g)."
    )
    cornering_g: float = Field(
        0.38, gt=0, le=2, description="Harsh cornering lateral threshold in g (GPS Insight 0.38 g)."
    )
    lane_change_g: float = Field(
        0.25, gt=0, le=2, description="Peak lateral g of each half of an aggressive lane change."
    )
    min_duration_s: float = Field(
        0.1, ge=0, description="The threshold must be held this long (Digital Matter: 100 ms)."
    )
    hysteresis: float = Field(
        0.17, ge=0, lt=1, description="An event ends when the signal falls below (1 - hysteresis) x threshold (Digital Matter 17%)."
    )
    merge_gap_s: float = Field(
        1.0, ge=0, description="Events of one type closer than this are merged into one."
    )
    mounting: list[list[float]] | None = Field(
        None, description="Device-to-vehicle rotation (3x3 rows); unset = estimate from the data."
    )
