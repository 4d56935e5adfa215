"""Ego and actor motion: speed profiles, road curvature, lane changes, integration.

The model is planar and kinematic (no tyre slip, no body roll or pitch): the ego follows the
road's reference line at offset ``d(t)``; its longitudinal acceleration is ``dv/dt``, its
lateral acceleration ``v² κ(s) + d''(t)``. Profiles are built so that their derivatives are
known exactly on the base clock: speeds are piecewise-linear keyframes smoothed by a moving
average of ``ramp_s`` (so acceleration is trapezoidal, jerk-limited), curves are clothoid
ramps of curvature, lane changes have a full sine of lateral acceleration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from saferoad.domain.simulation.model import EgoTrack, Road
from saferoad.domain.types import FloatArray


@dataclass(frozen=True, slots=True)
class Curve:
    """A bend: curvature ramps linearly from 0 to ``1/radius_m`` over ``transition_m``
    (a clothoid), holds for ``length_m``, and ramps back. ``radius_m`` > 0 turns left."""

    start_m: float
    length_m: float
    radius_m: float
    transition_m: float = 20.0


@dataclass(frozen=True, slots=True)
class LaneChange:
    """Move ``lanes`` lanes (+ left, - right) in ``duration_s`` from ``start_s``.

    Lateral acceleration is one full sine period: peak ``2 π W / T²`` for a width ``W``,
    positive (towards the new lane) in the first half, negative in the second. A fraction
    of a lane is a drift within the lane (``lane_departure``: out towards a marking, then back)."""

    start_s: float
    duration_s: float
    lanes: float = 1


def time_grid(duration_s: float, dt: float) -> FloatArray:
    if duration_s <= 0 or dt <= 0:
        raise ValueError(f"duration_s ({duration_s}) and dt ({dt}) must be positive")
    n = round(duration_s / dt) + 1
    out: FloatArray = np.arange(n, dtype=np.float64) * dt
    return out


def moving_average(x: FloatArray, window: int) -> FloatArray:
    """Centred moving average over ``window`` samples (odd), edges held."""
    if window <= 1:
        return x.copy()
    half = window // 2
    padded = np.concatenate([np.full(half, x[0]), x, np.full(half, x[-1])])
    c = np.cumsum(np.concatenate([[0.0], padded]))
    out: FloatArray = (c[window:] - c[:-window]) / window
    return out[: x.shape[0]]


def speed_profile(
    t: FloatArray, keyframes: Sequence[tuple[float, float]], ramp_s: float = 0.4
) -> FloatArray:
    """Speed (m/s) through ``(time, speed)`` keyframes, linear between them, then smoothed
    by a ``ramp_s`` moving average so acceleration ramps (jerk-limited) instead of stepping.
    Before the first and after the last keyframe the speed is held."""
    if not keyframes:
        raise ValueError("a speed profile needs at least one keyframe")
    kt = np.array([k[0] for k in keyframes], dtype=np.float64)
    kv = np.array([k[1] for k in keyframes], dtype=np.float64)
    if np.any(np.diff(kt) <= 0):
        raise ValueError(f"speed keyframe times must increase: {kt.tolist()}")
    if np.any(kv < 0):
        raise ValueError(f"speed keyframes must not be negative: {kv.tolist()}")
    v = np.interp(t, kt, kv)
    dt = float(t[1] - t[0]) if t.shape[0] > 1 else 1.0
    window = max(1, round(ramp_s / dt) | 1)
    return moving_average(v, window)


def integrate(t: FloatArray, rate: FloatArray, x0: float = 0.0) -> FloatArray:
    """Cumulative trapezoid integral of ``rate`` over ``t`` starting at ``x0``."""
    out = np.empty_like(rate)
    out[0] = x0
    out[1:] = x0 + np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(t))
    return out


def build_road(
    curves: Sequence[Curve],
    length_m: float,
    *,
    lane_width_m: float = 3.5,
    lanes_left: int = 1,
    lanes_right: int = 0,
    heading0_deg: float = 0.0,
    ds: float = 0.5,
) -> Road:
    """Integrate the curvature of ``curves`` into a reference line ``length_m`` long."""
    s = np.arange(0.0, max(length_m, ds * 4) + ds, ds)
    kappa = np.zeros_like(s)
    for c in curves:
        if c.radius_m == 0 or c.length_m < 0 or c.transition_m < 0:
            raise ValueError(f"bad curve {c}: radius must be non-zero, lengths non-negative")
        k = 1.0 / c.radius_m
        tr = max(c.transition_m, 1e-9)
        a, b = c.start_m, c.start_m + c.transition_m
        e = b + c.length_m
        f = e + c.transition_m
        up = np.clip((s - a) / tr, 0.0, 1.0)
        down = np.clip((f - s) / tr, 0.0, 1.0)
        kappa += k * np.minimum(up, down) * ((s >= a) & (s <= f))
    heading = integrate(s, kappa, math.radians(heading0_deg))
    x = integrate(s, np.cos(heading))
    y = integrate(s, np.sin(heading))
    return Road(s, kappa, heading, x, y, lane_width_m, lanes_left, lanes_right, heading0_deg)


def lane_offset(
    t: FloatArray, changes: Sequence[LaneChange], lane_width_m: float, d0: float = 0.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Lateral offset ``d`` and its first two derivatives for a series of lane changes, on an
    ascending clock ``t``.

    The sine profile is evaluated only during each change (found by bisection; a drive of
    many changes would otherwise pay three sines per change for every sample); before a
    change it adds nothing and after it the full ``w``, exactly what the profile gives at
    ``tau`` 0 and 1."""
    d = np.full_like(t, d0)
    dd = np.zeros_like(t)
    ddd = np.zeros_like(t)
    two_pi = 2.0 * math.pi
    end = np.ones(1)
    for ch in changes:
        if ch.duration_s <= 0:
            raise ValueError(f"lane change at {ch.start_s} s: duration must be positive")
        w = ch.lanes * lane_width_m
        t0, dur = ch.start_s, ch.duration_s
        i0 = int(np.searchsorted(t, t0, side="right"))  # the first sample with tau > 0
        i1 = int(np.searchsorted(t, t0 + dur * (1.0 + 1e-9), side="right"))  # tau = 1 from here on
        tau = np.clip((t[i0:i1] - t0) / dur, 0.0, 1.0)
        d[i0:i1] += w * (tau - np.sin(two_pi * tau) / two_pi)
        d[i1:] += w * (end - np.sin(two_pi * end) / two_pi)
        j1 = int(np.searchsorted(t, t0 + dur, side="left"))  # inside: t0 < t < t0 + dur
        ti = np.clip((t[i0:j1] - t0) / dur, 0.0, 1.0)
        dd[i0:j1] += w / dur * (1.0 - np.cos(two_pi * ti))
        ddd[i0:j1] += w * two_pi / dur**2 * np.sin(two_pi * ti)
    return d, dd, ddd


def ego_track(
    t: FloatArray,
    v: FloatArray,
    road: Road,
    changes: Sequence[LaneChange] = (),
) -> EgoTrack:
    """The ego's full kinematic state on the base clock."""
    dt = float(t[1] - t[0])
    s = integrate(t, v)
    if s[-1] > road.s_grid[-1]:
        raise ValueError(f"road ({road.s_grid[-1]:.0f} m) shorter than the drive ({s[-1]:.0f} m)")
    a_long = np.gradient(v, dt)
    d, d1, d2 = lane_offset(t, changes, road.lane_width_m)
    _, _, path_heading, kappa = road.at(s)
    heading = path_heading + np.arctan2(d1, np.maximum(v, 0.5))
    yaw_rate = np.gradient(heading, dt)
    x, y = road.world(s, d)
    return EgoTrack(t, s, v, a_long, d, v * v * kappa, d2, yaw_rate, heading, x, y)


def vehicle_s_from_speed(
    t: FloatArray, s0: float, keyframes: Sequence[tuple[float, float]], ramp_s: float = 0.4
) -> FloatArray:
    """Arc length of an actor starting at ``s0`` and driving a speed profile."""
    return integrate(t, speed_profile(t, keyframes, ramp_s), s0)


def follower_gap_s(ego: EgoTrack, headway_s: FloatArray, min_gap_m: float = 2.0) -> FloatArray:
    """Arc length of a lead vehicle kept at time headway ``headway_s`` (per base sample)
    ahead of the ego's front: ``s_ego + max(headway · v, min_gap_m)``."""
    gap = np.maximum(headway_s * ego.v, min_gap_m)
    out: FloatArray = ego.s + gap
    return out
