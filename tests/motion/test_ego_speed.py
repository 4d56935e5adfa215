"""Ego speed: CAN first, GPS speed field, GPS positions, IMU+GPS fusion."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoad.domain.ego_speed import distance_km, ego_speed, fuse_imu_gps, gps_speed, haversine_m
from saferoad.domain.types import GpsSeries, SpeedSeries


def _gps(v: float, n: int = 30, with_speed: bool = True) -> GpsSeries:
    t = np.arange(n, dtype=np.float64)
    lat = 35.0 + (v * t) / 111_195.0  # northwards at v m/s
    sp = np.full(n, v) if with_speed else np.full(n, np.nan)
    return GpsSeries(t, lat, np.full(n, 139.0), sp, np.zeros(n), np.zeros(n))


def test_can_wins() -> None:
    can = SpeedSeries(np.arange(5.0), np.full(5, 3.0), "can")
    s = ego_speed(can, _gps(10))
    assert s is not None and s.source == "can"


def test_gps_speed_field_and_positions() -> None:
    s = gps_speed(_gps(12.0))
    assert s is not None and s.source == "gps" and np.allclose(s.speed_mps, 12.0)
    s = gps_speed(_gps(12.0, with_speed=False))
    assert s is not None and s.source == "gps-positions"
    assert np.allclose(s.speed_mps, 12.0, rtol=0.01)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.5, 50), st.floats(-0.8, 0.8))
def test_fusion_tracks_truth(v0: float, a: float) -> None:
    t = np.arange(0, 20, 0.02)
    truth = np.maximum(v0 + a * t, 0.0)
    acc = np.where(truth > 0, a, 0.0)
    tg = t[::50]
    gps = SpeedSeries(tg, truth[::50] + 0.3 * np.sin(tg * 7), "gps")
    fused = fuse_imu_gps(t, acc, gps, tau_s=2.0)
    assert fused.source == "imu+gps"
    assert fused.t_s[0] >= tg[0] and fused.t_s[-1] <= tg[-1]  # only where GPS vouches for it
    assert np.abs(fused.speed_mps - np.interp(fused.t_s, t, truth)).max() < 1.0


def test_no_speed_before_the_first_fix() -> None:
    """An IMU that starts 5 s before the GPS has its first fix: the speed then is unknown, not
    the first fix's speed held back to t = 0 (issue 15), nor after the last fix."""
    t = np.arange(0, 30, 0.02)
    tg = np.arange(5.0, 25.0, 1.0)
    n = tg.size
    gps = GpsSeries(tg, 35.0 + 10.0 * tg / 111_195.0, np.full(n, 139.0), np.full(n, 10.0), np.zeros(n), np.zeros(n))
    fused = ego_speed(None, gps, t, np.zeros_like(t))
    assert fused is not None and fused.source == "imu+gps"
    assert fused.t_s[0] == pytest.approx(5.0) and fused.t_s[-1] == pytest.approx(24.0)
    assert np.allclose(fused.speed_mps, 10.0)


def test_distance() -> None:
    assert distance_km(SpeedSeries(np.array([0.0, 100.0]), np.array([10.0, 10.0]), "gps")) == pytest.approx(1.0)
    assert haversine_m(np.array([0.0]), np.array([0.0]), np.array([1.0]), np.array([0.0]))[0] == pytest.approx(111_195, rel=1e-3)


def test_no_source() -> None:
    assert ego_speed(None, None) is None
