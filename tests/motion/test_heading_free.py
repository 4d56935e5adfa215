"""Heading-free mode on Earth-frame logs high-passed like the driverBehaviorDataset's: a push
shows as an onset pulse and an opposite release pulse, which must stay one event."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from saferoad.domain.motion.engine import EngineParams, run_engine
from saferoad.domain.motion.harsh import HarshParams
from saferoad.domain.types import EventType, G, ImuSeries

HZ = 50.0


def _highpass(x: np.ndarray, tau: float = 1.0) -> np.ndarray:
    alpha = tau / (tau + 1 / HZ)
    out: np.ndarray = lfilter([alpha, -alpha], [1, -alpha], x, axis=0)
    return out


def _earth_log(push: np.ndarray, heading_deg: float, seed: int = 0) -> ImuSeries:
    rng = np.random.default_rng(seed)
    t = np.arange(push.size) / HZ
    fwd = np.array([np.cos(np.radians(heading_deg)), np.sin(np.radians(heading_deg))])
    h = _highpass(push[:, None] * fwd[None, :]) + rng.normal(0, 0.05, (push.size, 2))
    acc = np.column_stack([h, np.full(push.size, G)])
    gyro = rng.normal(0, 0.002, (push.size, 3))
    return ImuSeries(t, acc, gyro, frame="earth")


def _profile(kind: str) -> np.ndarray:
    t = np.arange(0, 30, 1 / HZ)
    x = np.zeros_like(t)
    if kind == "brake":  # abrupt onset, held 2.5 s, eased off over 1 s
        x[(t >= 10) & (t < 12.5)] = -0.5 * G
        m = (t >= 12.5) & (t < 13.5)
        x[m] = -0.5 * G * (13.5 - t[m])
    else:  # torque builds up over 2 s, held, then lifted off abruptly
        m = (t >= 10) & (t < 12)
        x[m] = 0.45 * G * (t[m] - 10) / 2
        x[(t >= 12) & (t < 14)] = 0.45 * G
    return x


@pytest.mark.parametrize("heading", [0.0, 75.0, 200.0])
def test_braking_with_release_pulse_is_one_braking(heading: float) -> None:
    imu = _earth_log(_profile("brake"), heading)
    res = run_engine(imu, None, None, EngineParams())
    assert res.mode == "heading-free"
    assert [e.type for e in res.events] == [EventType.HARSH_BRAKING]
    ev = res.events[0]
    assert ev.start_s == pytest.approx(10.0, abs=0.3) and ev.end_s > 13.0  # release included


def test_abrupt_release_pulse_is_not_a_second_event() -> None:
    t = np.arange(0, 30, 1 / HZ)
    x = np.where((t >= 10) & (t < 13), -0.5 * G, 0.0)  # abrupt on and off: two strong pulses
    imu = _earth_log(x, 30.0)
    assert len(run_engine(imu, None, None, EngineParams()).events) == 1
    # what the rebound rule prevents:
    no_rule = run_engine(imu, None, None, EngineParams(harsh=HarshParams(rebound_s=0.0)))
    assert len(no_rule.events) == 2


@pytest.mark.parametrize("heading", [10.0, 130.0])
def test_gradual_push_abrupt_release_is_acceleration(heading: float) -> None:
    imu = _earth_log(_profile("accel"), heading)
    res = run_engine(imu, None, None, EngineParams(harsh=HarshParams(acceleration_g=0.3)))
    assert [e.type for e in res.events] == [EventType.HARSH_ACCELERATION]


def _lane_change_in_bend(side: float, bend_dps: float, bias_dps: float, swing_dps: float) -> ImuSeries:
    """A lane change (one sine period of yaw rate, ±``swing_dps`` over 3 s, ``side`` +1 left /
    -1 right) on a bend of ``bend_dps`` at 12 m/s, with a gyroscope bias: Earth-frame,
    high-passed like the driverBehaviorDataset (the bend's steady lateral acceleration fades,
    the yaw rate does not)."""
    t = np.arange(0, 30, 1 / HZ)
    swing = side * np.radians(swing_dps) * np.sin(2 * np.pi * (t - 12) / 3.0)
    w = np.radians(bend_dps) + np.where((t >= 12) & (t < 15), swing, 0.0)
    heading = np.cumsum(w) / HZ
    left = np.column_stack([-np.sin(heading), np.cos(heading)])
    h = _highpass(12.0 * w[:, None] * left)
    acc = np.column_stack([h, np.full(t.size, G)])
    gyro = np.column_stack([np.zeros_like(t), np.zeros_like(t), w + np.radians(bias_dps)])
    return ImuSeries(t, acc, gyro, frame="earth")


@pytest.mark.parametrize("side", [1.0, -1.0])
@pytest.mark.parametrize("swing_dps", [14.0, 20.0])
@pytest.mark.parametrize(("bend_dps", "bias_dps"), [(0.0, 0.0), (-4.0, -0.7), (4.0, 0.7), (-5.0, 0.0)])
def test_lane_change_side_in_a_bend(side: float, swing_dps: float, bend_dps: float, bias_dps: float) -> None:
    """The side of a lane change is the way the car moved sideways, not the sign of the first
    yaw-rate swing past half the turn rate (4 °/s): in a bend of 4-5 °/s, or with the gyro
    bias trip 17 showed (-0.73 °/s), the yaw rate is past that before the lane change starts.
    ±14 °/s at 12 m/s peaks at 0.28 g as recorded (a hard lane change, graded), ±20 °/s at
    0.40 g (a harsh one, the event)."""
    res = run_engine(_lane_change_in_bend(side, bend_dps, bias_dps, swing_dps), None, None, EngineParams())
    want = "left" if side > 0 else "right"
    changes = [m for m in res.manoeuvres if m.kind.value == "lane_change"]
    assert len(changes) == 1, [m.to_dict() for m in res.manoeuvres]
    assert changes[0].direction is not None and changes[0].direction.value == want
    assert (changes[0].band.value == "harsh") == (swing_dps == 20.0)
    for e in res.events:
        assert e.type == EventType.AGGRESSIVE_LANE_CHANGE and e.direction is not None
        assert e.direction.value == want
