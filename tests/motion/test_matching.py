"""Event matching: one-to-one, by type, direction and overlap; normals flagged are FPs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoad.domain.matching import PRF, match_events
from saferoad.domain.types import Direction, Event, EventLabel, EventType, Severity


def ev(t: EventType, s: float, e: float, d: Direction | None = None) -> Event:
    return Event(t, s, e, Severity.LOW, 0.9, direction=d)


def test_exact_match_and_timing_errors() -> None:
    r = match_events(
        [ev(EventType.HARSH_BRAKING, 10.5, 12.0)], [EventLabel("harsh_braking", 10.0, 12.5)]
    )
    assert r.overall == PRF(1, 0, 0)
    m = r.matches[0]
    assert m.start_error_s == pytest.approx(0.5)
    assert m.end_error_s == pytest.approx(-0.5)
    assert m.overlap_s == pytest.approx(1.5)


def test_type_mismatch_is_fp_and_fn() -> None:
    r = match_events(
        [ev(EventType.HARSH_ACCELERATION, 10, 12)], [EventLabel("harsh_braking", 10, 12)]
    )
    assert r.overall == PRF(0, 1, 1)
    pt = r.per_type()
    assert pt["harsh_acceleration"] == PRF(0, 1, 0)
    assert pt["harsh_braking"] == PRF(0, 0, 1)


def test_direction_must_agree() -> None:
    lab = EventLabel("harsh_cornering", 5, 8, Direction.LEFT)
    wrong = match_events([ev(EventType.HARSH_CORNERING, 5, 8, Direction.RIGHT)], [lab])
    right = match_events([ev(EventType.HARSH_CORNERING, 5, 8, Direction.LEFT)], [lab])
    assert wrong.overall == PRF(0, 1, 1)
    assert right.overall == PRF(1, 0, 0)


def test_tolerance_and_min_overlap() -> None:
    lab = [EventLabel("harsh_braking", 10, 12)]
    near = [ev(EventType.HARSH_BRAKING, 12.5, 13.0)]
    assert match_events(near, lab, tolerance_s=0.0).overall.tp == 0
    assert match_events(near, lab, tolerance_s=1.0).overall.tp == 1
    assert match_events(near, lab, tolerance_s=1.0, min_overlap_s=0.6).overall.tp == 0


def test_one_to_one_two_detections_one_label() -> None:
    lab = [EventLabel("harsh_braking", 10, 14)]
    preds = [ev(EventType.HARSH_BRAKING, 10, 11), ev(EventType.HARSH_BRAKING, 11.5, 14)]
    r = match_events(preds, lab, tolerance_s=0)
    assert r.overall == PRF(1, 1, 0)
    assert r.matches[0].pred.start_s == 11.5  # the larger overlap wins


def test_assignment_is_optimal_not_greedy() -> None:
    # Greedy on the first detection would take label A and leave label B unmatched.
    labs = [EventLabel("harsh_braking", 0, 10), EventLabel("harsh_braking", 9, 12)]
    preds = [ev(EventType.HARSH_BRAKING, 5, 10), ev(EventType.HARSH_BRAKING, 0, 2)]
    r = match_events(preds, labs, tolerance_s=0)
    assert r.overall == PRF(2, 0, 0)


def test_flagged_normal_is_false_positive() -> None:
    labs = [EventLabel("normal", 20, 23), EventLabel("harsh_braking", 40, 42)]
    preds = [ev(EventType.HARSH_CORNERING, 21, 22, Direction.LEFT), ev(EventType.HARSH_BRAKING, 40, 42)]
    r = match_events(preds, labs)
    assert r.overall == PRF(1, 1, 0)
    assert r.n_normal_flagged == 1
    assert "normal" not in r.per_type()
    d = r.to_dict()
    assert d["normal_flagged"] == 1


def test_types_filter() -> None:
    labs = [EventLabel("harsh_braking", 1, 2)]
    preds = [ev(EventType.HARSH_BRAKING, 1, 2), ev(EventType.SPEEDING, 5, 9)]
    r = match_events(preds, labs, types=["harsh_braking"])
    assert r.overall == PRF(1, 0, 0)


def test_prf_edge_cases() -> None:
    assert PRF(0, 0, 0).f1 == 1.0  # nothing to find, nothing claimed
    assert PRF(0, 0, 3).precision == 1.0 and PRF(0, 0, 3).f1 == 0.0
    assert PRF(2, 0, 2).recall == 0.5
    assert PRF(3, 1, 0).f1 == pytest.approx(2 * 0.75 / 1.75)
    with pytest.raises(ValueError):
        match_events([], [], tolerance_s=-1)


_types = st.sampled_from([EventType.HARSH_BRAKING, EventType.HARSH_CORNERING])


@st.composite
def _interval(draw: st.DrawFn) -> tuple[float, float]:
    s = draw(st.floats(0, 100, allow_nan=False))
    d = draw(st.floats(0, 5, allow_nan=False))
    return s, s + d


@st.composite
def _events(draw: st.DrawFn) -> list[Event]:
    out = []
    for _ in range(draw(st.integers(0, 8))):
        t = draw(_types)
        s, e = draw(_interval())
        d = draw(st.sampled_from(list(Direction))) if t == EventType.HARSH_CORNERING else None
        out.append(ev(t, s, e, d))
    return out


@st.composite
def _labels(draw: st.DrawFn) -> list[EventLabel]:
    out = []
    for _ in range(draw(st.integers(0, 8))):
        t = draw(st.sampled_from(["harsh_braking", "harsh_cornering", "normal"]))
        s, e = draw(_interval())
        d = draw(st.sampled_from(list(Direction))) if t == "harsh_cornering" else None
        out.append(EventLabel(t, s, e, d))
    return out


@settings(max_examples=150, deadline=None)
@given(_events(), _labels(), st.floats(0, 3))
def test_property_counts_are_consistent(preds: list[Event], labs: list[EventLabel], tol: float) -> None:
    r = match_events(preds, labs, tolerance_s=tol)
    n_events = sum(1 for lab in labs if not lab.is_normal)
    o = r.overall
    assert o.tp + o.fp == len(preds)
    assert o.tp + o.fn == n_events
    # one-to-one
    assert len({id(m.pred) for m in r.matches}) == len(r.matches)
    assert len({id(m.label) for m in r.matches}) == len(r.matches)
    for m in r.matches:
        assert m.pred.type.value == m.label.type
        assert m.pred.direction == m.label.direction or m.label.direction is None
    assert sum(p.tp for p in r.per_type().values()) == o.tp
    assert sum(p.fp for p in r.per_type().values()) == o.fp
    assert 0.0 <= o.f1 <= 1.0


@settings(max_examples=100, deadline=None)
@given(_labels())
def test_property_labels_as_predictions_score_perfectly(labs: list[EventLabel]) -> None:
    preds = [
        ev(EventType(lab.type), lab.start_s, lab.end_s, lab.direction) for lab in labs if not lab.is_normal
    ]
    r = match_events(preds, labs, tolerance_s=0.0)
    assert r.overall.fp == 0 and r.overall.fn == 0


@settings(max_examples=100, deadline=None)
@given(_events(), _labels(), st.floats(0, 2), st.floats(0, 2))
def test_property_more_tolerance_never_fewer_matches(
    preds: list[Event], labs: list[EventLabel], t1: float, t2: float
) -> None:
    lo, hi = sorted((t1, t2))
    assert match_events(preds, labs, tolerance_s=hi).overall.tp >= match_events(
        preds, labs, tolerance_s=lo
    ).overall.tp
