"""Each camera + motion rule on hand-built sequences, at its exact boundaries."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from saferoad.domain.road_events import (
    RoadEventEngine,
    RoadEventParams,
    SpeedingRule,
    SpeedSample,
    classify_lamp,
)
from saferoad.domain.types import EventType, RoadClass, TrackedObject

FPS = 10.0
P = RoadEventParams()


def _veh(d: float, tid: int = 1) -> TrackedObject:
    return TrackedObject(tid, RoadClass.VEHICLE, 1.0, (600.0, 300.0, 680.0, 360.0), d)


def _sign(d: float, tid: int = 50) -> TrackedObject:
    return TrackedObject(tid, RoadClass.STOP_SIGN, 1.0, (900.0, 200.0, 930.0, 230.0), d)


def _light(d: float, lamp: str, tid: int = 70) -> TrackedObject:
    return TrackedObject(
        tid, RoadClass.TRAFFIC_LIGHT, 1.0, (640.0, 100.0, 650.0, 125.0), d, attributes={"lamp": lamp}
    )


def run(
    duration: float,
    speed: Callable[[float], float],
    objects: Callable[[float], list[TrackedObject]],
    params: RoadEventParams = P,
    skip: Callable[[float], bool] = lambda t: False,
):
    eng = RoadEventEngine(params, fx=640.0, cx=640.0)
    out = []
    n = round(duration * FPS) + 1
    for i in range(n):
        t = round(i / FPS, 6)
        if skip(t):
            continue
        out += eng.on_frame(t, i, objects(t), speed(t))
    return out + eng.finish(), eng


# ------------------------------------------------------------------ tailgating


def _tail(hw_until: float, hw: float = 0.6, v: float = 20.0, **kw):
    def objs(t: float) -> list[TrackedObject]:
        # a car that cut in (its own track) at the short headway, else one far ahead
        return [_veh(hw * v, 2)] if 2.0 <= t <= hw_until + 1e-9 else [_veh(30.0)]

    return run(25.0, lambda t: v, objs, **kw)[0]


def test_tailgating_held_exactly_the_minimum_is_an_event() -> None:
    ev = _tail(12.0)
    assert [e.type for e in ev] == [EventType.TAILGATING]
    assert ev[0].start_s == pytest.approx(2.0) and ev[0].end_s == pytest.approx(12.0)
    assert ev[0].evidence["lead_track_id"] == 2
    assert ev[0].peak["min_headway_s"] == pytest.approx(0.6)


def test_tailgating_just_short_of_the_minimum_is_not() -> None:
    assert _tail(11.9) == []


def test_tailgating_headway_at_the_threshold_is_not_below_it() -> None:
    assert _tail(14.0, hw=0.7) == []
    assert [e.type for e in _tail(14.0, hw=0.69)] == [EventType.TAILGATING]


def test_tailgating_needs_the_minimum_speed() -> None:
    assert _tail(14.0, v=15.6) == []  # 34.9 mph < 35 mph
    assert len(_tail(14.0, v=15.7)) == 1


def test_tailgating_bridges_a_short_dropout_but_not_a_long_one() -> None:
    def objs_with_hole(hole: float) -> Callable[[float], list[TrackedObject]]:
        def f(t: float) -> list[TrackedObject]:
            if 7.0 < t < 7.0 + hole:
                return []
            return [_veh(12.0, 2)] if 2.0 <= t <= 12.0 else [_veh(30.0)]

        return f

    short, _ = run(20.0, lambda t: 20.0, objs_with_hole(0.45))
    assert len(short) == 1 and short[0].start_s == pytest.approx(2.0)
    long_, _ = run(20.0, lambda t: 20.0, objs_with_hole(0.8))
    assert long_ == []  # two runs of 5 s, neither long enough


def test_tailgating_is_not_decided_across_a_video_gap() -> None:
    ev, _ = run(
        20.0, lambda t: 20.0, lambda t: [_veh(12.0)] if t <= 14.0 else [_veh(30.0, 2)],
        skip=lambda t: 6.0 < t < 7.5,
    )
    assert ev == []  # 4 s before the gap, 6.5 s after: neither reaches 10 s
    ev2, _ = run(
        30.0, lambda t: 20.0, lambda t: [_veh(12.0)] if t <= 24.0 else [_veh(30.0, 2)],
        skip=lambda t: 12.0 < t < 13.5,
    )
    assert [(e.start_s, e.end_s) for e in ev2] == [(0.0, 12.0), (13.5, 24.0)]


def test_tailgating_is_not_decided_across_unknown_speed() -> None:
    ev, _ = run(20.0, lambda t: math.nan if 6.0 < t < 6.5 else 20.0,
                lambda t: [_veh(12.0)] if t <= 14.0 else [_veh(30.0, 2)])
    assert ev == []


def test_lead_is_the_nearest_vehicle_in_the_corridor() -> None:
    # a nearer car in the next lane (box centre far right) is not the lead
    side = TrackedObject(9, RoadClass.VEHICLE, 1.0, (1100.0, 300.0, 1200.0, 380.0), 8.0)
    ev, _ = run(15.0, lambda t: 20.0, lambda t: [side, _veh(30.0)])
    assert ev == []
    ev, _ = run(15.0, lambda t: 20.0, lambda t: [side, _veh(12.0)])
    assert [e.evidence["lead_track_id"] for e in ev] == [1]


# -------------------------------------------------------- forward collision


def test_forward_collision_when_ttc_falls_below_threshold() -> None:
    def d(t: float) -> float:  # closing at 10 m/s from t = 5 s, then holding at 5 m
        return 40.0 if t < 5 else max(5.0, 40.0 - 10.0 * (t - 5.0))

    ev, _ = run(15.0, lambda t: 20.0, lambda t: [_veh(d(t))])
    assert [e.type for e in ev] == [EventType.FORWARD_COLLISION_WARNING]
    # TTC = d / 10 < 2 s once d < 20 m, i.e. after t = 7.0 s (range rate settled by then)
    assert ev[0].start_s == pytest.approx(7.05, abs=0.06)
    assert ev[0].peak["min_ttc_s"] < 1.0


def test_forward_collision_needs_speed_and_closing() -> None:
    def d(t: float) -> float:
        return 40.0 if t < 5 else max(5.0, 40.0 - 10.0 * (t - 5.0))

    ev, _ = run(15.0, lambda t: 11.0, lambda t: [_veh(d(t))])  # below 25 mph
    assert ev == []
    ev, _ = run(15.0, lambda t: 20.0, lambda t: [_veh(5.0)])  # close but not closing
    assert [e.type for e in ev] == [EventType.TAILGATING]


def test_a_new_lead_cutting_in_makes_no_fake_closing_speed() -> None:
    ev, _ = run(
        15.0, lambda t: 20.0,
        lambda t: [_veh(40.0, 1)] if t < 5 else [_veh(40.0, 1), _veh(15.0, 2)],
    )
    assert ev == []


# --------------------------------------------------------------- stop signs


def _stop(
    speed: Callable[[float], float], sign_until: float = 5.0, **kw
):
    def objs(t: float) -> list[TrackedObject]:
        return [_sign(max(3.0, 3.0 + 6.0 * (sign_until - t)))] if t <= sign_until else []

    return run(20.0, speed, objs, **kw)


def _profile(v_min: float, t_min: float = 6.0, v0: float = 12.0) -> Callable[[float], float]:
    def v(t: float) -> float:
        if t <= t_min - 3:
            return v0
        if t <= t_min:
            return v0 + (v_min - v0) * (t - (t_min - 3)) / 3.0
        if t <= t_min + 1:
            return v_min
        return min(v0, v_min + 3.0 * (t - t_min - 1))

    return v


def test_full_stop_is_not_an_event() -> None:
    ev, eng = _stop(_profile(0.0))
    assert ev == [] and eng.undecided == 0


def test_rolling_stop() -> None:
    ev, _ = _stop(_profile(4.0))
    assert [e.type for e in ev] == [EventType.ROLLING_STOP]
    e = ev[0]
    assert e.evidence["sign_track_id"] == 50
    assert e.peak["min_speed_mps"] == pytest.approx(4.0)
    # last seen at 5.0 s, 3 m away at about 4.7 m/s: passes ~0.6 s later
    assert e.start_s == pytest.approx(5.0) and 5.4 < e.end_s < 5.9


def test_no_attempt_to_stop_is_a_violation() -> None:
    ev, _ = _stop(lambda t: 12.0)
    assert [e.type for e in ev] == [EventType.STOP_SIGN_VIOLATION]
    assert ev[0].end_s == pytest.approx(5.25)  # 3 m at 12 m/s after the last sighting


def test_stop_speed_boundary_is_exact() -> None:
    stop = P.stop_speed_mps
    assert [e.type for e in _stop(_profile(stop))[0]] == [EventType.ROLLING_STOP]
    assert _stop(_profile(stop - 1e-3))[0] == []


def test_slowing_down_fraction_boundary() -> None:
    # 25% below a 12 m/s approach is 9 m/s: at 9 it is an attempt, at 9.1 it is not
    assert [e.type for e in _stop(_profile(9.0))[0]] == [EventType.ROLLING_STOP]
    assert [e.type for e in _stop(_profile(9.1))[0]] == [EventType.STOP_SIGN_VIOLATION]


def test_stop_must_come_within_the_window_after_the_sign_leaves_view() -> None:
    # sign last seen at 5.0 s; window 7 s: a stop at 11.5 s counts; one reaching 6 mph only
    # after 12 s (standstill at 14 s) is too late
    assert _stop(_profile(0.0, t_min=11.5, v0=8.0))[0] == []
    late, _ = _stop(_profile(0.0, t_min=14.0, v0=8.0))
    assert [e.type for e in late] == [EventType.ROLLING_STOP]  # slowed to 5.3 m/s by 12 s
    assert late[0].peak["min_speed_mps"] == pytest.approx(8.0 * 2 / 3, abs=1e-3)


def test_stop_sign_not_decided_across_a_gap() -> None:
    ev, eng = _stop(lambda t: 12.0, skip=lambda t: 7.0 < t < 8.5)
    assert ev == [] and eng.undecided == 1


def test_a_stray_or_far_sign_is_not_a_stop_sign() -> None:
    ev, _ = run(20.0, lambda t: 12.0, lambda t: [_sign(10.0)] if 4.95 < t < 5.15 else [])
    assert ev == []  # seen in 2 frames < 3
    ev, _ = run(20.0, lambda t: 12.0, lambda t: [_sign(60.0)] if t < 5 else [])
    assert ev == []  # never nearer than 30 m


def test_two_signs_at_one_intersection_are_one_event() -> None:
    ev, _ = run(
        20.0, lambda t: 12.0,
        lambda t: [_sign(3 + 6 * (5 - t), 50), _sign(4 + 6 * (5 - t), 51)] if t <= 5 else [],
    )
    assert len(ev) == 1


# ---------------------------------------------------------------- red lights


def _light_run(lamp: str, speed: Callable[[float], float], until: float = 4.0):
    return run(
        15.0, speed, lambda t: [_light(8.0 + 10.0 * (until - t), lamp)] if t <= until else []
    )[0]


def test_passing_a_red_light() -> None:
    ev = _light_run("red", lambda t: 10.0)
    assert [e.type for e in ev] == [EventType.RED_LIGHT]
    assert ev[0].start_s == pytest.approx(4.0) and ev[0].end_s == pytest.approx(4.8)
    assert ev[0].evidence["light_track_id"] == 70 and ev[0].evidence["lamp"] == "red"


def test_green_or_yellow_light_is_not_an_event() -> None:
    assert _light_run("green", lambda t: 10.0) == []
    assert _light_run("yellow", lambda t: 10.0) == []


def test_stopping_at_a_red_light_is_not_an_event() -> None:
    # stopped 2 m short of the light, which stays in view while red, then turns green
    def objs(t: float) -> list[TrackedObject]:
        if t < 5:
            return [_light(max(8.0, 40 - 8 * t), "red")]
        if t < 10:
            return [_light(8.0, "red")]
        return [_light(8.0 - 5 * (t - 10), "green")] if t < 11 else []

    def v(t: float) -> float:
        return 8.0 if t < 4 else (0.0 if t < 10 else 5.0)

    ev, _ = run(15.0, v, objs)
    assert ev == []


def test_stopping_at_the_line_after_the_light_left_the_view_is_not_an_event() -> None:
    # last seen 8 m away at 6 m/s, then brakes at 3 m/s² and stops after 6 m: never passes
    def v(t: float) -> float:
        return 6.0 if t <= 4.0 else max(0.0, 6.0 - 3.0 * (t - 4.0))

    assert _light_run("red", v) == []


def test_a_stop_with_the_sign_still_in_view_is_a_stop() -> None:
    # stops at 4 s, 10 m short of the sign (still in view), then rolls past it at 5 m/s
    def v(t: float) -> float:
        return 8.0 if t < 3 else (0.0 if t < 4.5 else 5.0)

    ev, _ = run(20.0, v, lambda t: [_sign(8.0)] if t <= 6.0 else [])
    assert ev == []


def test_creeping_past_a_red_light_below_the_speed_is_not_an_event() -> None:
    assert _light_run("red", lambda t: 2.0) == []


# ------------------------------------------------------------------ speeding


def _speeding(over_s: float, v_over: float = 17.0, limit: float = 50 / 3.6, gap_at=None):
    rule = SpeedingRule(P.speeding_margin_mps, P.speeding_min_duration_s, 0.15)
    out = []
    for i in range(200 * 10 + 1):
        t = round(i / 10, 6)
        if gap_at is not None and gap_at < t < gap_at + 1:
            continue
        v = v_over if 10.0 <= t <= 10.0 + over_s + 1e-9 else 12.0
        out += rule.update(SpeedSample(t, v, limit))
    return out + rule.finish()


def test_speeding_for_exactly_the_minimum_duration() -> None:
    ev = _speeding(60.0)
    assert [(e.type, e.start_s, e.end_s) for e in ev] == [(EventType.SPEEDING, 10.0, 70.0)]
    assert ev[0].evidence["limit_kmh"] == pytest.approx(50.0)
    assert _speeding(59.9) == []


def test_speeding_margin_is_exclusive() -> None:
    limit = 50 / 3.6
    assert _speeding(80.0, v_over=limit + P.speeding_margin_mps) == []
    assert len(_speeding(80.0, v_over=limit + P.speeding_margin_mps + 0.01)) == 1


def test_speeding_is_not_decided_across_a_gap_or_without_a_limit() -> None:
    assert _speeding(80.0, gap_at=40.0) == []
    assert _speeding(80.0, limit=math.nan) == []


# ----------------------------------------------------------- lamp colour


def _lamp_crop(bgr: tuple[int, int, int], row: int) -> np.ndarray:
    crop = np.full((30, 12, 3), 30, dtype=np.uint8)  # dark housing
    cy = 5 + 10 * row
    yy, xx = np.mgrid[:30, :12]
    crop[(yy - cy) ** 2 + (xx - 6) ** 2 <= 16] = bgr
    return crop


def test_lamp_colour_classifier() -> None:
    assert classify_lamp(_lamp_crop((40, 40, 240), 0)) == "red"
    assert classify_lamp(_lamp_crop((30, 200, 250), 1)) == "yellow"
    assert classify_lamp(_lamp_crop((120, 230, 40), 2)) == "green"
    assert classify_lamp(_lamp_crop((200, 200, 90), 2)) == "green"  # blue-green LED
    assert classify_lamp(np.full((30, 12, 3), 30, dtype=np.uint8)) == "unknown"
    assert classify_lamp(np.zeros((1, 1, 3), dtype=np.uint8)) == "unknown"


def test_lamp_hsv_matches_opencv() -> None:
    cv2 = pytest.importorskip("cv2")
    from saferoad.domain.road_events.lamp import bgr_to_hsv

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    h, s, v = bgr_to_hsv(img)
    ref = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.float64)
    assert np.abs(v - ref[..., 2]).max() == 0
    assert np.abs(s - ref[..., 1]).max() <= 1.0
    dh = np.abs(h - ref[..., 0])
    assert np.minimum(dh, 180 - dh).max() <= 1.0


# ------------------------------------------------------- streaming vs batch


def _random_drive(seed: int):
    """30 fps frames with a lead whose distance wanders (tailgating and closing spells), and
    a 1 Hz speed stream with a long silence and an early end."""
    from saferoad.domain.timeline import Stream

    rng = np.random.default_rng(seed)
    t_f = np.arange(0, 120, 1 / 30)
    v_t = np.arange(0.0, 100.0, 1.0)
    v_t = v_t[(v_t < 40) | (v_t > 47)]  # 7 s without speed, and none after 99 s
    v = 20 + 3 * np.sin(v_t / 9) + rng.normal(0, 0.2, v_t.shape)
    d = 16 + 10 * np.sin(t_f / 7) + rng.normal(0, 0.3, t_f.shape)
    keep = rng.random(t_f.shape) > 0.05  # missed detections
    frames = [
        (float(t), i, (_veh(float(dd), 1 + int(t // 30)),) if k else ())
        for i, (t, dd, k) in enumerate(zip(t_f, d, keep, strict=True))
    ]
    return frames, Stream.scalar("speed", v_t, v, 0.0, 2.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_equals_batch_and_stays_bounded_when_speed_falls_silent(seed: int) -> None:
    from saferoad.domain.road_events import StreamingRoad, batch_road

    params = RoadEventParams(tailgating_min_duration_s=3.0)
    frames, speed = _random_drive(seed)
    batch, _ = batch_road(frames, speed, params, fx=640.0, cx=640.0)
    stream = StreamingRoad(params, fx=640.0, cx=640.0)
    got = []
    samples = list(zip(speed.t_s.tolist(), speed.values[:, 0].tolist(), strict=True))
    j = 0
    for t, idx, objs in frames:
        while j < len(samples) and samples[j][0] <= t:
            got += stream.push_speed(*samples[j])
            j += 1
        got += stream.push_frame(t, idx, objs)
    got += stream.finish()
    assert batch, "the drive must produce events"
    assert [e.to_dict() for e in got] == [e.to_dict() for e in batch]
    assert stream.max_pending <= 2.5 * 30 + 2  # at most max_gap_s of 30 fps frames
