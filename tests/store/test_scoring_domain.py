"""The score: rates per 1,000 km, 100 - k x sum(weight x rate), floor, minimum distance,
ranking, trend, ISO weeks and habitual risks."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoad.config import ConfigError, load_config
from saferoad.domain.scoring import (
    Exposure,
    ScoringRules,
    habitual_risks,
    iso_week,
    parse_iso_week,
    previous_week,
    rank,
    safety_score,
    total,
    trend,
    trip_score,
    week_start,
)

RULES = load_config().scoring.rules()
TYPES = ["harsh_braking", "harsh_acceleration", "tailgating", "speeding", "distraction"]

counts_st = st.dictionaries(st.sampled_from(TYPES), st.integers(0, 50), max_size=5)
distance_st = st.floats(0.0, 5000.0, allow_nan=False)


def test_worked_example_matches_the_docs() -> None:
    """docs/scoring.md: 4 harsh brakings and 1 tailgating in 200 km."""
    s = safety_score(Exposure(200.0, {"harsh_braking": 4, "tailgating": 1}), RULES)
    assert s.rates == {"harsh_braking": 20.0, "tailgating": 5.0}
    assert s.impacts == pytest.approx({"harsh_braking": 8.0, "tailgating": 4.5})
    assert s.value == pytest.approx(87.5)


def test_floor_and_minimum_distance() -> None:
    wild = safety_score(Exposure(150.0, {"tailgating": 40}), RULES)
    assert wild.raw < 0 and wild.value == RULES.floor and wild.floored
    short = safety_score(Exposure(30.0, {}), RULES)
    assert short.value is None and "30.0 km driven, 100 km needed" in (short.reason or "")
    assert trip_score(Exposure(30.0, {}), RULES).value == 100.0
    assert safety_score(Exposure(0.0, {}), RULES, min_distance_km=0).value is None


def test_unweighted_types_cost_nothing() -> None:
    s = safety_score(Exposure(500.0, {"camera_obstructed": 10}), RULES)
    assert s.value == 100.0 and s.rates == {"camera_obstructed": 20.0}


@settings(max_examples=200, deadline=None)
@given(counts=counts_st, distance=distance_st)
def test_score_bounds_and_rates(counts: dict[str, int], distance: float) -> None:
    e = Exposure(distance, counts)
    s = safety_score(e, RULES, min_distance_km=0.0)
    if distance < 1e-3:
        assert s.value is None
        return
    assert s.value is not None and RULES.floor <= s.value <= 100.0
    for k, n in counts.items():
        assert s.rates[k] * distance / 1000.0 == pytest.approx(n)
    assert s.raw == pytest.approx(100.0 - sum(s.impacts.values()))


@settings(max_examples=200, deadline=None)
@given(counts=counts_st, extra=st.sampled_from(TYPES), distance=st.floats(1.0, 5000.0))
def test_one_more_event_never_raises_the_score(
    counts: dict[str, int], extra: str, distance: float
) -> None:
    before = safety_score(Exposure(distance, counts), RULES, min_distance_km=0.0)
    more = dict(counts)
    more[extra] = more.get(extra, 0) + 1
    after = safety_score(Exposure(distance, more), RULES, min_distance_km=0.0)
    assert after.raw < before.raw
    assert after.value is not None and before.value is not None and after.value <= before.value


@given(parts=st.lists(st.tuples(distance_st, counts_st), max_size=6))
def test_total_adds_distances_and_counts(parts: list[tuple[float, dict[str, int]]]) -> None:
    t = total(Exposure(d, c) for d, c in parts)
    assert t.distance_km == pytest.approx(sum(d for d, _ in parts))
    assert t.n_events == sum(sum(c.values()) for _, c in parts)
    assert t.n_trips == len(parts)


def test_rank_ties_and_unscored() -> None:
    s = {
        "a": safety_score(Exposure(200, {"harsh_braking": 1}), RULES),
        "b": safety_score(Exposure(200, {}), RULES),
        "c": safety_score(Exposure(200, {"harsh_braking": 1}), RULES),
        "d": safety_score(Exposure(20, {}), RULES),
    }
    r = rank(s)
    assert [(x.subject, x.rank) for x in r] == [("b", 1), ("a", 2), ("c", 2), ("d", None)]


def test_trend_words() -> None:
    good = safety_score(Exposure(200, {}), RULES)
    bad = safety_score(Exposure(200, {"tailgating": 2}), RULES)
    assert trend(good, bad).word == "better" and trend(good, bad).delta == pytest.approx(9.0)
    assert trend(bad, good).word == "worse"
    assert trend(good, good).word == "steady"
    assert trend(good, None).word == "new"


def test_iso_weeks() -> None:
    assert iso_week(dt.date(2026, 11, 16)) == "2026-W47"
    assert iso_week(dt.date(2027, 1, 1)) == "2026-W53"
    assert week_start("2026-W47") == dt.date(2026, 11, 16)
    assert previous_week("2027-W01") == "2026-W53"
    assert parse_iso_week("2026-w05") == (2026, 5)
    for bad in ("2026-47", "W47", "2026-W54", "2025-W53"):
        with pytest.raises(ValueError, match="expected an ISO week"):
            parse_iso_week(bad)


@given(day=st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)))
def test_week_round_trip(day: dt.date) -> None:
    w = iso_week(day)
    assert week_start(w) <= day < week_start(w) + dt.timedelta(days=7)
    assert iso_week(week_start(w) - dt.timedelta(days=1)) == previous_week(w)


def test_habitual_risks_in_plain_words() -> None:
    driver = Exposure(100.0, {"harsh_braking": 6, "tailgating": 3, "speeding": 1})
    others = Exposure(900.0, {"harsh_braking": 9, "speeding": 9})
    habits = habitual_risks(driver, driver + others, RULES)
    assert [h.event_type for h in habits] == ["tailgating", "harsh_braking"]
    assert habits[0].sentence.startswith("Follows the vehicle ahead too closely: 3 times")
    assert "no other driver in the fleet did this" in habits[0].sentence
    assert habits[1].sentence.startswith("Brakes harshly 4.0 times as often as the fleet")
    # speeding: 1 event is below habit_min_events
    alone = habitual_risks(driver, driver, RULES)
    assert all("no other driver" in h.sentence for h in alone)


def test_config_rejects_unknown_types_and_bad_weights() -> None:
    with pytest.raises(ConfigError, match="unknown event type 'honking'"):
        load_config(overrides={"scoring": {"weights": {"honking": 3.0}}})
    with pytest.raises(ConfigError, match="within 0-10"):
        load_config(overrides={"scoring": {"weights": {"speeding": 11.0}}})
    with pytest.raises(ValueError, match="floor"):
        ScoringRules(weights={}, floor=120.0)
