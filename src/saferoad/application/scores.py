"""``saferoad scores --week W``: each driver's safety score of an ISO week, ranked, from what
the store holds, with the current ``[scoring]`` settings (docs/scoring.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from saferoad.domain.scoring import ScoringRules, parse_iso_week, rank, safety_score
from saferoad.ports.store import UnitOfWork


@dataclass(frozen=True, slots=True)
class DriverWeek:
    """One driver's week in one fleet: the score (``None`` below the minimum distance, with
    the reason), its rank in the fleet, what was driven and the events."""

    fleet: str
    driver: str
    week: str
    rank: int | None
    score: float | None
    reason: str | None
    distance_km: float
    n_trips: int
    n_events: int
    events_per_1000km: float | None
    impacts: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "fleet": self.fleet,
            "driver": self.driver,
            "week": self.week,
            "rank": self.rank,
            "score": None if self.score is None else round(self.score, 2),
            "reason": self.reason,
            "distance_km": round(self.distance_km, 3),
            "n_trips": self.n_trips,
            "n_events": self.n_events,
            "events_per_1000km": None
            if self.events_per_1000km is None
            else round(self.events_per_1000km, 2),
            "impacts": {k: round(v, 2) for k, v in sorted(self.impacts.items())},
        }


def week_scores(
    uow: UnitOfWork, week: str, rules: ScoringRules, fleet: str | None = None
) -> list[DriverWeek]:
    """Every driver with trips in ``week`` (of ``fleet``, or of every fleet), ranked within
    their fleet, best first; drivers below the minimum distance last, unranked."""
    parse_iso_week(week)
    week = week.strip().upper()
    known = uow.trips.fleets()
    if fleet is not None and fleet not in known:
        raise ValueError(f"--fleet {fleet!r}: no such fleet in the store (known: {', '.join(known) or 'none'})")
    fleets = [fleet] if fleet is not None else known
    out: list[DriverWeek] = []
    for f in fleets:
        exps = uow.trips.exposures(f, week)
        scores = {d: safety_score(e, rules) for d, e in exps.items()}
        for r in rank(scores):
            e = exps[r.subject]
            per = 1000.0 * e.n_events / e.distance_km if e.distance_km > 0 else None
            out.append(
                DriverWeek(
                    f,
                    r.subject,
                    week,
                    r.rank,
                    r.score.value,
                    r.score.reason,
                    e.distance_km,
                    e.n_trips,
                    e.n_events,
                    per,
                    dict(r.score.impacts),
                )
            )
    return out
