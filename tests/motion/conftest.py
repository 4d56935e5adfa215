"""A small vehicle-kinematics generator for the motion tests: known manoeuvres, a known
(random) device mounting, IMU at 100 Hz and GPS at 10 Hz, with noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from saferoad.domain.types import G, GpsSeries, ImuSeries, SpeedSeries


@dataclass
class Drive:
    imu: ImuSeries
    gps: GpsSeries
    can: SpeedSeries
    rotation: np.ndarray  # device -> vehicle
    expected: list[tuple[str, str | None, float, float]]  # type, direction, start, end
    a_long: np.ndarray
    a_lat: np.ndarray
    heading: np.ndarray  # radians, counter-clockwise from east
    yaw_rate: np.ndarray


def _smooth(x: np.ndarray, n: int) -> np.ndarray:
    k = np.hanning(n)
    k /= k.sum()
    return np.convolve(x, k, mode="same")


def make_drive(seed: int = 0, rotation: np.ndarray | None = None, noise: float = 0.15) -> Drive:
    rng = np.random.default_rng(seed)
    hz = 100.0
    t = np.arange(0, 130, 1 / hz)
    a = np.zeros_like(t)
    w = np.zeros_like(t)
    expected: list[tuple[str, str | None, float, float]] = []

    def span(t0: float, t1: float) -> np.ndarray:
        return (t >= t0) & (t < t1)

    v0 = 15.0
    # harsh braking -0.5 g, 1.5 s
    a[span(20, 21.5)] = -0.5 * G
    expected.append(("harsh_braking", None, 20, 21.5))
    # harsh acceleration +0.45 g, 2 s
    a[span(30, 32)] = 0.45 * G
    expected.append(("harsh_acceleration", None, 30, 32))
    # compute speed so far to size the turn
    # left turn 90 deg at yaw 0.3 rad/s
    w[span(45, 45 + (np.pi / 2) / 0.3)] = 0.3
    expected.append(("harsh_cornering", "left", 45, 45 + (np.pi / 2) / 0.3))
    # right lane change: yaw -W sin, one period of 3 s
    m = span(62, 65)
    w[m] = -0.25 * np.sin(2 * np.pi * (t[m] - 62) / 3.0)
    expected.append(("aggressive_lane_change", "right", 62, 65))
    # ordinary manoeuvres: gentle braking, gentle turn, gentle lane change, gentle push
    a[span(75, 78)] = -0.15 * G
    a[span(80, 83)] = 0.15 * G
    w[span(88, 88 + (np.pi / 2) / 0.08)] = -0.08
    m = span(112, 117)
    w[m] = 0.05 * np.sin(2 * np.pi * (t[m] - 112) / 5.0)
    a = _smooth(a, 31)
    w = _smooth(w, 31)
    v = v0 + np.cumsum(a) / hz
    heading = np.cumsum(w) / hz
    a_lat = v * w
    x = np.cumsum(v * np.cos(heading)) / hz
    y = np.cumsum(v * np.sin(heading)) / hz

    if rotation is None:
        rotation = Rotation.random(random_state=seed).as_matrix()
    f_v = np.column_stack([a, a_lat, np.full_like(t, G)])
    g_v = np.column_stack([np.zeros_like(t), np.zeros_like(t), w])
    # v = R d  =>  d = R^T v, row-wise: d_rows = v_rows @ R
    acc = f_v @ rotation + rng.normal(0, noise, (t.size, 3))
    gyro = g_v @ rotation + rng.normal(0, 0.01, (t.size, 3))
    imu = ImuSeries(t, acc, gyro, frame="device")
    step = int(hz / 10)
    tg = t[::step]
    lat0, lon0 = 35.68, 139.76
    lat = lat0 + np.degrees(y[::step] / 6_371_008.8)
    lon = lon0 + np.degrees(x[::step] / (6_371_008.8 * np.cos(np.radians(lat0))))
    course = (90.0 - np.degrees(heading[::step])) % 360
    gps = GpsSeries(
        tg,
        lat,
        lon,
        v[::step] + rng.normal(0, 0.1, tg.size),
        course,
        np.full(tg.size, 40.0),
    )
    can = SpeedSeries(tg, v[::step], "can")
    return Drive(imu, gps, can, rotation, expected, a, a_lat, heading, w)


@pytest.fixture(scope="module")
def drive() -> Drive:
    return make_drive(seed=3)
