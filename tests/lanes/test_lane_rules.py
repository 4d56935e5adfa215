"""Lane rules on lane observations with a known ego path: lane changes from the marking
crossed, lane_departure (openpilot's conditions), fusion with the IMU's lane change."""

from __future__ import annotations

import math

import numpy as np
import pytest

from saferoad.domain.lanes import (
    LaneLine,
    LaneObservation,
    LaneParams,
    fuse_lane_changes,
    lane_events,
    observe_lanes,
)
from saferoad.domain.types import Direction, Event, EventType, Severity

W = 3.6
FPS = 10.0


def _line(a: float, conf: float = 0.9) -> LaneLine:
    return LaneLine(a, 0.0, 0.0, conf, 5.0, 40.0, 20.0, 0.02)


def _observe(y: np.ndarray, t: np.ndarray, conf: float = 0.9) -> list[LaneObservation]:
    """Observations of a straight road with lines at k·W + W/2 for an ego at lateral ``y``
    (road frame, left +, 0 = the first lane's centre)."""
    out = []
    for i, (ti, yi) in enumerate(zip(t, y, strict=True)):
        k = math.floor((yi + W / 2) / W)  # lane the camera is in
        left = (k + 0.5) * W - yi
        right = (k - 0.5) * W - yi
        out.append(LaneObservation(float(ti), i, _line(left, conf), _line(right, conf)))
    return out


def _t(dur: float) -> np.ndarray:
    return np.arange(0.0, dur, 1.0 / FPS)


def _bump(t: np.ndarray, t0: float, t1: float, amp: float) -> np.ndarray:
    """0 outside [t0, t1], a raised cosine of height ``amp`` inside."""
    x = np.clip((t - t0) / (t1 - t0), 0, 1)
    return amp * 0.5 * (1 - np.cos(2 * np.pi * x))


def _step(t: np.ndarray, t0: float, dur: float, amp: float) -> np.ndarray:
    tau = np.clip((t - t0) / dur, 0, 1)
    return amp * (tau - np.sin(2 * np.pi * tau) / (2 * np.pi))


FAST = (np.array([0.0, 1000.0]), np.array([25.0, 25.0]))


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_a_drift_to_the_line_and_back_is_a_departure_on_that_side(side: float) -> None:
    t = _t(30.0)
    y = _bump(t, 10.0, 16.0, side * 1.0)  # the line comes to 0.8 m of the camera
    res = lane_events(_observe(y, t), *FAST)
    [ev] = res.events
    assert ev.type is EventType.LANE_DEPARTURE
    assert ev.direction is (Direction.LEFT if side > 0 else Direction.RIGHT)
    # close (< 1.08 m) while |y| > 0.72 m: from t where the bump passes 0.72
    close = t[np.abs(y) > W / 2 - 1.08]
    assert ev.start_s == pytest.approx(close[0], abs=0.11)
    assert ev.end_s == pytest.approx(close[-1], abs=0.11)
    assert ev.peak["min_line_distance_m"] == pytest.approx(0.8, abs=0.01)
    assert ev.severity is Severity.MEDIUM
    assert res.lane_changes == []


def test_no_departure_below_the_speed_floor_without_speed_or_with_weak_lines() -> None:
    t = _t(30.0)
    y = _bump(t, 10.0, 16.0, 1.0)
    obs = _observe(y, t)
    slow = (np.array([0.0, 1000.0]), np.array([13.0, 13.0]))  # < 31 mph
    assert lane_events(obs, *slow).events == []
    assert lane_events(obs, None, None).events == []
    assert lane_events(_observe(y, t, conf=0.4), *FAST).events == []  # not seen (< 0.5)
    # staying centred is nothing
    assert lane_events(_observe(np.zeros_like(t), t), *FAST).events == []


@pytest.mark.parametrize("lanes", [1, -1])
def test_a_lane_change_is_found_with_the_marking_crossed_and_is_no_departure(lanes: int) -> None:
    t = _t(30.0)
    y = _step(t, 10.0, 5.0, lanes * W)
    res = lane_events(_observe(y, t), *FAST)
    assert res.events == []
    [lc] = res.lane_changes
    assert lc.direction is (Direction.LEFT if lanes > 0 else Direction.RIGHT)
    assert lc.crossing_s == pytest.approx(12.5, abs=0.11)
    assert 10.0 < lc.start_s < 12.5 < lc.end_s < 15.0
    # the offset is continuous within the lane and the width is the lane's
    assert np.nanmedian(res.width_m) == pytest.approx(W)


def test_departure_quiet_after_a_lane_change_then_flagged_again() -> None:
    t = _t(40.0)
    # the change is back in the middle of its new lane at 8.2 s; quiet until 13.2 s
    y = _step(t, 5.0, 5.0, W) + _bump(t, 11.0, 15.0, 1.0)  # close from 12.3 s: quiet
    y2 = _step(t, 5.0, 5.0, W) + _bump(t, 25.0, 29.0, 1.0)  # drift 15 s after
    assert lane_events(_observe(y, t), *FAST).events == []
    [ev] = lane_events(_observe(y2, t), *FAST).events
    assert ev.direction is Direction.LEFT and 25.0 < ev.start_s < 27.0


def test_riding_on_the_line_does_not_make_lane_changes() -> None:
    """Observations flip between lanes while the camera sits on the marking: crossings
    undone within flicker_s cancel."""
    t = _t(20.0)
    y = np.where((t > 5) & (t < 8), W / 2 + 0.02 * np.sin(t * 20), 0.0)
    res = lane_events(_observe(y, t), *FAST, LaneParams(quiet_after_lane_change_s=5.0))
    assert res.lane_changes == []


def test_fusion_takes_the_cameras_direction_and_keeps_the_imus() -> None:
    t = _t(30.0)
    y = _step(t, 10.0, 2.5, W)  # to the left
    res = lane_events(_observe(y, t), *FAST)
    imu = Event(EventType.AGGRESSIVE_LANE_CHANGE, 10.1, 12.4, Severity.MEDIUM, 0.8, Direction.RIGHT)
    other = Event(EventType.HARSH_BRAKING, 20.0, 21.0, Severity.MEDIUM, 0.8)
    fused = fuse_lane_changes([imu, other], res.lane_changes)
    assert fused[1] is other
    assert fused[0].direction is Direction.LEFT
    assert fused[0].evidence["imu_direction"] == "right"
    assert fused[0].evidence["camera_lane_change"]["direction"] == "left"
    # far from any camera lane change: unchanged
    late = Event(EventType.AGGRESSIVE_LANE_CHANGE, 25.0, 27.0, Severity.MEDIUM, 0.8, Direction.RIGHT)
    assert fuse_lane_changes([late], res.lane_changes)[0] is late


def test_observe_lanes_picks_the_ego_lane_and_rejects_a_stray_segment() -> None:
    def dashes(y: float, x0: float = 5.0, x1: float = 40.0) -> list[list[float]]:
        return [[x, y, x + 3.0, y] for x in np.arange(x0, x1, 12.0)]

    ground = np.array(dashes(1.7) + dashes(-1.9) + dashes(5.3) + [[20.0, -0.1, 30.0, -0.1]])
    o = observe_lanes(0.0, 0, ground)
    assert o.left is not None and o.right is not None
    assert o.left.a == pytest.approx(1.7) and o.right.a == pytest.approx(-1.9)
    assert o.width_m == pytest.approx(3.6) and o.offset_m == pytest.approx(0.1)
    # dashes give less paint than a solid line; nothing on one side: that side unknown
    one = observe_lanes(0.0, 0, np.array(dashes(-1.9)))
    assert one.left is None and one.right is not None and one.confidence == 0.0
    assert observe_lanes(0.0, 0, np.zeros((0, 4))).left is None
