"""Fast lane-departure alerts: ``lane_departure`` announced at the frame that completes the rule
(its line close for ``departure_min_duration_s``), not when the final departure comes
``guard`` (10 s) + a hop after its end; the final departure confirms the alert and is not
announced again, and the recorder's events stay those of the slow path (equal to analyze's:
test_edge_lanes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from saferoad.adapters.recording import open_recording
from saferoad.application.edge import CallbackSink, EdgeRecorder
from saferoad.application.edge_fast import FastLaneAlerts
from saferoad.config import load_config
from saferoad.domain.alerts import Alert
from saferoad.domain.lanes import LaneParams
from saferoad.domain.lanes.geometry import LaneLine, LaneObservation
from saferoad.domain.types import Direction, EventType
from saferoad.entrypoints.wiring import analysis_ports, analyze_recording, simulate

CFG = load_config(None, {"perception": {"detector": "replay"}, "road_events": {"clips": False}})


@pytest.mark.parametrize(
    ("args", "seed", "side"),
    [
        (["duration_s=16", "at_s=4", "direction=right"], 5, Direction.RIGHT),
        (["duration_s=40", "at_s=22", "direction=left", "speed_kmh=80"], 2, Direction.LEFT),
    ],
)
def test_lane_alert_at_the_completing_frame(tmp_path: Path, args: list[str], seed: int, side: Direction) -> None:
    rec = tmp_path / "rec"
    simulate("lane_departure", rec, assignments=args, seed=seed, config=CFG)
    recording = open_recording(rec)
    frame = 1.0 / (recording.meta.camera_fps or 10.0)
    got: list[Alert] = []
    report = EdgeRecorder(CFG, ports=analysis_ports(), sinks=[CallbackSink(got.append)]).replay(recording, speed=0)
    finals = [e for e in report.events if e.type is EventType.LANE_DEPARTURE]
    alerts = [a for a in got if a.event.type is EventType.LANE_DEPARTURE]
    (final,) = finals
    assert final.direction is side
    # the final event is the slow path's, unchanged: equal to analyze's
    (batch,) = [e for e in analyze_recording(recording, CFG).events if e.type is EventType.LANE_DEPARTURE]
    assert (final.direction, final.severity, final.evidence) == (batch.direction, batch.severity, batch.evidence)
    assert final.start_s == pytest.approx(batch.start_s, abs=frame + 1e-6)
    assert final.end_s == pytest.approx(batch.end_s, abs=frame + 1e-6)
    (alert,) = alerts  # announced once: the final departure confirmed it
    assert alert.provisional and alert.event.direction is side
    # at the frame that completes the rule: the line has just been close for its minimum duration
    min_s = LaneParams().departure_min_duration_s
    assert alert.event.start_s == pytest.approx(final.start_s, abs=frame + 1e-6)
    assert min_s - 1e-6 <= alert.completed_s - alert.event.start_s <= min_s + frame + 1e-6
    # raised in the step that brought that frame (sensor time), not guard + hop after the end
    (lag,) = report.fast_lane_lag_s
    assert 0.0 <= lag <= CFG.edge.tick_s + 1e-6
    (final_lag,) = report.lane_final_lag_s
    # the slow path: guard after the departure's end (or the drive's end, when that came first)
    guard = min(CFG.edge.motion_guard_s, recording.duration_s - final.end_s)
    assert final_lag >= guard + (final.end_s - alert.completed_s) - frame
    assert report.fast_lanes["confirmed"] == 1 and report.fast_lanes["retracted"] == 0
    assert report.fast_lanes["max_held"] <= (FastLaneAlerts(LaneParams()).window_s + frame) / frame + 1


def test_a_lane_change_gives_no_departure_and_its_alert_is_retracted(tmp_path: Path) -> None:
    """A gentle lane change (the simulator's, 90 km/h, left): no final departure (its quiet), and
    every fast alert it raised - the line is close before the marking is crossed, when the rule
    cannot yet know a lane change is under way - counted as retracted, none confirmed."""
    rec = tmp_path / "rec"
    simulate("lane_change", rec, assignments=["duration_s=22", "speed_kmh=90", "direction=left"], seed=1, config=CFG)
    got: list[Alert] = []
    report = EdgeRecorder(CFG, ports=analysis_ports(), sinks=[CallbackSink(got.append)]).replay(open_recording(rec), speed=0)
    assert not [e for e in report.events if e.type is EventType.LANE_DEPARTURE]
    alerts = [a for a in got if a.event.type is EventType.LANE_DEPARTURE]
    assert all(a.provisional for a in alerts)
    assert report.fast_lanes["confirmed"] == 0 and report.fast_lanes["retracted"] == len(alerts)


def _line(a: float) -> LaneLine:
    return LaneLine(a, 0.0, 0.0, 0.9, 5.0, 40.0, 20.0, 0.02)


def _obs(t: float, y_m: float) -> LaneObservation:
    """The ego ``y_m`` left of a 3.5 m lane's centre."""
    return LaneObservation(t, round(t * 10), _line(1.75 - y_m), _line(-1.75 - y_m))


def test_once_per_run_merged_and_retracted() -> None:
    """Synthetic observations at 10 fps, 20 m/s: a left line close for 1 s, away 0.2 s (less
    than the merge gap: the same departure, no second alert), close again, away; the
    alert ends at the run's last close frame, and unconfirmed it is retracted ``horizon_s``
    after that; a second run 2 s later is a new alert; below the minimum speed, none."""
    fast = FastLaneAlerts(LaneParams(), horizon_s=5.0)
    ts = [round(i * 0.1, 3) for i in range(80)]

    def y(t: float) -> float:  # 1.0 m left: the left line 0.75 m away (< 1.08 m); 0.5 m: 1.25 m
        close = (1.0 <= t < 2.0) or (2.2 <= t < 2.6) or (4.6 <= t < 5.2)
        return 1.0 if close else 0.5

    out = []
    for t in ts:
        out += [(t, e) for e in fast.observations([_obs(t, y(t))], lambda _x: 20.0)]
    assert [(t, e.start_s, e.direction) for t, e in out] == [
        (1.3, 1.0, Direction.LEFT),
        (4.9, 4.6, Direction.LEFT),
    ]
    assert [p.end_s for p in fast.pending] == [pytest.approx(2.5), pytest.approx(5.1)]
    fast.retract(7.6)
    assert fast.retracted == 1 and len(fast.pending) == 1
    slow = FastLaneAlerts(LaneParams())
    assert not any(slow.observations([_obs(t, y(t))], lambda _x: 10.0) for t in ts)  # < 31 mph


def test_window_must_hold_a_departure() -> None:
    with pytest.raises(ValueError, match="window_s"):
        FastLaneAlerts(LaneParams(), window_s=0.5)
