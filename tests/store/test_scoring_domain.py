"""The score: rates per 1,000 km, 100 x exp(-sum(weight x rate) / scale) with graded
manoeuvres, minimum distance, ranking, trend, ISO weeks and habitual risks."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoad.config import ConfigError, load_config
from saferoad.domain.scoring import (
    Exposure,
    ScoringRules,
    habitual_risks,
    iso_week,
    manoeuvre_counts,
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
    """docs/scoring.md: 4 harsh brakings and 1 tailgating in 200 km (25 events per 1,000 km,
    the doc's normal city week): W = 4 x 20 + 9 x 5 = 125, score 100 exp(-125/560) = 80.0."""
    s = safety_score(Exposure(200.0, {"harsh_braking": 4, "tailgating": 1}), RULES)
    assert s.rates == {"harsh_braking": 20.0, "tailgating": 5.0}
    assert s.value == pytest.approx(80.0, abs=0.05)
    # the 20 points lost are shared as the types share W: 80/125 and 45/125
    assert s.impacts == pytest.approx({"harsh_braking": 12.8, "tailgating": 7.2}, abs=0.01)


def test_near_zero_it_is_motives_linear_score() -> None:
    """For few events the score is 100 - (100 / scale) x W, Motive's and Samsara's form."""
    s = safety_score(Exposure(1000.0, {"harsh_acceleration": 1}), RULES)
    linear = 100.0 - RULES.points_per_weighted_rate * 1.0
    assert s.value == pytest.approx(linear, abs=0.01)


def test_no_floor_no_cliff_and_minimum_distance() -> None:
    wild = safety_score(Exposure(150.0, {"tailgating": 40}), RULES)
    assert wild.value is not None and 0.0 < wild.value < 5.0
    wilder = safety_score(Exposure(150.0, {"tailgating": 41}), RULES)
    assert wilder.value is not None and wilder.value < wild.value  # still tells them apart
    # no cliff: one more event in a 200 km week never costs more than the first one did
    prev = 100.0
    steps = []
    for n in range(1, 60):
        v = safety_score(Exposure(200.0, {"harsh_braking": n}), RULES).value
        assert v is not None
        steps.append(prev - v)
        prev = v
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(steps))
    short = safety_score(Exposure(30.0, {}), RULES)
    assert short.value is None and "30.0 km driven, 100 km needed" in (short.reason or "")
    assert trip_score(Exposure(30.0, {}), RULES).value == 100.0
    assert safety_score(Exposure(0.0, {}), RULES, min_distance_km=0).value is None


def test_graded_manoeuvres_cost_a_fraction_of_their_harsh_event() -> None:
    summary = {
        "braking": {"moderate": 10, "hard": 4, "harsh": 1},
        "acceleration": {"moderate": 0, "hard": 0, "harsh": 0},
        "cornering": {"moderate": 2, "hard": 0, "harsh": 0},
        "lane_change": {"moderate": 0, "hard": 0, "harsh": 0},
    }
    m = manoeuvre_counts(summary)
    assert m == {"braking.moderate": 10, "braking.hard": 4, "cornering.moderate": 2}
    e = Exposure(100.0, {"harsh_braking": 1}, manoeuvres=m)
    s = safety_score(e, RULES, min_distance_km=0)
    w = 4 * 10 + 4 * (0.02 * 10 * 10 + 0.1 * 10 * 4) + 2 * 0.02 * 10 * 2
    assert s.value == pytest.approx(100 * math.exp(-w / RULES.weighted_rate_scale))
    assert s.rates["braking.hard"] == pytest.approx(40.0)
    assert sum(s.impacts.values()) == pytest.approx(100.0 - (s.value or 0.0))
    # a careful week with no events is still below 100 when it braked firmly
    calm = safety_score(Exposure(100.0, {}, manoeuvres=m), RULES).value
    assert calm is not None and 90.0 < calm < 100.0
    # and the sum of exposures keeps them
    assert (e + e).manoeuvres == {k: 2 * n for k, n in m.items()}
    for bad, field in (([], "manoeuvres"), ({"braking": 3}, "manoeuvres.braking"),
                       ({"braking": {"hard": -1}}, "manoeuvres.braking.hard")):  # fmt: skip
        with pytest.raises(ValueError, match=f"field '{field}'"):
            manoeuvre_counts(bad)


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
    assert s.value is not None and 0.0 <= s.value <= 100.0
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
    assert after.raw < before.raw or after.raw == before.raw == pytest.approx(0.0, abs=1e-300)
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
    assert trend(good, bad).word == "better"
    assert trend(good, bad).delta == pytest.approx(100 * (1 - math.exp(-90 / 560)))
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
    with pytest.raises(ValueError, match="band weight of hard"):
        ScoringRules(weights={}, band_weights={"hard": 2.0})
    with pytest.raises(ConfigError, match="unknown band 'harsh'"):
        load_config(overrides={"scoring": {"band_weights": {"harsh": 0.5}}})
