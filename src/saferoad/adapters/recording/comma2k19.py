"""comma2k19 segments (commaai/comma2k19, MIT), read as they are.

``processed_log/<group>/<sensor>/{t,value}`` are NumPy arrays without extension. The IMU is
given to the engine in *device* axes, unlabelled: the engine finds the vehicle frame itself.
Time zero is the first CAN speed sample. GNSS comes from ``live_gnss_ublox`` (lat, lon,
speed, UTC ms, altitude, bearing); radar rows go to ``extras["radar"]`` with their times in
``extras["radar_t_s"]``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from saferoad.adapters.recording.registry import register
from saferoad.adapters.recording.series import check_imu_units, clean_gps, clean_imu, clean_speed
from saferoad.domain.recording import Recording, RecordingMeta
from saferoad.domain.types import GpsSeries, ImuSeries, SpeedSeries

FORMAT_NAME = "comma2k19"


def can_read(path: Path) -> bool:
    return path.is_dir() and (path / "processed_log" / "CAN" / "speed" / "t").is_file()


def _load(path: Path) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        with path.open("rb") as fh:
            arr = np.load(fh, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(f"{path}: not a NumPy array file: {err}") from None
    return np.asarray(arr, dtype=np.float64)


def _pair(path: Path) -> tuple[np.ndarray, np.ndarray]:
    t, v = _load(path / "t"), _load(path / "value")
    if t.shape[0] != v.shape[0]:
        raise ValueError(f"{path}: t has {t.shape[0]} rows, value has {v.shape[0]}")
    return t, v


def read_comma2k19(path: Path) -> Recording:
    log = path / "processed_log"
    t_can, v_can = _pair(log / "CAN" / "speed")
    t0 = float(t_can[0])
    can = clean_speed(SpeedSeries(t_can - t0, v_can.reshape(-1), "can"), log / "CAN" / "speed")
    imu = None
    if (log / "IMU" / "accelerometer" / "t").exists():
        t_a, acc = _pair(log / "IMU" / "accelerometer")
        gyro = None
        if (log / "IMU" / "gyro" / "t").exists():
            t_g, g = _pair(log / "IMU" / "gyro")
            gyro = np.column_stack([np.interp(t_a, t_g, g[:, k]) for k in range(3)])
        imu = ImuSeries(t_a - t0, acc, gyro, frame="device")
        check_imu_units(imu, log / "IMU" / "accelerometer")
        imu = clean_imu(imu, log / "IMU" / "accelerometer")
    gps = None
    start = None
    gnss = log / "GNSS" / "live_gnss_ublox"
    if (gnss / "t").exists():
        t_n, v = _pair(gnss)
        ok = np.isfinite(v[:, 0]) & np.isfinite(v[:, 1]) & (np.abs(v[:, 0]) > 0)
        t_n, v = t_n[ok], v[ok]
        if t_n.size:
            gps = clean_gps(
                GpsSeries(t_n - t0, v[:, 0], v[:, 1], v[:, 2], v[:, 5], v[:, 4]), gnss
            )
            # UTC of the first fix minus its offset from time zero.
            start = datetime.fromtimestamp(v[0, 3] / 1000.0 - (t_n[0] - t0), tz=UTC)
    extras: dict[str, np.ndarray] = {}
    if (log / "CAN" / "radar" / "t").exists():
        t_r, radar = _pair(log / "CAN" / "radar")
        extras["radar_t_s"] = t_r - t0
        extras["radar"] = radar
    if (log / "CAN" / "steering_angle" / "t").exists():
        t_s, st = _pair(log / "CAN" / "steering_angle")
        extras["steering_angle_t_s"] = t_s - t0
        extras["steering_angle_deg"] = st.reshape(-1)
    meta = RecordingMeta(vehicle_id="toyota-rav4", device_id="comma-eon", start_utc=start,
                         timezone="America/Los_Angeles")
    return Recording(
        path=path,
        source_format=FORMAT_NAME,
        meta=meta,
        imu=imu,
        gps=gps,
        can_speed=can,
        extras=extras,
    )


register(FORMAT_NAME, can_read, read_comma2k19, expects="processed_log/", priority=20)
