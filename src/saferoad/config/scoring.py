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
    weighted_rate_scale: float = Field(
        560.0,
        gt=0,
        description=(
            "W0 of score = 100 x exp(-W / W0), W = sum(weight x events per 1,000 km) (+ graded "
            "manoeuvres). Near W = 0 this is Motive's and Samsara's 100 - sum of impacts with "
            "100 / W0 = 0.18 points per weighted rate; it then decays smoothly instead of a floor. "
            "560 puts docs/scoring.md's normal city week (25 events per 1,000 km, W = 125) at 80, "
            "the middle of the amber band (docs/scoring.md)."
        ),
    )
    band_weights: dict[str, float] = Field(
        default_factory=lambda: {"moderate": 0.02, "hard": 0.1},
        description=(
            "Weight of a graded manoeuvre below the harsh band (summary.json 'manoeuvres'), as a "
            "fraction (0-1) of the weight of its kind's harsh event: insurers' telematics grade "
            "braking in bands (a hard brake at 7 mph/s, a very hard one at 12 mph/s) and count "
            "every band; a hard manoeuvre costs a tenth of a harsh event, a moderate one a "
            "fiftieth: a city driver brakes about once a km, so lower bands are tens of times "
            "more frequent than events (docs/scoring.md)."
        ),
    )
    min_distance_km: float = Field(
        100.0,
        ge=0,
        description=(
            "Driving needed before a driver's or fleet's week is scored (Motive needs 100 miles "
            "over its 4-week window; saferoad scores one ISO week, so 100 km: a taxi's shift "
            "covers it, a week of commuting too)."
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
    @field_validator("band_weights")
    @classmethod
    def _known_bands(cls, v: dict[str, float]) -> dict[str, float]:
        for band, f in v.items():
            if band not in ("moderate", "hard"):
                raise ValueError(f"unknown band {band!r} (known: moderate, hard)")
            if not 0 <= f <= 1:
                raise ValueError(f"band weight of {band} must be within 0-1, got {f}")
        return v

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
            weighted_rate_scale=self.weighted_rate_scale,
            band_weights=dict(self.band_weights),
            min_distance_km=self.min_distance_km,
            min_trip_distance_km=self.min_trip_distance_km,
            rate_per_km=self.rate_per_km,
            habit_ratio=self.habit_ratio,
            habit_min_events=self.habit_min_events,
        )
