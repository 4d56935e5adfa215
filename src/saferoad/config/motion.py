"""Thresholds of the inertial (harsh driving) event engine.

Defaults follow published practice (docs/events.md cites each one; the sources are gathered in
``../shared/design/published-practice.md``).
"""

from __future__ import annotations

from pydantic import Field

from saferoad.config.base import Section


class MotionConfig(Section):
    """Harsh braking, acceleration, cornering and aggressive lane changes from IMU and GPS."""

    resample_hz: float = Field(
        50.0, gt=0, le=1000, description="IMU resampling rate (Hz) before filtering."
    )
    lowpass_hz: float = Field(
        2.0,
        gt=0,
        description="Low-pass cut-off (Hz, 2nd-order Butterworth, zero phase) on acceleration and yaw rate: vehicle manoeuvres live below 2 Hz, road vibration above.",
    )
    braking_g: float = Field(
        0.38,
        gt=0,
        le=2,
        description="Harsh braking threshold in g (GPS Insight light vehicles 0.38 g; DOT 0.45 g; Digital Matter 4.4 m/s²).",
    )
    acceleration_g: float = Field(
        0.37, gt=0, le=2, description="Harsh acceleration threshold in g (GPS Insight 0.37 g)."
    )
    cornering_g: float = Field(
        0.38,
        gt=0,
        le=2,
        description="Harsh cornering lateral threshold in g (GPS Insight 0.38 g; Digital Matter 5.5 m/s² ≈ 0.56 g).",
    )
    lane_change_g: float = Field(
        0.3,
        gt=0,
        le=2,
        description="Peak lateral g of each half of an aggressive lane change (±0.3 g, the Japanese telematics platform's figure).",
    )
    braking_moderate_g: float = Field(
        0.23,
        gt=0,
        le=2,
        description="Graded manoeuvres: a braking from this peak (g) counts as moderate in summary.json manoeuvres (Verizon Connect: 5 mph lost in 1 s, 0.23 g).",
    )
    braking_hard_g: float = Field(
        0.32,
        gt=0,
        le=2,
        description="Graded manoeuvres: a braking from this peak (g) counts as hard, below braking_g, where it is harsh and an event (Progressive's hard brake and Verizon's moderate one: 7 mph in 1 s, 0.32 g).",
    )
    acceleration_moderate_g: float = Field(
        0.23, gt=0, le=2, description="Graded manoeuvres: moderate acceleration from this peak (g); as braking (speed change per second, Verizon / Bouncie)."
    )
    acceleration_hard_g: float = Field(
        0.32, gt=0, le=2, description="Graded manoeuvres: hard acceleration from this peak (g), below acceleration_g."
    )
    cornering_moderate_g: float = Field(
        0.23, gt=0, le=2, description="Graded manoeuvres: moderate turn from this lateral peak (g); GPS Insight uses one level for braking, acceleration and turning."
    )
    cornering_hard_g: float = Field(
        0.32, gt=0, le=2, description="Graded manoeuvres: hard turn from this lateral peak (g), below cornering_g."
    )
    lane_change_moderate_g: float = Field(
        0.18, gt=0, le=2, description="Graded manoeuvres: moderate lane change from this lateral peak (g): lane_change_g x 0.23/0.38, braking's ratio."
    )
    lane_change_hard_g: float = Field(
        0.25, gt=0, le=2, description="Graded manoeuvres: hard lane change from this lateral peak (g): lane_change_g x 0.32/0.38, braking's ratio."
    )
    min_duration_s: float = Field(
        0.1, ge=0, description="The threshold must be held this long (Digital Matter: 100 ms)."
    )
    hysteresis: float = Field(
        0.17,
        ge=0,
        lt=1,
        description="An event ends when the signal falls below (1 - hysteresis) x threshold (Digital Matter 17%).",
    )
    merge_gap_s: float = Field(
        1.5,
        ge=0,
        description="Pulses closer than this form one manoeuvre (a braking's opposite pulse, the two halves of a lane change).",
    )
    rebound_s: float = Field(
        4.0,
        ge=0,
        description="Heading-free mode: a longitudinal pulse opposite to the previous event's within this time is that event's release pulse, not a second event (high-passed logs, ~1 s).",
    )
    turn_min_deg: float = Field(
        30.0,
        gt=0,
        description="Heading change (integrated yaw rate) that makes a lateral manoeuvre a turn rather than a lane change, which leaves the heading unchanged.",
    )
    turn_rate_dps: float = Field(
        8.0,
        gt=0,
        description="Peak yaw rate (°/s) above which a manoeuvre is lateral in heading-free mode (a lane change at highway speed turns at 5-10 °/s).",
    )
    severity_medium: float = Field(
        1.2, gt=1, description="Peak / threshold ratio from which an event is of medium severity."
    )
    severity_high: float = Field(
        1.5, gt=1, description="Peak / threshold ratio from which an event is of high severity."
    )
    min_speed_mps: float = Field(
        2.0,
        ge=0,
        description="Where speed is known, no event is decided below this speed (parking, standstill).",
    )
    mounting: list[list[float]] | None = Field(
        None,
        description="Device-to-vehicle rotation (3x3 rows, v = R d); unset = the recording's meta.toml, else estimated from the data.",
    )
    speed_fusion_tau_s: float = Field(
        2.0,
        gt=0,
        description="Complementary filter time constant (s) fusing integrated IMU acceleration with GPS speed.",
    )
    timeline_hz: float = Field(10.0, gt=0, description="Rate of OUT/timeline.parquet (Hz).")
    undo_source_highpass: bool = Field(
        False,
        description="Invert a source's declared first-order horizontal high-pass (driverBehaviorDataset, ~1 s) before the rules. Off: on trips 17 and 20 the inverse amplifies model errors to 0.3-0.4 g and the events get worse (docs/events.md).",
    )
    forward_from_turns: bool = Field(
        True,
        description="Heading-free mode (Earth-frame IMU, no GPS): find the car's forward axis from the turns (lateral acceleration = speed x yaw rate, in the frame turned back by the integrated yaw rate) and type each longitudinal push by the sign of its onset along it; off, or where the turns give no axis, the pulse order decides (docs/events.md).",
    )
    highpass_leak_s: float = Field(
        10.0,
        gt=0,
        description="Leak time constant (s) of the integral in the high-pass inverse; bounds drift, far longer than a manoeuvre.",
    )
