"""Ego speed from whatever the recording has, best source first.

1. **CAN** vehicle speed, when present (``source = "can"``).
2. **GPS** with IMU: the IMU's longitudinal acceleration integrated and pulled towards the GPS
   speed by a complementary filter, ``v' = a_long + (v_gps − v) / τ``: the GPS sets the level,
   the IMU fills in between fixes and through short dropouts (``"imu+gps"``).
3. **GPS** alone: its speed field, or speed differentiated from positions where the field is
   empty (``"gps"`` / ``"gps-positions"``).

IMU alone gives no speed: integrated acceleration drifts without bound, so none is returned.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from saferoad.domain.geodesy import haversine_m
from saferoad.domain.types import FloatArray, GpsSeries, SpeedSeries


def gps_speed(gps: GpsSeries) -> SpeedSeries | None:
    """GPS speed: the speed field where it is mostly filled, else from positions."""
    n = len(gps)
    if n == 0:
        return None
    sp = gps.speed_mps
    finite = np.isfinite(sp)
    if finite.sum() >= max(2, n // 2):
        v = np.interp(gps.t_s, gps.t_s[finite], sp[finite])
        return SpeedSeries(gps.t_s, np.maximum(v, 0.0), "gps")
    if n < 2:
        return None
    d = haversine_m(gps.lat[:-1], gps.lon[:-1], gps.lat[1:], gps.lon[1:])
    dt = np.diff(gps.t_s)
    seg = np.where(dt > 0, d / np.where(dt > 0, dt, 1.0), 0.0)
    tm = (gps.t_s[:-1] + gps.t_s[1:]) / 2
    v = np.interp(gps.t_s, tm, seg)
    return SpeedSeries(gps.t_s, v, "gps-positions")


def fuse_imu_gps(t: FloatArray, a_long: FloatArray, gps: SpeedSeries, tau_s: float) -> SpeedSeries:
    """Complementary filter on the IMU grid ``t`` (uniform), from the first GPS fix to the
    last: before the first fix the speed is unknown (holding the first fix's speed back to
    t = 0 would invent one), and after the last the integrated IMU would drift unchecked."""
    inside = (t >= gps.t_s[0]) & (t <= gps.t_s[-1])
    if np.count_nonzero(inside) < 2:
        return gps
    t, a_long = t[inside], a_long[inside]
    dt = float(t[1] - t[0]) if t.size > 1 else 1.0
    alpha = min(1.0, dt / tau_s)
    vg = np.interp(t, gps.t_s, gps.speed_mps)
    u = alpha * vg + dt * a_long
    v0 = vg[0]
    v, _ = lfilter([1.0], [1.0, -(1.0 - alpha)], u, zi=np.array([(1.0 - alpha) * v0]))
    return SpeedSeries(t, np.maximum(np.asarray(v, dtype=np.float64), 0.0), "imu+gps")


def ego_speed(
    can: SpeedSeries | None,
    gps: GpsSeries | None,
    imu_t: FloatArray | None = None,
    imu_a_long: FloatArray | None = None,
    *,
    tau_s: float = 2.0,
) -> SpeedSeries | None:
    """The best available speed (see the module docstring)."""
    if can is not None and len(can) >= 2:
        return SpeedSeries(can.t_s, can.speed_mps, "can")
    g = gps_speed(gps) if gps is not None else None
    if g is None:
        return None
    if imu_t is not None and imu_a_long is not None and imu_t.size > 1:
        return fuse_imu_gps(imu_t, imu_a_long, g, tau_s)
    return g


def distance_km(speed: SpeedSeries) -> float:
    if len(speed) < 2:
        return 0.0
    return float(np.trapezoid(speed.speed_mps, speed.t_s) / 1000.0)
