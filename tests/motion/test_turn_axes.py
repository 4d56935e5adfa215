"""The forward axis of an Earth-frame log without GPS, found from its turns, and the
heading-free rules typing pushes by it (domain/motion/turn_axes.py)."""

from __future__ import annotations

import numpy as np
import pytest

from saferoad.domain.motion.engine import EngineParams, run_engine
from saferoad.domain.motion.highpass import highpass
from saferoad.domain.motion.turn_axes import turn_axes
from saferoad.domain.types import EventType, G, ImuSeries

HZ = 50.0


def _drive(
    turns: int = 6, bias_dps: float = 0.3, tau: float | None = 0.94, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, ImuSeries]:
    """A 220 s drive: ``turns`` ordinary 48° turns peaking at 16 °/s (8-10 m/s, under 0.3 g lateral), a
    gentle speed-up to 14 m/s, a braking to a stop at 100 s that builds up over 1.2 s and ends
    abruptly at the stop (0.55 g), then a launch at 110 s that jumps to 0.5 g and eases off over 2 s. Earth frame, the horizontal
    acceleration high-passed in the car's frame (``tau``) as the driverBehaviorDataset's phone
    does, the gyroscope with a bias. Returns t, the true heading (rad), the true car-frame
    acceleration (N, 2: forward, left) and the log."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, 220, 1 / HZ)
    w = np.zeros_like(t)
    starts = [15.0, 35.0, 55.0, 75.0, 140.0, 160.0, 180.0, 200.0][:turns]
    for k, t0 in enumerate(starts):
        m = (t >= t0) & (t < t0 + 6.0)
        w[m] = (1 if k % 2 == 0 else -1) * np.radians(8.0) * np.sin(np.pi * (t[m] - t0) / 6.0) ** 2 * 2
    a_long = np.zeros_like(t)
    a_long[(t >= 88) & (t < 94)] = 1.0
    m = (t >= 100) & (t < 101.2)
    a_long[m] = -0.55 * G * (t[m] - 100) / 1.2
    v = 14.0
    stop = 101.2 + (v - 0.5 * 0.55 * G * 1.2) / (0.55 * G)
    a_long[(t >= 101.2) & (t < stop)] = -0.55 * G
    a_long[(t >= 110) & (t < 111)] = 0.5 * G
    m = (t >= 111) & (t < 113)
    a_long[m] = 0.5 * G * (113 - t[m]) / 2
    speed = np.clip(8.0 + np.cumsum(a_long) / HZ, 0.0, None)
    a_lat = speed * w
    heading = 0.7 + np.cumsum(w) / HZ
    car = np.column_stack([a_long, a_lat])
    seen = car if tau is None else highpass(car, tau, HZ)
    c, s = np.cos(heading), np.sin(heading)
    h = np.column_stack([c * seen[:, 0] - s * seen[:, 1], s * seen[:, 0] + c * seen[:, 1]])
    h = h + rng.normal(0, 0.05, h.shape)
    acc = np.column_stack([h, np.full(t.size, G) + rng.normal(0, 0.05, t.size)])
    gyro = np.column_stack([rng.normal(0, 0.003, (t.size, 2)), w + np.radians(bias_dps) + rng.normal(0, 0.003, t.size)])
    imu = ImuSeries(t, acc, gyro, frame="earth", horizontal_highpass_tau_s=tau)
    return t, heading, car, imu


@pytest.mark.parametrize("bias_dps", [0.0, 0.4, -0.8])
def test_forward_found_within_degrees_despite_gyro_bias(bias_dps: float) -> None:
    t, heading, _, imu = _drive(bias_dps=bias_dps)
    assert imu.gyro is not None
    valid = np.ones(t.size, dtype=bool)
    axes = turn_axes(imu.acc[:, :2], imu.gyro[:, 2], valid, HZ, 0.94)
    assert axes is not None and axes.turns == 6
    assert axes.agreement > 0.95
    assert axes.gyro_bias_dps == pytest.approx(bias_dps, abs=0.1)
    for i in range(0, t.size, 500):
        f = axes.forward(i)
        assert np.hypot(*f) == pytest.approx(1.0)
        err = np.degrees(np.arccos(np.clip(f @ [np.cos(heading[i]), np.sin(heading[i])], -1, 1)))
        assert err < 10.0


def test_not_high_passed_source_uses_the_yaw_rate_itself() -> None:
    t, heading, _, imu = _drive(tau=None)
    assert imu.gyro is not None
    axes = turn_axes(imu.acc[:, :2], imu.gyro[:, 2], np.ones(t.size, dtype=bool), HZ, None)
    assert axes is not None
    i = t.size // 2
    assert axes.forward(i) @ [np.cos(heading[i]), np.sin(heading[i])] > 0.98


def test_too_few_turns_or_gaps_give_no_axis() -> None:
    t, _, _, imu = _drive(turns=3)
    assert imu.gyro is not None
    assert turn_axes(imu.acc[:, :2], imu.gyro[:, 2], np.ones(t.size, dtype=bool), HZ, 0.94) is None
    t, _, _, imu = _drive()
    assert imu.gyro is not None
    assert turn_axes(imu.acc[:, :2], imu.gyro[:, 2], np.zeros(t.size, dtype=bool), HZ, 0.94) is None


def test_turns_that_disagree_give_no_axis() -> None:
    """Lateral acceleration unrelated to the turns (a loose phone, say): no axis, and the
    pulse order decides as before."""
    t, _, _, imu = _drive()
    assert imu.gyro is not None
    rng = np.random.default_rng(3)
    noise = highpass(rng.normal(0, 2.0, (t.size, 2)), 2.0, HZ)
    assert turn_axes(noise, imu.gyro[:, 2], np.ones(t.size, dtype=bool), HZ, 0.94) is None


def test_braking_to_a_stop_and_abrupt_launch_typed_by_the_axis() -> None:
    """The pulse-order rule assumes a braking starts abruptly and an acceleration ends
    abruptly; a braking that builds up and ends at the stop, and a launch that jumps and
    eases off, break it. Signed by the turns' forward axis both come out right."""
    _, _, _, imu = _drive(bias_dps=0.4)
    res = run_engine(imu, None, None, EngineParams())
    assert res.mode == "heading-free" and res.axes is not None
    longs = [e for e in res.events if e.type in (EventType.HARSH_BRAKING, EventType.HARSH_ACCELERATION)]
    assert [e.type for e in longs] == [EventType.HARSH_BRAKING, EventType.HARSH_ACCELERATION]
    assert [e.start_s for e in longs] == [pytest.approx(101.0, abs=0.75), pytest.approx(110.0, abs=0.75)]
    assert all(e.evidence["typed_by"] == "forward axis from the turns" for e in longs)
    assert len(res.events) == 2  # ordinary turns are not flagged
    # what the axis fixes: the pulse order alone types both the wrong way round
    old = run_engine(imu, None, None, EngineParams(forward_from_turns=False))
    assert [e.type for e in old.events] == [EventType.HARSH_ACCELERATION, EventType.HARSH_BRAKING]
    assert all(e.evidence["typed_by"] == "pulse order" for e in old.events)


def test_not_high_passed_pushes_typed_by_their_direction() -> None:
    """Without a source high-pass a push has no release pulse: the braking is the pulse
    pointing backwards and the launch the one pointing forwards, never an onset/release pair."""
    _, _, _, imu = _drive(bias_dps=0.4, tau=None)
    res = run_engine(imu, None, None, EngineParams())
    assert res.mode == "heading-free" and res.axes is not None and not res.axes.highpassed
    longs = [e for e in res.events if e.type in (EventType.HARSH_BRAKING, EventType.HARSH_ACCELERATION)]
    assert [e.type for e in longs] == [EventType.HARSH_BRAKING, EventType.HARSH_ACCELERATION]
    assert [e.start_s for e in longs] == [pytest.approx(101.0, abs=0.75), pytest.approx(110.0, abs=0.75)]
    assert all(e.evidence["typed_by"] == "forward axis from the turns" for e in longs)


def test_a_gap_starts_a_new_frame() -> None:
    """The car turns 120° while the log has a gap (the yaw rate there is unknown, so the
    integrated frame freezes): the forward axis after the gap comes from the turns after it,
    not from turns whose frame no longer matches. A stretch with one turn has no axis."""
    t, heading, _, imu = _drive(turns=8)
    assert imu.gyro is not None
    valid = np.ones(t.size, dtype=bool)
    valid[(t >= 115) & (t < 135)] = False
    after = t >= 125
    turn = np.radians(120.0)
    c, s = np.cos(turn), np.sin(turn)
    h = imu.acc[:, :2].copy()
    h[after] = np.column_stack([c * h[after, 0] - s * h[after, 1], s * h[after, 0] + c * h[after, 1]])
    truth = heading + np.where(after, turn, 0.0)
    axes = turn_axes(h, imu.gyro[:, 2], valid, HZ, 0.94)
    assert axes is not None and axes.turns == 8
    assert axes.agreement > 0.95
    for i in list(range(0, t.size, 500)):
        if not valid[i]:
            continue
        f = axes.forward(i)
        assert f is not None
        err = np.degrees(np.arccos(np.clip(f @ [np.cos(truth[i]), np.sin(truth[i])], -1, 1)))
        assert err < 10.0, (t[i], err)

    # the gap moved so that only one turn (at 15 s) comes before it: that stretch has no axis
    valid = np.ones(t.size, dtype=bool)
    valid[(t >= 25) & (t < 30)] = False
    axes = turn_axes(imu.acc[:, :2], imu.gyro[:, 2], valid, HZ, 0.94)
    assert axes is not None and axes.turns == 7
    assert axes.forward(int(10 * HZ)) is None
    assert axes.forward(int(50 * HZ)) is not None
