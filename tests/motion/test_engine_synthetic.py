"""The engine on generated drives with a random, unknown mounting: it must find the vehicle
frame, flag the harsh manoeuvres with the right type and direction, and leave the ordinary
ones alone."""

from __future__ import annotations

import numpy as np
import pytest

from saferoad.domain.matching import match_events
from saferoad.domain.motion.engine import EngineParams, run_engine
from saferoad.domain.types import Direction, EventLabel, ImuSeries

from .conftest import Drive, make_drive


def labels_of(d: Drive) -> list[EventLabel]:
    return [EventLabel(t, s, e, Direction(di) if di else None) for t, di, s, e in d.expected]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_unknown_mounting_found_and_events_exact(seed: int) -> None:
    d = make_drive(seed=seed)
    res = run_engine(d.imu, d.gps, None, EngineParams())
    assert res.mode == "signed"
    assert res.frame is not None and res.frame.rotation is not None
    # forward and up axes recovered within a few degrees
    fwd_err = np.degrees(np.arccos(np.clip(res.frame.rotation[0] @ d.rotation[0], -1, 1)))
    up_err = np.degrees(np.arccos(np.clip(res.frame.rotation[2] @ d.rotation[2], -1, 1)))
    assert fwd_err < 5 and up_err < 3, (fwd_err, up_err)
    m = match_events(res.events, labels_of(d))
    assert m.overall.fp == 0 and m.overall.fn == 0, [e.to_dict() for e in res.events]
    for match in m.matches:
        assert match.pred.severity is not None
        assert 0.5 <= match.pred.confidence <= 1.0


def test_configured_mounting_is_used(drive: Drive) -> None:
    res = run_engine(drive.imu, None, None, EngineParams(mounting=drive.rotation))
    assert res.frame is not None and res.frame.method == "configured"
    m = match_events(res.events, labels_of(drive))
    assert m.overall.f1 == 1.0


def test_vehicle_frame_long_acc_tracks_truth(drive: Drive) -> None:
    res = run_engine(drive.imu, drive.gps, None, EngineParams())
    tl = res.timeline
    truth = np.interp(tl["t_s"], drive.imu.t_s, drive.a_long)
    assert np.corrcoef(tl["long_acc_mps2"], truth)[0, 1] > 0.95


def test_ordinary_driving_not_flagged() -> None:
    d = make_drive(seed=5)
    quiet = d.imu.t_s > 70  # only the gentle manoeuvres
    imu = ImuSeries(d.imu.t_s[quiet], d.imu.acc[quiet], d.imu.gyro[quiet], frame="device")
    res = run_engine(imu, None, None, EngineParams(mounting=d.rotation))
    assert res.events == []


def test_thresholds_come_from_params(drive: Drive) -> None:
    from saferoad.domain.motion.harsh import HarshParams

    strict = EngineParams(harsh=HarshParams(braking_g=0.6, acceleration_g=0.6, cornering_g=0.6, lane_change_g=0.6))
    res = run_engine(drive.imu, drive.gps, None, strict)
    assert res.events == []


def test_gap_splits_and_is_reported(drive: Drive) -> None:
    t = drive.imu.t_s
    keep = ~((t > 20.5) & (t < 23.0))  # a 2.5 s hole in the middle of the braking
    imu = ImuSeries(t[keep], drive.imu.acc[keep], drive.imu.gyro[keep], frame="device")
    res = run_engine(imu, drive.gps, None, EngineParams(mounting=drive.rotation))
    assert len(res.gaps) == 1 and res.gaps[0][0] == pytest.approx(20.5, abs=0.02)
    for e in res.events:
        assert not (e.start_s < 21.0 and e.end_s > 22.9), "an event spans the gap"


def test_speed_sources(drive: Drive) -> None:
    with_can = run_engine(drive.imu, drive.gps, drive.can, EngineParams())
    assert with_can.speed is not None and with_can.speed.source == "can"
    fused = run_engine(drive.imu, drive.gps, None, EngineParams())
    assert fused.speed is not None and fused.speed.source == "imu+gps"
    truth = np.interp(fused.speed.t_s, drive.can.t_s, drive.can.speed_mps)
    assert np.abs(fused.speed.speed_mps - truth).max() < 1.0
    none = run_engine(drive.imu, None, None, EngineParams())
    assert none.speed is None


def test_device_frame_without_gyro_or_gps_runs_heading_free(drive: Drive) -> None:
    """No gyroscope and no speed: the forward axis cannot be fixed. The horizontal plane
    still comes from gravity, so the harsh pulses are found (their type is a guess: see
    docs/events.md, heading-free mode)."""
    imu = ImuSeries(drive.imu.t_s, drive.imu.acc, None, frame="device")
    res = run_engine(imu, None, None, EngineParams())
    assert res.mode == "heading-free"
    for t0, t1 in ((20.0, 21.5), (30.0, 32.0)):
        assert any(e.start_s < t1 and e.end_s > t0 for e in res.events), (t0, t1)
    quiet = [e for e in res.events if e.start_s > 70]
    assert quiet == []


@pytest.mark.parametrize("offset_deg", [0.0, 37.0, -120.0])
def test_earth_frame_with_gps_course_is_signed(drive: Drive, offset_deg: float) -> None:
    """An Earth-frame log (axes fixed to the ground, at an unknown fixed angle to east/north)
    with GPS: the course turns the axes with the car and the offset is fitted."""
    th = drive.heading + np.radians(offset_deg)
    c, s = np.cos(th), np.sin(th)
    ex = c * drive.a_long - s * drive.a_lat
    ey = s * drive.a_long + c * drive.a_lat
    rng = np.random.default_rng(0)
    n = drive.imu.t_s.size
    acc = np.column_stack([ex, ey, np.full(n, 9.80665)]) + rng.normal(0, 0.15, (n, 3))
    gyro = np.column_stack([np.zeros(n), np.zeros(n), drive.yaw_rate]) + rng.normal(0, 0.01, (n, 3))
    imu = ImuSeries(drive.imu.t_s, acc, gyro, frame="earth")
    res = run_engine(imu, drive.gps, None, EngineParams())
    assert res.mode == "signed" and res.frame is not None and res.frame.method == "gps-course"
    m = match_events(res.events, labels_of(drive))
    assert m.overall.fp == 0 and m.overall.fn == 0, [e.to_dict() for e in res.events]
    without_gps = run_engine(imu, None, None, EngineParams())
    assert without_gps.mode == "heading-free"


def test_gps_only_finds_longitudinal_and_turns(drive: Drive) -> None:
    res = run_engine(None, drive.gps, None, EngineParams())
    assert res.mode == "gps-only" and res.speed is not None
    m = match_events(res.events, labels_of(drive))
    found = {(x.label.type, x.label.direction) for x in m.matches}
    assert ("harsh_braking", None) in found and ("harsh_acceleration", None) in found
    assert ("harsh_cornering", Direction.LEFT) in found
    assert m.overall.fp == 0, [e.to_dict() for e in m.false_positives]
    assert set(res.timeline) >= {"t_s", "speed_mps", "long_acc_mps2"}
