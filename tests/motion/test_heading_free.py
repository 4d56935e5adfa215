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
