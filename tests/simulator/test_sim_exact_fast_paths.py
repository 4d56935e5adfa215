"""The simulator's profiles evaluated only where they change are, bit for bit, the formulas
evaluated on the whole clock (the recordings a seed writes do not move)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from saferoad.domain.simulation import SCENARIOS
from saferoad.domain.simulation.kinematics import LaneChange, lane_offset, time_grid
from saferoad.domain.simulation.scenarios import _smooth_step
from saferoad.domain.simulation.truth import LaneDefinitions, lane_change_quiet


def _smooth_step_everywhere(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    x = np.clip((t - t0) / max(t1 - t0, 1e-9), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(math.pi * x)


def _lane_offset_everywhere(t: np.ndarray, changes: list[LaneChange], lane_w: float, d0: float):  # type: ignore[no-untyped-def]
    d, dd, ddd = np.full_like(t, d0), np.zeros_like(t), np.zeros_like(t)
    two_pi = 2.0 * math.pi
    for ch in changes:
        w = ch.lanes * lane_w
        tau = np.clip((t - ch.start_s) / ch.duration_s, 0.0, 1.0)
        inside = (t > ch.start_s) & (t < ch.start_s + ch.duration_s)
        d += w * (tau - np.sin(two_pi * tau) / two_pi)
        dd += np.where(inside, w / ch.duration_s * (1.0 - np.cos(two_pi * tau)), 0.0)
        ddd += np.where(inside, w * two_pi / ch.duration_s**2 * np.sin(two_pi * tau), 0.0)
    return d, dd, ddd


@pytest.mark.parametrize("dt", [0.01, 0.005, 0.1])
def test_smooth_step_equals_the_formula_everywhere(dt: float) -> None:
    rng = np.random.default_rng(1)
    t = time_grid(300.0, dt)
    for _ in range(60):
        t0 = float(rng.uniform(-10, 310))
        t1 = t0 + float(rng.choice([0.0, 1e-12, dt, float(rng.uniform(0, 40))]))
        got = _smooth_step(t, t0, t1)
        np.testing.assert_array_equal(got, _smooth_step_everywhere(t, t0, t1))
    assert _smooth_step(t, 10.0, 20.0)[0] == 0.0 and _smooth_step(t, 10.0, 20.0)[-1] == 1.0


@pytest.mark.parametrize("dt", [0.01, 0.005, 0.1])
def test_lane_offset_equals_the_formula_everywhere(dt: float) -> None:
    rng = np.random.default_rng(2)
    t = time_grid(300.0, dt)
    for _ in range(20):
        changes = [
            LaneChange(float(rng.uniform(-5, 300)), float(rng.choice([dt, float(rng.uniform(0.5, 8))])), int(rng.choice([-2, -1, 1, 2])))
            for _ in range(int(rng.integers(0, 25)))
        ]
        changes.append(LaneChange(float(t[int(rng.integers(0, t.shape[0]))]), 4.0, -1))  # starts on a sample
        d0 = float(rng.choice([0.0, 1.75, -3.5]))
        for got, want in zip(lane_offset(t, changes, 3.5, d0), _lane_offset_everywhere(t, changes, 3.5, d0), strict=True):
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def _quiet_scanning(t: np.ndarray, lane: np.ndarray, centred: np.ndarray, quiet_after_s: float) -> np.ndarray:
    """The quiet window as first written: each lane change scans the clock for it."""
    quiet = np.zeros(len(t), dtype=bool)
    for c in np.flatnonzero(np.diff(lane) != 0):
        before = np.flatnonzero(centred[: c + 1])
        after = np.flatnonzero(centred[c + 1 :]) + c + 1
        a = before[-1] if len(before) else 0
        b = after[0] if len(after) else len(t) - 1
        quiet |= (t >= t[a]) & (t <= t[b] + quiet_after_s)
    return quiet


@pytest.mark.parametrize(
    ("scenario", "sets"),
    [("mixed_drive", ["segments=15", f"plan_seed={k}"]) for k in range(4)]
    + [("lane_departure", []), ("lane_change", []), ("aggressive_lane_change", ["direction=right"])],
)
def test_lane_labels_equal_the_scanning_definition(scenario: str, sets: list[str]) -> None:
    sc = SCENARIOS[scenario].make(sets, seed=1)
    w = sc.road.lane_width_m
    lane = np.floor((sc.ego.d + w / 2) / w)
    for defs in (LaneDefinitions(), LaneDefinitions(quiet_after_lane_change_s=0.0, departure_min_duration_s=0.2)):
        centred = np.abs(sc.ego.d - lane * w) <= defs.centre_band * w
        got = lane_change_quiet(sc.t, lane, centred, defs.quiet_after_lane_change_s)
        np.testing.assert_array_equal(got, _quiet_scanning(sc.t, lane, centred, defs.quiet_after_lane_change_s))


def test_lane_change_quiet_without_a_centred_sample_on_one_side() -> None:
    t = time_grid(10.0, 0.1)
    lane = np.where(t < 5.0, 0.0, 1.0)
    for centred in (t > 7.0, t < 3.0, np.zeros_like(t, dtype=bool), np.ones_like(t, dtype=bool)):
        got = lane_change_quiet(t, lane, centred, 0.5)
        np.testing.assert_array_equal(got, _quiet_scanning(t, lane, centred, 0.5))
        assert got.any()
