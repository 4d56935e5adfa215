"""Safety scores: risk events per 1,000 km and a 0-100 score (docs/scoring.md).

* **Rate** of an event type: its count per ``rate_per_km`` (1,000 km) driven — the KPI DRIVE
  CHART reports to Japanese taxi fleets.
* **Weighted rate** ``W = sum(weight_t x rate_t)`` over event types, plus the graded manoeuvres
  below the harsh band (``moderate``, ``hard``: summary.json's ``manoeuvres``) at a fraction
  ``band_weights[band]`` of the weight of their kind's harsh event — the insurers' graded bands
  (light / hard / very hard) instead of one cut-off.
* **Score** ``100 x exp(-W / weighted_rate_scale)``: Samsara's and Motive's "100 minus the sum
  of impacts" where few events were seen (its slope at W = 0 is ``100 / scale`` points per
  weighted rate), and a smooth decay instead of their floor where many were: every extra event
  still lowers the score, no week sits on a floor and there is no cliff. The points each type
  costs (``impacts``) share ``100 - score`` in proportion to the type's part of W.
* No score is given below ``min_distance_km``: a few kilometres with one event would otherwise
  decide a week. Scores exist per trip, per driver per ISO week and per fleet (per week);
  drivers are ranked and each score is compared with the week before.

Pure functions over counts and distances: the store gathers them, this module decides.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from saferoad.domain.event_specs import SPECS
from saferoad.domain.motion.bands import BANDS, KIND_OF_EVENT

MANOEUVRE_EVENTS: Mapping[str, str] = MappingProxyType(
    {kind.value: event.value for event, kind in KIND_OF_EVENT.items()}
)
"""Manoeuvre kind (summary.json ``manoeuvres``) -> the event type of its harsh band."""

MANOEUVRE_BANDS = tuple(b.value for b in BANDS)
"""Bands of graded manoeuvres, ascending; ``harsh`` is also an event (counted once, as one)."""


def manoeuvre_key(kind: str, band: str) -> str:
    """``braking.hard``: how graded manoeuvres are keyed in rates and impacts."""
    return f"{kind}.{band}"


def manoeuvre_counts(summary_manoeuvres: object) -> dict[str, int]:
    """The lower-band counts (``{"braking.hard": 3, ...}``) of a summary.json ``manoeuvres``
    object; the ``harsh`` band is left out (those are the events). ``ValueError`` names the
    field when the object is not ``{kind: {band: count}}``."""
    if summary_manoeuvres is None:
        return {}
    if not isinstance(summary_manoeuvres, Mapping):
        raise ValueError(f"field 'manoeuvres' must be an object, got {summary_manoeuvres!r}")
    out: dict[str, int] = {}
    for kind, bands in summary_manoeuvres.items():
        if not isinstance(bands, Mapping):
            raise ValueError(f"field 'manoeuvres.{kind}' must be an object, got {bands!r}")
        for band, n in bands.items():
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ValueError(f"field 'manoeuvres.{kind}.{band}' must be a count >= 0, got {n!r}")
            if band != "harsh" and n:
                out[manoeuvre_key(str(kind), str(band))] = n
    return out


@dataclass(frozen=True, slots=True)
class ScoringRules:
    """The knobs of the score (``saferoad.config.scoring.ScoringConfig`` builds one)."""

    weights: Mapping[str, float]
    weighted_rate_scale: float = 560.0
    band_weights: Mapping[str, float] = field(
        default_factory=lambda: {"moderate": 0.02, "hard": 0.1}
    )
    min_distance_km: float = 100.0
    min_trip_distance_km: float = 2.0
    rate_per_km: float = 1000.0
    habit_ratio: float = 1.5
    habit_min_events: int = 2

    def __post_init__(self) -> None:
        if self.rate_per_km <= 0 or self.weighted_rate_scale <= 0:
            raise ValueError("rate_per_km and weighted_rate_scale must be positive")
        for key, w in self.weights.items():
            if not math.isfinite(w) or w < 0:
                raise ValueError(f"weight of {key} must be a finite number >= 0, got {w}")
        for band, f in self.band_weights.items():
            if band not in MANOEUVRE_BANDS[:-1]:
                raise ValueError(f"band_weights: unknown band {band!r} (moderate, hard)")
            if not math.isfinite(f) or not 0.0 <= f <= 1.0:
                raise ValueError(f"band weight of {band} must be within 0-1, got {f}")

    def weight(self, key: str) -> float:
        """The weight of an event type, or of a graded manoeuvre ``kind.band`` (its band's
        fraction of the weight of the kind's harsh event)."""
        if "." in key:
            kind, band = key.split(".", 1)
            event = MANOEUVRE_EVENTS.get(kind)
            if event is None:
                return 0.0
            return float(self.band_weights.get(band, 0.0)) * float(self.weights.get(event, 0.0))
        return float(self.weights.get(key, 0.0))

    @property
    def points_per_weighted_rate(self) -> float:
        """The score's slope where few events were seen (Motive's k): ``100 / scale``."""
        return 100.0 / self.weighted_rate_scale


@dataclass(frozen=True, slots=True)
class Exposure:
    """What was driven: distance, time, trips, the count of events per type and of graded
    manoeuvres below the harsh band (``{"braking.hard": 3}``)."""

    distance_km: float
    counts: Mapping[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    n_trips: int = 1
    manoeuvres: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not math.isfinite(self.distance_km) or self.distance_km < 0:
            raise ValueError(f"distance_km must be finite and >= 0, got {self.distance_km}")
        for key, n in (*self.counts.items(), *self.manoeuvres.items()):
            if n < 0:
                raise ValueError(f"count of {key} must be >= 0, got {n}")

    @property
    def n_events(self) -> int:
        return int(sum(self.counts.values()))

    def __add__(self, other: Exposure) -> Exposure:
        return Exposure(
            self.distance_km + other.distance_km,
            _add_counts(self.counts, other.counts),
            self.duration_s + other.duration_s,
            self.n_trips + other.n_trips,
            _add_counts(self.manoeuvres, other.manoeuvres),
        )


def _add_counts(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    out = dict(a)
    for key, n in b.items():
        out[key] = out.get(key, 0) + n
    return out


def total(exposures: Iterable[Exposure]) -> Exposure:
    """The sum of several exposures (no trips: zero distance, zero trips)."""
    out = Exposure(0.0, {}, 0.0, 0)
    for e in exposures:
        out = out + e
    return out


MIN_RATE_DISTANCE_KM = 1e-3
"""Below a metre driven there are no rates (they would be huge or infinite)."""


def rates(exposure: Exposure, rate_per_km: float = 1000.0) -> dict[str, float]:
    """Events per ``rate_per_km`` of each type counted, and of each graded manoeuvre
    (``braking.hard``); empty when nothing was driven."""
    if exposure.distance_km < MIN_RATE_DISTANCE_KM:
        return {}
    both = {**exposure.counts, **exposure.manoeuvres}
    return {k: n * rate_per_km / exposure.distance_km for k, n in sorted(both.items())}


@dataclass(frozen=True, slots=True)
class Score:
    """A safety score with what it is made of.

    ``value`` is ``None`` when too little was driven (``reason`` says why); ``raw`` is the score
    the formula gives either way; ``impacts`` are the points each event type (and graded
    manoeuvre ``kind.band``) costs: together ``100 - raw``.
    """

    value: float | None
    raw: float
    distance_km: float
    n_events: int
    rates: dict[str, float]
    impacts: dict[str, float]
    reason: str | None = None


def score_of(weighted_rate: float, rules: ScoringRules) -> float:
    """``100 x exp(-W / scale)``: 100 with nothing weighted, never 0, no floor, no cliff."""
    return 100.0 * math.exp(-max(weighted_rate, 0.0) / rules.weighted_rate_scale)


def safety_score(
    exposure: Exposure, rules: ScoringRules, min_distance_km: float | None = None
) -> Score:
    """``100 x exp(-sum(weight x rate) / scale)``; ``None`` below the minimum distance."""
    need = rules.min_distance_km if min_distance_km is None else min_distance_km
    r = rates(exposure, rules.rate_per_km)
    weighted = {k: rules.weight(k) * v for k, v in r.items() if rules.weight(k) > 0 and v > 0}
    w_total = sum(weighted.values())
    raw = score_of(w_total, rules)
    lost = 100.0 - raw
    impacts = {k: lost * w / w_total for k, w in weighted.items()} if w_total > 0 else {}
    value: float | None = raw
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
        # points near the top of the scale (the score's slope at W = 0)
        impact = rules.points_per_weighted_rate * rules.weight(k) * (rate - fr)
        habits.append(Habit(k, n, rate, fr, ratio, impact, sentence))
    habits.sort(key=lambda h: (-h.impact, h.event_type))
    return habits
