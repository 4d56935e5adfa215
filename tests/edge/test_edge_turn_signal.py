"""The turn signal quiets the lane departure warning toward its side (ISO 17361; openpilot's
LDW, 5 s after the blinker; docs/events.md): ``can.csv``'s optional ``turn_signal`` column,
read with its bad values named; ``analyze`` drops a ``lane_departure`` toward the signalled side
and the recorder does the same to its final departures and its fast alerts, so a deliberate,
signalled lane change raises no alert. Simulated drives rendered with video (the lane markings
are found in the frames), with and without the indicator."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from saferoad.adapters.recording import open_recording
from saferoad.adapters.recording.saferoad_format import read_can_file, write_can_csv
from saferoad.application.edge import CallbackSink, EdgeRecorder
from saferoad.application.edge_live import LiveLanes
from saferoad.config import load_config
from saferoad.domain.alerts import Alert
from saferoad.domain.lanes.geometry import LaneLine, LaneObservation
from saferoad.domain.lanes.turn_signal import LEFT, RIGHT, TurnSignals
from saferoad.domain.types import Direction, EventType, SpeedSeries, TurnSignalSeries
from saferoad.entrypoints.wiring import analysis_ports, analyze_recording, simulate

CFG = load_config(None, {"perception": {"detector": "replay"}, "road_events": {"clips": False}})
QUIET_S = CFG.lanes.turn_signal_quiet_s


def test_can_csv_turn_signal_is_read_and_a_bad_value_names_file_and_row(tmp_path: Path) -> None:
    can = tmp_path / "can.csv"
    t = np.arange(5) * 0.02
    write_can_csv(can, SpeedSeries(t, np.full(5, 20.0), "can"), np.array([0.0, -1.0, -1.0, 1.0, 0.0]))
    speed, turn = read_can_file(can)
    assert turn is not None and turn.state.tolist() == [0, -1, -1, 1, 0] and turn.t_s.tolist() == speed.t_s.tolist()
    # without the column: no turn signal (the column is optional)
    write_can_csv(can, SpeedSeries(t, np.full(5, 20.0), "can"))
    assert read_can_file(can)[1] is None
    # a value that is not -1, 0 or 1, or an empty field, names the file, the row and the field
    for bad in ("2", "0.5", ""):
        can.write_text(f"t_s,speed_mps,turn_signal\n0.00,20.0,0\n0.02,20.0,0\n0.04,20.0,{bad}\n")
        with pytest.raises(ValueError, match=r"can\.csv.*(data row 3|:4).*turn_signal"):
            read_can_file(can)


def test_the_quiet_covers_the_signalled_side_and_quiet_s_after() -> None:
    sig = TurnSignals.from_series(TurnSignalSeries(np.array([0.0, 1.0, 2.0, 3.0, 20.0]), np.array([0.0, 1.0, 1.0, 0.0, 0.0])))
    # right from 1 s, off at 3 s: quiet until 8 s
    assert sig.signalled(Direction.RIGHT, 7.5, 9.0, 5.0)
    assert sig.signalled(Direction.RIGHT, 0.5, 1.2, 5.0)
    assert not sig.signalled(Direction.RIGHT, 8.1, 9.0, 5.0)
    assert not sig.signalled(Direction.RIGHT, 0.2, 0.9, 5.0)  # before it came on
    assert not sig.signalled(Direction.LEFT, 1.0, 3.0, 5.0)  # the other side
    assert len(sig.changes) == 3  # only the changes are held
    sig.prune(10.0)
    assert list(sig.changes) == [(3.0, 0)]  # the state in force is kept


def _with_indicator(src: Path, dst: Path, side: int | None, start_s: float, end_s: float) -> Path:
    """A copy of ``src`` whose can.csv carries the turn signal ``side`` over [start_s, end_s]."""
    shutil.copytree(src, dst)
    speed, _ = read_can_file(dst / "can.csv")
    state = np.zeros(len(speed))
    if side is not None:
        state[(speed.t_s >= start_s) & (speed.t_s <= end_s)] = side
    write_can_csv(dst / "can.csv", speed, state)
    return dst


def _run(rec_dir: Path) -> tuple[list[EventType], list[Alert], dict[str, int], int, dict[str, object]]:
    """analyze's departures, the recorder's lane alerts, its fast lane figures, its final
    departures, analyze's lanes summary."""
    rec = open_recording(rec_dir)
    batch = analyze_recording(rec, CFG, rec_dir.parent / f"{rec_dir.name}-out")
    alerts: list[Alert] = []
    report = EdgeRecorder(CFG, ports=analysis_ports(), sinks=[CallbackSink(alerts.append)]).replay(rec, speed=0)
    departures_b = [e for e in batch.events if e.type is EventType.LANE_DEPARTURE]
    departures_e = [e for e in report.events if e.type is EventType.LANE_DEPARTURE]
    # the recorder's final departures are analyze's, with or without the indicator
    assert [(e.direction, round(e.start_s, 1)) for e in departures_e] == [(e.direction, round(e.start_s, 1)) for e in departures_b]
    lane_alerts = [a for a in alerts if a.event.type is EventType.LANE_DEPARTURE]
    return [e.type for e in departures_b], lane_alerts, report.fast_lanes, report.lanes["signalled"], batch.summary["road"]["lanes"]


def test_a_signalled_drift_gives_no_departure_and_no_alert(tmp_path: Path) -> None:
    """The simulator's right drift (16 s): a departure and its fast alert without the indicator
    and with the left one on; none with the right one on over the drift (the driver meant it)."""
    src = tmp_path / "rec"
    simulate("lane_departure", src, assignments=["duration_s=16", "at_s=4", "direction=right", "can.enabled=true"], seed=5, config=CFG)
    (label,) = [lb for lb in open_recording(src).labels or () if lb.type == "lane_departure"]
    start, end = label.start_s - 1.0, label.end_s
    for side, want in ((None, 1), (LEFT, 1), (RIGHT, 0)):
        rec = _with_indicator(src, tmp_path / f"rec-{side}", side, start, end)
        departures, alerts, fast, signalled, summary = _run(rec)
        assert len(departures) == want, (side, departures)
        assert len(alerts) == want, (side, alerts)
        assert signalled == 1 - want and summary["departures_signalled"] == 1 - want, (side, summary)
        assert fast["signalled"] == 1 - want and fast["retracted"] == 0, (side, fast)


def test_a_signalled_lane_change_raises_no_alert(tmp_path: Path) -> None:
    """The simulator's gentle lane change (90 km/h, left): without the indicator the fast alert
    fires on its approach to the line (retracted later: the rule cannot know yet); with the left
    indicator on from 1 s before it to its end, no alert; no final departure either way."""
    src = tmp_path / "rec"
    simulate("lane_change", src, assignments=["duration_s=22", "speed_kmh=90", "direction=left", "can.enabled=true"], seed=1, config=CFG)
    (label,) = [lb for lb in open_recording(src).labels or () if lb.direction is Direction.LEFT]  # labelled normal
    plain = _run(_with_indicator(src, tmp_path / "plain", None, 0.0, 0.0))
    signalled = _run(_with_indicator(src, tmp_path / "signalled", LEFT, label.start_s - 1.0, label.end_s))
    assert plain[0] == [] and signalled[0] == []
    assert len(plain[1]) >= 1 and plain[2]["retracted"] == len(plain[1])
    assert signalled[1] == [] and signalled[2]["signalled"] >= 1 and signalled[2]["retracted"] == 0


def _line(a: float) -> LaneLine:
    return LaneLine(a, 0.0, 0.0, 0.9, 5.0, 40.0, 20.0, 0.02)


def _obs(t: float, y_m: float) -> LaneObservation:
    """The ego ``y_m`` left of a 3.5 m lane's centre."""
    return LaneObservation(t, round(t * 10), _line(1.75 - y_m), _line(-1.75 - y_m))


def test_live_lanes_take_the_turn_signal_from_the_can_feed() -> None:
    """The live recorder's lanes (``LiveLanes``) with the live CAN feed's turn signal pushed as
    it arrives: a left drift at 20 m/s alerts without the indicator, not with the left one."""

    def drive(turn: TurnSignalSeries | None) -> tuple[int, int, int]:
        lanes = LiveLanes(CFG)
        alerts = finals = 0
        ts = [round(i * 0.1, 3) for i in range(300)]
        for t in ts:
            if turn is not None:
                k = turn.t_s <= t
                lanes.quiet.push(TurnSignalSeries(turn.t_s[k], turn.state[k]))
            alerts += len(lanes.arrive([_obs(t, 1.0 if 5.0 <= t < 7.0 else 0.0)], lambda _x: 20.0))
            finals += len(lanes.speed(SpeedSeries(np.array([t]), np.array([20.0]), "can")))
        finals += len(lanes.finish())
        return alerts, finals, lanes.figures()["signalled"]

    assert drive(None) == (1, 1, 0)
    left = TurnSignalSeries(np.array([0.0, 4.0, 7.5]), np.array([0.0, -1.0, 0.0]))
    assert drive(left) == (0, 0, 1)
