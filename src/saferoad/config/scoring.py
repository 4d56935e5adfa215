"""Safety scores and per-1,000 km rates."""

from __future__ import annotations

from pydantic import Field, field_validator

from saferoad.config.base import Section
from saferoad.domain.scoring import ScoringRules
from saferoad.domain.types import EventType

# Motive's published weights (0-10) mapped onto saferoad's event types; types Motive does not
# weigh take the weight of the closest one it does (docs/scoring.md gives the mapping).
_DEFAULT_WEIGHTS: dict[str, float] = {
    "harsh_braking": 4.0,  # Motive hard brake 4
    "harsh_acceleration": 1.0,  # Motive accel 1
    "harsh_cornering": 2.0,  # Motive corner 2
    "aggressive_lane_change": 2.0,  # as cornering (a lateral manoeuvre)
    "tailgating": 9.0,  # Motive close following 9
    "forward_collision_warning": 9.0,  # collision risk: as close following (Samsara: 2x harsh)
    "rolling_stop": 7.0,  # Motive stop sign 7
    "stop_sign_violation": 7.0,  # Motive stop sign 7
    "red_light": 7.0,  # as stop sign (running a control)
    "speeding": 6.0,  # Motive speeding 6
    "drowsiness": 5.0,  # as distraction (inattention)
    "distraction": 5.0,  # Motive distraction 5
    "camera_obstructed": 0.0,  # a device problem, not a driving risk
}


class ScoringConfig(Section):
    """Safety scores and per-1,000 km rates."""

    weights: dict[str, float] = Field(
        default_factory=lambda: dict(_DEFAULT_WEIGHTS),
        description=(
            "Weight (0-10) of each event type in the score: Motive's published weights (phone 10, "
            "close following 9, stop sign 7, speeding 6, distraction 5, hard brake 4, corner 2, "
            "accel 1); types not listed weigh 0."
        ),
    )
    points_per_weighted_rate: float = Field(
        0.1,
        gt=0,
        description=(
            "Score points lost per (weight x events per 1,000 km): score = 100 - this x "
            "sum(weight x rate). Motive applies its weights to rates per 1,000 miles of long-haul "
            "driving; urban trips are denser in events, so saferoad scales by 0.1 (docs/scoring.md)."
        ),
    )
    floor: float = Field(
        50.0, ge=0, le=100, description="Lowest score shown (Motive floors its score at 50)."
    )
    min_distance_km: float = Field(
        100.0,
        ge=0,
        description=(
            "Driving needed before a driver's or fleet's score is shown (Motive needs 100 miles "
            "over its 4-week window; saferoad scores one ISO week, so 100 km)."
        ),
    )
    min_trip_distance_km: float = Field(
        2.0, ge=0, description="Shortest trip that gets its own score (km)."
    )
    rate_per_km: float = Field(
        1000.0,
        gt=0,
        description="Rates are events per this many km (DRIVE CHART: risk events per 1,000 km).",
    )
    habit_ratio: float = Field(
        1.5,
        ge=1,
        description="An event type is a habitual risk when the driver's rate is at least this "
        "many times the fleet's (DRIVE CHART picks out each driver's habitual risks).",
    )
    habit_min_events: int = Field(
        2, ge=1, description="... and the driver had at least this many events of the type."
    )
    @field_validator("weights")
    @classmethod
    def _known_types(cls, v: dict[str, float]) -> dict[str, float]:
        known = {t.value for t in EventType}
        for key, w in v.items():
            if key not in known:
                raise ValueError(f"unknown event type {key!r} (known: {', '.join(sorted(known))})")
            if not 0 <= w <= 10:
                raise ValueError(f"weight of {key} must be within 0-10, got {w}")
        return v

    def rules(self) -> ScoringRules:
        """The domain's view of these settings."""
        return ScoringRules(
            weights=dict(self.weights),
            points_per_weighted_rate=self.points_per_weighted_rate,
            floor=self.floor,
            min_distance_km=self.min_distance_km,
            min_trip_distance_km=self.min_trip_distance_km,
            rate_per_km=self.rate_per_km,
            habit_ratio=self.habit_ratio,
            habit_min_events=self.habit_min_events,
        )
