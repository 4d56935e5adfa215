"""The timeline: batch alignment and its streaming twin agree bit for bit; gaps are honest."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoad.domain.timeline import (
    OnlineAligner,
    Stream,
    align,
    frame_gaps,
    regular_ticks,
    tick_at,
)


def _online(stream_t, stream_v, queries, offset=0.0, max_gap=2.5):
    """Interleave samples and queries by time as a device would see them."""
    al = OnlineAligner("s", 1, offset, max_gap)
    out = []
    pending = list(queries)
    for t, v in zip(stream_t, stream_v, strict=True):
        al.push(t, (v,))
        while pending and (got := al.query(pending[0])) is not None:
            out.append(got)
            pending.pop(0)
    al.close()
    for q in pending:
        got = al.query(q)
        assert got is not None
        out.append(got)
    return out


def test_interpolates_between_samples_and_hits_samples_exactly() -> None:
    s = Stream.scalar("speed", np.array([0.0, 1.0, 2.0]), np.array([10.0, 20.0, 40.0]))
    v, ok = align(s, np.array([-0.5, 0.0, 0.25, 1.0, 1.5, 2.0, 2.5]))
    assert ok.tolist() == [False, True, True, True, True, True, False]
    assert v[1:6, 0].tolist() == [10.0, 12.5, 20.0, 30.0, 40.0]
    assert math.isnan(v[0, 0]) and math.isnan(v[6, 0])


def test_gap_longer_than_max_is_not_interpolated() -> None:
    s = Stream.scalar("gps", np.array([0.0, 1.0, 5.0, 6.0]), np.array([1.0, 2.0, 3.0, 4.0]),
                      max_gap_s=2.5)
    v, ok = align(s, np.array([0.5, 2.0, 4.9, 5.0, 5.5]))
    assert ok.tolist() == [True, False, False, True, True]
    assert v[0, 0] == 1.5 and v[3, 0] == 3.0


def test_clock_offset_shifts_the_stream() -> None:
    s = Stream.scalar("can", np.array([0.0, 1.0]), np.array([0.0, 10.0]), offset_s=0.5)
    v, ok = align(s, np.array([0.25, 0.5, 1.0, 1.5]))
    assert ok.tolist() == [False, True, True, True]
    assert v[1:, 0].tolist() == [0.0, 5.0, 10.0]


def test_nan_readings_are_gaps_not_numbers() -> None:
    s = Stream.scalar("gps", np.array([0.0, 1.0, 2.0, 3.0, 4.0]),
                      np.array([1.0, np.nan, np.nan, np.nan, 5.0]), max_gap_s=2.5)
    _, ok = align(s, np.array([0.5, 2.0, 3.5]))
    assert not ok.any()


def test_stream_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        Stream("x", np.array([0.0, 0.0]), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="does not match"):
        Stream("x", np.array([0.0, 1.0]), np.zeros((3, 1)))
    al = OnlineAligner("x")
    al.push(1.0, (1.0,))
    with pytest.raises(ValueError, match="strictly increasing"):
        al.push(1.0, (2.0,))
    with pytest.raises(ValueError, match="expected 1 values"):
        al.push(2.0, (1.0, 2.0))


def test_online_waits_for_the_bracketing_sample_and_stays_small() -> None:
    al = OnlineAligner("s", 1, 0.0, 2.5)
    al.push(0.0, (0.0,))
    assert al.query(0.5) is None  # the next sample has not come yet
    al.push(1.0, (10.0,))
    assert al.query(0.5) == ((5.0,), True)
    for i in range(2, 1000):
        al.push(float(i), (float(i),))
        assert al.query(i - 0.5) is not None
    assert len(al) <= 2  # bounded: old samples are dropped


@settings(max_examples=200, deadline=None)
@given(
    dts=st.lists(st.floats(0.01, 4.0), min_size=1, max_size=40),
    vals=st.lists(st.floats(-100, 100), min_size=41, max_size=41),
    qs=st.lists(st.floats(-2.0, 80.0), min_size=0, max_size=40),
    offset=st.floats(-3.0, 3.0),
    max_gap=st.floats(0.05, 3.0),
)
def test_online_equals_batch_bit_for_bit(dts, vals, qs, offset, max_gap) -> None:
    t = np.concatenate([[0.0], np.cumsum(dts)])
    v = np.array(vals[: t.shape[0]])
    q = sorted(qs)
    batch_v, batch_ok = align(Stream.scalar("s", t, v, offset, max_gap), np.array(q))
    online = _online(t.tolist(), v.tolist(), q, offset, max_gap)
    assert [o[1] for o in online] == batch_ok.tolist()
    for (vals_o, ok), bv in zip(online, batch_v[:, 0].tolist(), strict=True):
        if ok:
            assert vals_o[0] == bv  # identical, not approximately equal


def test_ticks_and_frame_gaps() -> None:
    ticks = regular_ticks(0.3, 1.0, 10.0)
    assert len(ticks) == 8 and ticks[-1] == pytest.approx(1.0)
    assert [tick_at(0.3, i, 10.0) for i in range(8)] == ticks.tolist()
    assert frame_gaps(np.array([0.0, 0.1, 0.2, 1.5, 1.6]), 1.0).tolist() == [
        False, False, False, True, False,
    ]
