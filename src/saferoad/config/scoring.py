"""Safety scores and per-1,000 km rates."""

from __future__ import annotations

from pydantic import Field, field_validator

from saferoad.config.base import Section
from saferoad.domain.event_specs import SPECS, default_weights
from saferoad.domain.scoring import ScoringRules


class ScoringConfig(Section):
    """Safety scores and per-1,000 km rates."""

    weights: dict[str, float] = Field(
        default_factory=default_weights,
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
        known = set(SPECS)
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
