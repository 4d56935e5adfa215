"""The live camera's frame clock (frames timed by index from the least-delayed arrival) and the
adaptive stride: the smallest stride that keeps inference under its target load, raised
when frames wait or the CPU budget is exceeded, lowered with hysteresis, bounded."""

from __future__ import annotations

import numpy as np
import pytest

from saferoad.domain.frame_clock import FrameClock
from saferoad.domain.stride import AdaptiveStride


def test_fast_inference_keeps_every_frame() -> None:
    s = AdaptiveStride()
    for _ in range(50):
        assert s.update(0.010, fps=30.0) == 1  # 10 ms x 30 fps = 30 % busy


def test_slow_inference_strides_to_the_smallest_that_keeps_up() -> None:
    s = AdaptiveStride(target_load=0.8)
    for _ in range(100):
        stride = s.update(0.070, fps=30.0)  # 70 ms: 2.1 frames' time; 2.1 / 0.8 -> 3
    assert stride == 3
    assert s.load(30.0) == pytest.approx(0.7, abs=1e-6)


def test_backlog_and_cpu_budget_raise_the_stride_then_it_relaxes() -> None:
    s = AdaptiveStride()
    assert s.update(0.010, fps=30.0, backlog=4) == 2
    assert s.update(0.010, fps=30.0, over_cpu_budget=True) == 3
    # caught up, inference cheap: back down one step at a time
    assert [s.update(0.010, fps=30.0) for _ in range(3)] == [2, 1, 1]


def test_hysteresis_holds_near_the_boundary() -> None:
    s = AdaptiveStride(target_load=0.8, relax=0.8, ewma=1.0)
    assert s.update(0.050, fps=30.0) == 2  # 1.5 frames' time -> 2 (load 0.75)
    # 0.025 s: stride 1 would load 0.75 > 0.8 x 0.8: stays at 2
    assert s.update(0.025, fps=30.0) == 2
    assert s.update(0.020, fps=30.0) == 1  # 0.6 <= 0.64: relaxes


def test_stride_is_bounded() -> None:
    s = AdaptiveStride(max_stride=4)
    assert s.update(1.0, fps=30.0) == 4
    with pytest.raises(ValueError, match="max_stride"):
        AdaptiveStride(max_stride=0)


def test_frame_clock_times_bursty_arrivals_by_index() -> None:
    clock = FrameClock(period_s=0.1)
    rng = np.random.default_rng(1)
    # captured every 0.1 s from 5.0 s; delivered 30-250 ms later, in bursts
    delays = 0.03 + rng.exponential(0.05, size=100).clip(0, 0.22)
    times = np.array([clock.time(i, 5.0 + 0.1 * i + delays[i]) for i in range(100)])
    # each frame is timed at its capture plus the least delay seen so far: the bursts (up to
    # 250 ms here) do not reach the frame times, and none is timed after it arrived
    err = times - (5.0 + 0.1 * np.arange(100))
    assert err == pytest.approx(np.minimum.accumulate(delays), abs=1e-9)
    assert err.max() <= delays[0] and delays.max() - delays.min() > 0.15
    assert clock.max_lag_s == pytest.approx(float(np.max(delays - np.minimum.accumulate(delays))), abs=1e-9)


def test_frame_clock_follows_a_restart() -> None:
    clock = FrameClock(period_s=0.1)
    assert clock.time(0, 1.0) == pytest.approx(1.0)
    assert clock.time(1, 1.1) == pytest.approx(1.1)
    clock.reset()  # the decoder restarted 3 s later, its index went on
    assert clock.time(2, 4.5) == pytest.approx(4.5)
