"""A drive as the application sees it, whatever layout it was read from.

Readers in ``saferoad.adapters.recording`` turn a folder on disk (saferoad's own layout, a
driverBehaviorDataset trip, a comma2k19 segment ...) into a :class:`Recording`. Paths are
carried, not opened: opening them is an adapter's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from saferoad.domain.types import (
    CameraIntrinsics,
    CameraMount,
    EventLabel,
    FloatArray,
    GpsSeries,
    ImuSeries,
    SpeedSeries,
    TurnSignalSeries,
)


@dataclass(frozen=True, slots=True)
class Mounting:
    """How the IMU is mounted. ``rotation`` maps device axes to vehicle axes
    (x forward, y left, z up): ``v = R @ d``. ``None`` means: find it from the data."""

    rotation: FloatArray | None = None

    @classmethod
    def from_rows(cls, rows: list[list[float]] | None) -> Mounting:
        if rows is None:
            return cls(None)
        r = np.asarray(rows, dtype=np.float64)
        if r.shape != (3, 3):
            raise ValueError(f"mounting rotation must be 3x3, got {r.shape}")
        check_rotation(r)
        return cls(r)


def check_rotation(r: FloatArray) -> None:
    """A device-to-vehicle mounting must be a proper rotation: orthonormal with determinant +1.
    An orthonormal matrix with determinant -1 is a reflection (a mirrored axis, most often one
    sign typed wrong): it would turn a left turn into a right one, so it is refused."""
    if r.shape != (3, 3):
        raise ValueError(f"mounting rotation must be 3x3, got {r.shape}")
    if not np.all(np.isfinite(r)) or not np.allclose(r @ r.T, np.eye(3), atol=1e-3):
        raise ValueError("mounting rotation is not orthonormal")
    det = float(np.linalg.det(r))
    if det < 0:
        raise ValueError(
            f"mounting is a reflection, not a rotation (determinant {det:.3f}): one axis is "
            "mirrored; flip the sign of one row"
        )


@dataclass(frozen=True, slots=True)
class RecordingMeta:
    """Who drove what, when and with which device (``meta.toml``)."""

    vehicle_id: str = "unknown"
    driver_id: str = "unknown"
    device_id: str = "unknown"
    fleet_id: str = "default"
    vehicle_type: str = "car"
    start_utc: datetime | None = None
    timezone: str = "UTC"
    mounting: Mounting = field(default_factory=Mounting)
    camera: CameraIntrinsics | None = None
    camera_mount: CameraMount = field(default_factory=CameraMount)
    cabin_camera: CameraIntrinsics | None = None
    camera_pitch_known: bool = False
    """The road camera's pitch is measured (``meta.toml`` states ``[camera] pitch_deg``), so
    perception does not estimate it from the lane markings."""
    camera_time_offset_s: float = 0.0
    """``[camera] time_offset_s``: the road video's clock minus the recording clock."""
    camera_fps: float | None = None
    """``[camera] fps``: the road camera's declared frame rate (None: not stated). Frame times
    come from the video's own timestamps; this rate places the frames of a video whose index
    was lost (a power cut) and must be rebuilt."""


@dataclass(frozen=True, slots=True)
class Recording:
    """One drive: sensor series already parsed, media by path."""

    path: Path
    source_format: str
    meta: RecordingMeta
    imu: ImuSeries | None = None
    gps: GpsSeries | None = None
    can_speed: SpeedSeries | None = None
    turn_signal: TurnSignalSeries | None = None
    """The blinker from the CAN bus (``can.csv``'s ``turn_signal``), where the device has it."""
    video: Path | None = None
    cabin_video: Path | None = None
    detections: Path | None = None
    """A labels file the replay detector reads (simulated ground-truth boxes, MOT text)."""
    labels: tuple[EventLabel, ...] | None = None
    """Ground-truth events, where the recording has them."""
    extras: dict[str, FloatArray] = field(default_factory=dict)
    """Format-specific series (for example comma2k19 radar), keyed by name."""

    @property
    def duration_s(self) -> float:
        ends = [s.t_s[-1] for s in (self.imu, self.gps, self.can_speed) if s is not None and len(s)]
        starts = [s.t_s[0] for s in (self.imu, self.gps, self.can_speed) if s is not None and len(s)]
        return float(max(ends) - min(starts)) if ends else 0.0
