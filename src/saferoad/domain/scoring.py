"""Safety scores: risk events per 1,000 km and a 0-100 score (docs/scoring.md).

* **Rate** of an event type: its count per ``rate_per_km`` (1,000 km) driven — the KPI DRIVE
  CHART reports to Japanese taxi fleets.
* **Score**: ``100 - points_per_weighted_rate x sum(weight_t x rate_t)``, held at ``floor`` —
  the form Samsara and Motive publish ("100 minus the sum of impacts, an impact being a rate
  times a weight", Motive's floor of 50). No score is given below ``min_distance_km``: a few
  kilometres with one event would otherwise decide a week.
* Scores exist per trip, per driver per ISO week and per fleet (per week); drivers are ranked
  and each score is compared with the week before.

Pure functions over counts and distances: the store gathers them, this module decides.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from saferoad.domain.event_specs import SPECS


@dataclass(frozen=True, slots=True)
class ScoringRules:
    """The knobs of the score (``saferoad.config.scoring.ScoringConfig`` builds one)."""

    weights: Mapping[str, float]
    points_per_weighted_rate: float = 0.1
    floor: float = 50.0
    min_distance_km: float = 100.0
    min_trip_distance_km: float = 2.0
    rate_per_km: float = 1000.0
    habit_ratio: float = 1.5
    habit_min_events: int = 2

    def __post_init__(self) -> None:
        if self.rate_per_km <= 0 or self.points_per_weighted_rate <= 0:
            raise ValueError("rate_per_km and points_per_weighted_rate must be positive")
        if not 0.0 <= self.floor <= 100.0:
            raise ValueError(f"floor {self.floor} not within 0-100")
        for key, w in self.weights.items():
            if not math.isfinite(w) or w < 0:
                raise ValueError(f"weight of {key} must be a finite number >= 0, got {w}")

    def weight(self, event_type: str) -> float:
        return float(self.weights.get(event_type, 0.0))


@dataclass(frozen=True, slots=True)
class Exposure:
    """What was driven: distance, time, trips and the count of events per type."""

    distance_km: float
    counts: Mapping[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    n_trips: int = 1

    def __post_init__(self) -> None:
        if not math.isfinite(self.distance_km) or self.distance_km < 0:
            raise ValueError(f"distance_km must be finite and >= 0, got {self.distance_km}")
        for key, n in self.counts.items():
            if n < 0:
                raise ValueError(f"count of {key} must be >= 0, got {n}")

    @property
    def n_events(self) -> int:
        return int(sum(self.counts.values()))

    def __add__(self, other: Exposure) -> Exposure:
        counts = dict(self.counts)
        for key, n in other.counts.items():
            counts[key] = counts.get(key, 0) + n
        return Exposure(
            self.distance_km + other.distance_km,
            counts,
            self.duration_s + other.duration_s,
            self.n_trips + other.n_trips,
        )


def total(exposures: Iterable[Exposure]) -> Exposure:
    """The sum of several exposures (no trips: zero distance, zero trips)."""
    out = Exposure(0.0, {}, 0.0, 0)
    for e in exposures:
        out = out + e
    return out


MIN_RATE_DISTANCE_KM = 1e-3
"""Below a metre driven there are no rates (they would be huge or infinite)."""


def rates(exposure: Exposure, rate_per_km: float = 1000.0) -> dict[str, float]:
    """Events per ``rate_per_km`` of each type counted; empty when nothing was driven."""
    if exposure.distance_km < MIN_RATE_DISTANCE_KM:
        return {}
    return {k: n * rate_per_km / exposure.distance_km for k, n in sorted(exposure.counts.items())}


@dataclass(frozen=True, slots=True)
class Score:
    """A safety score with what it is made of.

    ``value`` is ``None`` when too little was driven (``reason`` says why); ``raw`` is the score
    before the floor (it may be negative); ``impacts`` are the points each type costs.
    """

    value: float | None
    raw: float
    distance_km: float
    n_events: int
    rates: dict[str, float]
    impacts: dict[str, float]
    reason: str | None = None

    @property
    def floored(self) -> bool:
        return self.value is not None and self.raw < self.value


def safety_score(
    exposure: Exposure, rules: ScoringRules, min_distance_km: float | None = None
) -> Score:
    """``100 - k x sum(weight x rate)``, floored; ``None`` below the minimum distance."""
    need = rules.min_distance_km if min_distance_km is None else min_distance_km
    r = rates(exposure, rules.rate_per_km)
    impacts = {
        k: rules.points_per_weighted_rate * rules.weight(k) * v
        for k, v in r.items()
        if rules.weight(k) > 0 and v > 0
    }
    raw = 100.0 - sum(impacts.values())
    value: float | None = max(rules.floor, raw)
    reason = None
    if exposure.distance_km < MIN_RATE_DISTANCE_KM or exposure.distance_km < need:
        value = None
        reason = f"{exposure.distance_km:.1f} km driven, {need:g} km needed for a score"
    return Score(value, raw, exposure.distance_km, exposure.n_events, r, impacts, reason)


def trip_score(exposure: Exposure, rules: ScoringRules) -> Score:
    return safety_score(exposure, rules, rules.min_trip_distance_km)


# --- ISO weeks ---------------------------------------------------------------------------


def iso_week(when: dt.datetime | dt.date) -> str:
    """``2026-W47``: the ISO 8601 week of a (local) date."""
    year, week, _ = when.isocalendar()
    return f"{year:04d}-W{week:02d}"


def parse_iso_week(week: str) -> tuple[int, int]:
    """``"2026-W47"`` -> ``(2026, 47)``; a clear ``ValueError`` otherwise."""
    text = week.strip()
    try:
        year_s, week_s = text.upper().split("-W")
        year, num = int(year_s), int(week_s)
        dt.date.fromisocalendar(year, num, 1)
    except ValueError:
        raise ValueError(f"week {week!r}: expected an ISO week such as 2026-W47") from None
    return year, num


def week_start(week: str) -> dt.date:
    """The Monday of an ISO week."""
    year, num = parse_iso_week(week)
    return dt.date.fromisocalendar(year, num, 1)


def previous_week(week: str) -> str:
    return iso_week(week_start(week) - dt.timedelta(days=7))


# --- ranking and trend -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ranked:
    subject: str
    rank: int | None
    score: Score


def rank(scores: Mapping[str, Score]) -> list[Ranked]:
    """Best score first (ties share a rank, competition style: 1, 2, 2, 4); subjects without a
    score come last, unranked, by distance driven."""
    scored = sorted(
        ((k, s) for k, s in scores.items() if s.value is not None),
        key=lambda ks: (-(ks[1].value or 0.0), ks[0]),
    )
    out: list[Ranked] = []
    prev: float | None = None
    prev_rank = 0
    for i, (k, s) in enumerate(scored, 1):
        r = prev_rank if prev is not None and s.value == prev else i
        out.append(Ranked(k, r, s))
        prev, prev_rank = s.value, r
    rest = sorted(
        ((k, s) for k, s in scores.items() if s.value is None),
        key=lambda ks: (-ks[1].distance_km, ks[0]),
    )
    out.extend(Ranked(k, None, s) for k, s in rest)
    return out


@dataclass(frozen=True, slots=True)
class Trend:
    current: float | None
    previous: float | None
    delta: float | None
    word: str
    """``better``, ``worse``, ``steady`` or ``new`` (nothing to compare with)."""


def trend(current: Score, previous: Score | None, steady_within: float = 1.0) -> Trend:
    """Week-on-week change of a score; within ``steady_within`` points counts as steady."""
    cur = current.value
    prev = previous.value if previous is not None else None
    if cur is None or prev is None:
        return Trend(cur, prev, None, "new")
    delta = cur - prev
    word = "steady" if abs(delta) < steady_within else ("better" if delta > 0 else "worse")
    return Trend(cur, prev, delta, word)


# --- habitual risks ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Habit:
    event_type: str
    count: int
    rate: float
    fleet_rate: float
    ratio: float | None
    """Driver rate / fleet rate; ``None`` when nobody else in the fleet had the event."""
    impact: float
    sentence: str


def habitual_risks(driver: Exposure, fleet: Exposure, rules: ScoringRules) -> list[Habit]:
    """Event types the driver has far more often than the fleet, most costly first, each with a
    sentence a manager can read out ("Brakes harshly 3.1 times as often as the fleet ...").

    The fleet's rate includes the driver; a type the driver has that nobody else has is a habit
    when it reaches ``habit_min_events``.
    """
    d_rates = rates(driver, rules.rate_per_km)
    f_rates = rates(fleet, rules.rate_per_km)
    others = Exposure(
        max(fleet.distance_km - driver.distance_km, 0.0),
        {k: max(n - driver.counts.get(k, 0), 0) for k, n in fleet.counts.items()},
    )
    habits: list[Habit] = []
    per = f"{rules.rate_per_km:,.0f} km"
    for k, rate in d_rates.items():
        n = driver.counts.get(k, 0)
        if n < rules.habit_min_events or rules.weight(k) <= 0:
            continue
        known = SPECS.get(k)
        phrase = known.habit if known is not None else k.replace("_", " ")
        phrase = phrase[0].upper() + phrase[1:]
        fr = f_rates.get(k, 0.0)
        if others.counts.get(k, 0) == 0:
            ratio = None
            sentence = (
                f"{phrase}: {n} times ({rate:.1f} per {per}); "
                "no other driver in the fleet did this."
            )
        else:
            ratio = rate / fr if fr > 0 else None
            if ratio is None or ratio < rules.habit_ratio:
                continue
            sentence = (
                f"{phrase} {ratio:.1f} times as often as the fleet: {n} times, "
                f"{rate:.1f} per {per} against the fleet's {fr:.1f}."
            )
        impact = rules.points_per_weighted_rate * rules.weight(k) * (rate - fr)
        habits.append(Habit(k, n, rate, fr, ratio, impact, sentence))
    habits.sort(key=lambda h: (-h.impact, h.event_type))
    return habits
