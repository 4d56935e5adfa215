"""Sensor profiles: which device records a simulated drive (``--sensor-profile``).

A profile is a preset of sensor parameters (``imu.*``, ``gps.*``) put before the user's own
``--set`` assignments, so any of them can still be overridden. ``dashcam`` is the simulator's
default device and changes nothing; ``phone`` is a phone on the windscreen as the public
phone datasets record drives (docs/simulator.md, "Sensor profiles").
"""

from __future__ import annotations

import numpy as np

SENSOR_PROFILES = ("dashcam", "phone")
"""Known profiles; the first is the default."""

PHONE_IMU_HZ = 10.0
"""The phone's IMU rate: 10 Hz, as the held-back phone drives of issue 15 were logged."""
PHONE_GPS_HZ = 1.0
"""The phone's GNSS fix rate: 1 Hz, what phone location APIs deliver."""
PHONE_HIGHPASS_TAU_S = 1.0
"""The time constant of the phone's gravity removal: the driverBehaviorDataset's ~1 s
(../shared/design/published-practice.md; docs/events.md models it the same way)."""

_YAW_STREAM = 0x70686F6E
"""Mixed into the seed for the mounting yaw, so that it is drawn apart from the sensor noise."""


def phone_yaw_deg(seed: int) -> float:
    """The phone's yaw on the windscreen for a drive's ``seed``: uniform over the circle (the
    mount's direction is unknown, and the engine must find the car's axes from the GPS)."""
    return float(np.random.default_rng([_YAW_STREAM, seed]).uniform(-180.0, 180.0))


def profile_assignments(profile: str, seed: int) -> list[str]:
    """The ``--set`` assignments of sensor profile ``profile`` for a drive of ``seed``.

    ``phone``: IMU at 10 Hz, gravity removed by a first-order high-pass of τ = 1 s on every
    axis (declared in meta.toml as ``gravity_removed``/``highpass_tau_s``), no gyroscope, the
    device yawed by :func:`phone_yaw_deg` and the mounting not written; GPS at 1 Hz."""
    if profile == "dashcam":
        return []
    if profile == "phone":
        return [
            f"imu.rate_hz={PHONE_IMU_HZ:g}",
            "imu.gyroscope=false",
            f"imu.gravity_highpass_tau_s={PHONE_HIGHPASS_TAU_S:g}",
            f"imu.yaw_deg={phone_yaw_deg(seed):.3f}",
            "imu.write_mounting=false",
            f"gps.rate_hz={PHONE_GPS_HZ:g}",
        ]
    raise ValueError(f"--sensor-profile {profile!r}: unknown (known: {', '.join(SENSOR_PROFILES)})")
