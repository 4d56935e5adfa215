"""Checks and documented repairs applied to every series a reader returns.

* timestamps out of order: sorted (stable), with a warning;
* repeated timestamps: the first sample of each is kept, the others dropped, with a warning;
* gaps (more than max(5 x the median interval, 0.5 s) between samples): kept, with a warning;
  the engine finds them again and never decides an event across one;
* accelerations that look like g where m/s² is expected: rejected (``units = "g"`` scales).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from saferoad.adapters.recording._csv import warn
from saferoad.domain.motion.timebase import TimeRepair, find_gaps, repair_order
from saferoad.domain.types import FloatArray, G, GpsSeries, ImuSeries, SpeedSeries


def _repair(t: FloatArray, path: Path, what: str) -> TimeRepair:
    rep = repair_order(t)
    if rep.n_out_of_order:
        warn(f"{path}: {rep.n_out_of_order} {what} timestamp(s) out of order: sorted by t_s")
    if rep.n_duplicates:
        warn(f"{path}: {rep.n_duplicates} repeated {what} timestamp(s): kept the first of each")
    gaps = find_gaps(t[rep.index])
    if gaps:
        longest = max(b - a for a, b in gaps)
        warn(
            f"{path}: {len(gaps)} gap(s) in the {what} samples (longest {longest:.2f} s from "
            f"t={gaps[0][0]:.3f} s): events are not decided across them"
        )
    return rep


def check_imu_units(imu: ImuSeries, path: Path) -> None:
    """Reject accelerations whose resting magnitude says g rather than m/s²."""
    if imu.gravity_removed or len(imu) == 0:
        return
    sample = imu.acc[:: max(1, len(imu) // 20_000)]  # a median needs no more
    norm = float(np.median(np.sqrt(np.einsum("ij,ij->i", sample, sample))))
    if 0.5 <= norm <= 2.0:
        raise ValueError(
            f"{path}: fields 'ax','ay','az': median acceleration magnitude is {norm:.3f}, "
            f"which looks like g, not m/s² (expected about {G:.2f}); convert the file or set "
            '[imu] units = "g" in meta.toml'
        )
    if not 6.0 <= norm <= 14.0:
        raise ValueError(
            f"{path}: fields 'ax','ay','az': median acceleration magnitude {norm:.3f} m/s² is "
            f"not near gravity ({G:.2f}); is gravity included and are the units m/s²?"
        )


def clean_imu(imu: ImuSeries, path: Path) -> ImuSeries:
    if len(imu) < 2:
        raise ValueError(f"{path}: only {len(imu)} IMU sample(s); need at least 2")
    rep = _repair(imu.t_s, path, "IMU")
    if not rep.changed:
        return imu
    idx = rep.index
    return ImuSeries(
        imu.t_s[idx],
        imu.acc[idx],
        None if imu.gyro is None else imu.gyro[idx],
        frame=imu.frame,
        gravity_removed=imu.gravity_removed,
        horizontal_highpass_tau_s=imu.horizontal_highpass_tau_s,
    )


def clean_speed(s: SpeedSeries, path: Path) -> SpeedSeries:
    idx = _repair(s.t_s, path, "speed").index
    return SpeedSeries(s.t_s[idx], s.speed_mps[idx], s.source)


def clean_gps(g: GpsSeries, path: Path) -> GpsSeries:
    if len(g) == 0:
        raise ValueError(f"{path}: no GPS fixes")
    bad_lat = np.flatnonzero(np.abs(g.lat) > 90)
    bad_lon = np.flatnonzero(np.abs(g.lon) > 180)
    if bad_lat.size:
        raise ValueError(f"{path}: fix {bad_lat[0] + 1}: field 'lat': {g.lat[bad_lat[0]]} outside ±90")
    if bad_lon.size:
        raise ValueError(f"{path}: fix {bad_lon[0] + 1}: field 'lon': {g.lon[bad_lon[0]]} outside ±180")
    idx = _repair(g.t_s, path, "GPS").index
    return GpsSeries(
        g.t_s[idx], g.lat[idx], g.lon[idx], g.speed_mps[idx], g.course_deg[idx], g.alt_m[idx]
    )
