"""The scenario model: what happens in a simulated drive, and how its sensors see it.

Coordinates (see docs/simulator.md):

* ``s``: arc length along the road's reference line (the centre of the lane the ego starts
  in), metres; ``d``: lateral offset from that line, metres, **left positive**.
* Ego speed ``v`` is ``ds/dt``; ``a_long`` its derivative; ``a_lat`` is the lateral
  (centripetal plus lane-change) acceleration, left positive; ``yaw_rate`` left (counter-
  clockwise) positive. Vehicle axes: x forward, y left, z up.
* World plane: x east, y north, metres from the drive's origin (``GpsModel.lat0/lon0``).

Everything is sampled on one base clock ``t`` (``Scenario.dt``); sensors resample it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from saferoad.domain.types import FloatArray


def rotation_from_euler(roll_deg: float, pitch_deg: float, yaw_deg: float) -> FloatArray:
    """Rotation ``R = Rz(yaw) Ry(pitch) Rx(roll)`` (intrinsic z-y-x): device axes to vehicle
    axes, ``v = R @ d`` (the ``[imu].mounting`` convention of docs/recording-format.md)."""
    r, p, y = (math.radians(a) for a in (roll_deg, pitch_deg, yaw_deg))
    rx = np.array([[1, 0, 0], [0, math.cos(r), -math.sin(r)], [0, math.sin(r), math.cos(r)]])
    ry = np.array([[math.cos(p), 0, math.sin(p)], [0, 1, 0], [-math.sin(p), 0, math.cos(p)]])
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    out: FloatArray = (rz @ ry @ rx).astype(np.float64)
    return out


@dataclass(frozen=True, slots=True)
class ImuModel:
    """Accelerometer + gyroscope: rate, white noise, constant bias, mounting."""

    rate_hz: float = 100.0
    acc_noise_mps2: float = 0.08
    """Standard deviation of white accelerometer noise per axis (engine vibration, road)."""
    gyro_noise_rps: float = 0.003
    acc_bias_mps2: float = 0.03
    """Standard deviation of the constant per-axis accelerometer bias drawn for a drive."""
    gyro_bias_rps: float = 0.002
    roll_deg: float = 0.0
    pitch_deg: float = 0.0
    yaw_deg: float = 0.0
    """Mounting: the device's axes rotated from the vehicle's by these Euler angles."""
    write_mounting: bool = True
    """Write the mounting rotation into meta.toml (else the engine must find it)."""
    gyroscope: bool = True
    """Record the gyroscope (false: an accelerometer-only device, as many phone logs are)."""
    gravity_highpass_tau_s: float = 0.0
    """0: the accelerometer reports specific force, gravity included. Above 0: gravity removed
    as a phone's sensor fusion removes it, by a first-order high-pass of this time constant on
    every axis (its gravity estimate follows the accelerometer slowly, so a sustained push is
    partly taken for a tilt: the driverBehaviorDataset's ~1 s, docs/events.md); meta.toml then
    declares ``gravity_removed`` and ``highpass_tau_s``."""

    def rotation(self) -> FloatArray:
        """Device-to-vehicle rotation ``R`` (``v = R @ d``)."""
        return rotation_from_euler(self.roll_deg, self.pitch_deg, self.yaw_deg)


@dataclass(frozen=True, slots=True)
class GpsModel:
    """GNSS receiver: rate, position noise (first-order Gauss-Markov), speed and course
    noise, dropouts (no fixes in ``[start, start + duration)``)."""

    rate_hz: float = 10.0
    pos_noise_m: float = 1.0
    pos_corr_s: float = 20.0
    speed_noise_mps: float = 0.05
    course_noise_deg: float = 0.5
    dropouts: tuple[tuple[float, float], ...] = ()
    lat0: float = 35.6812
    lon0: float = 139.7671
    alt_m: float = 40.0


@dataclass(frozen=True, slots=True)
class CameraSim:
    """Road camera: resolution, field of view, frame rate, mounting, lighting."""

    width: int = 640
    height: int = 360
    hfov_deg: float = 90.0
    fps: float = 10.0
    height_m: float = 1.3
    pitch_deg: float = 1.0
    """Down is positive (docs/recording-format.md)."""
    night: bool = False
    max_range_m: float = 150.0
    """Objects farther than this are not rendered nor listed in detections.json."""
    min_box_px: float = 4.0
    """Boxes smaller than this (either side, after clipping) are not listed."""

    @property
    def fx(self) -> float:
        return (self.width / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)


@dataclass(frozen=True, slots=True)
class CabinModel:
    """Cabin signal track (per cabin frame): eye aspect ratio with blinks, head pose."""

    fps: float = 10.0
    ear_open: float = 0.30
    ear_closed: float = 0.08
    ear_noise: float = 0.01
    blink_interval_s: float = 4.0
    blink_s: float = 0.2
    head_noise_deg: float = 1.5


@dataclass(frozen=True, slots=True)
class EyeClosure:
    """Eyes closed for ``duration_s`` from ``start_s`` (a micro-sleep or slow blink)."""

    start_s: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class HeadTurn:
    """Head turned to ``yaw_deg`` (left positive) and ``pitch_deg`` (down positive) for
    ``duration_s`` from ``start_s``, with 0.3 s transitions outside that window."""

    start_s: float
    duration_s: float
    yaw_deg: float
    pitch_deg: float = 0.0


@dataclass(frozen=True, slots=True)
class PhoneEpisode:
    """A phone held ``position`` (``face``: at the ear or before the eyes; ``hand``: in the
    hands at the wheel) for ``duration_s`` from ``start_s``."""

    start_s: float
    duration_s: float
    position: str = "face"


@dataclass(frozen=True, slots=True)
class CabinScript:
    model: CabinModel = field(default_factory=CabinModel)
    closures: tuple[EyeClosure, ...] = ()
    head_turns: tuple[HeadTurn, ...] = ()
    phones: tuple[PhoneEpisode, ...] = ()


@dataclass(frozen=True, slots=True)
class Road:
    """Road geometry: curvature along the reference line, lanes, lane width.

    ``s_grid``/``kappa`` sample the curvature (1/m, left positive) densely; ``heading``
    (radians, counter-clockwise from east), ``x``/``y`` are its integral on the same grid.
    Lanes: the ego's starting lane, ``lanes_left`` more to its left and ``lanes_right`` to
    its right.
    """

    s_grid: FloatArray
    kappa: FloatArray
    heading: FloatArray
    x: FloatArray
    y: FloatArray
    lane_width_m: float = 3.5
    lanes_left: int = 1
    lanes_right: int = 0
    heading0_deg: float = 0.0

    def at(self, s: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``(x, y, heading, kappa)`` of the reference line at arc lengths ``s``."""
        return (
            np.interp(s, self.s_grid, self.x),
            np.interp(s, self.s_grid, self.y),
            np.interp(s, self.s_grid, self.heading),
            np.interp(s, self.s_grid, self.kappa),
        )

    def world(self, s: FloatArray, d: FloatArray) -> tuple[FloatArray, FloatArray]:
        """World ``(x, y)`` of road coordinates ``(s, d)``."""
        x, y, h, _ = self.at(s)
        return x - d * np.sin(h), y + d * np.cos(h)


@dataclass(frozen=True, slots=True)
class EgoTrack:
    """The ego vehicle on the base clock (see module docstring for axes and signs)."""

    t: FloatArray
    s: FloatArray
    v: FloatArray
    a_long: FloatArray
    d: FloatArray
    a_lat_path: FloatArray
    """Centripetal acceleration from road curvature (``v² κ``)."""
    a_lat_lane: FloatArray
    """Lateral acceleration from lane changes (``d''``)."""
    yaw_rate: FloatArray
    heading: FloatArray
    x: FloatArray
    y: FloatArray

    @property
    def a_lat(self) -> FloatArray:
        out: FloatArray = self.a_lat_path + self.a_lat_lane
        return out


@dataclass(frozen=True, slots=True)
class Vehicle:
    """Another vehicle: its rear-centre road coordinates on the base clock."""

    track_id: int
    s: FloatArray
    d: FloatArray
    length_m: float = 4.5
    width_m: float = 1.8
    height_m: float = 1.5
    color_bgr: tuple[int, int, int] = (60, 60, 170)
    role: str = "lead"


@dataclass(frozen=True, slots=True)
class StopSign:
    track_id: int
    s: float
    d: float
    """Lateral offset of the pole (left positive); the stop line is at ``s``."""
    height_m: float = 2.0
    size_m: float = 0.75


@dataclass(frozen=True, slots=True)
class TrafficLight:
    """A light whose stop line is at ``s``. ``phases``: ``(start_s, lamp)`` in time order,
    lamp ``red``/``yellow``/``green``; the first phase holds from time zero."""

    track_id: int
    s: float
    d: float
    phases: tuple[tuple[float, str], ...]
    height_m: float = 5.0

    def lamp_at(self, t: FloatArray) -> list[str]:
        starts = np.array([p[0] for p in self.phases])
        idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(self.phases) - 1)
        return [self.phases[int(i)][1] for i in idx]


@dataclass(frozen=True, slots=True)
class Pedestrian:
    track_id: int
    s: FloatArray
    d: FloatArray
    height_m: float = 1.7


@dataclass(frozen=True, slots=True)
class ManoeuvreNote:
    """A manoeuvre the scenario performs on purpose, kept for labels and docs: ``kind``
    (``lane_change``, ``curve``, ``stop``, ...), its window and direction."""

    kind: str
    start_s: float
    end_s: float
    direction: str | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    """A complete simulated drive: ego, road, actors, sensors and cabin."""

    name: str
    dt: float
    ego: EgoTrack
    road: Road
    imu: ImuModel
    gps: GpsModel
    camera: CameraSim
    vehicles: tuple[Vehicle, ...] = ()
    stop_signs: tuple[StopSign, ...] = ()
    lights: tuple[TrafficLight, ...] = ()
    pedestrians: tuple[Pedestrian, ...] = ()
    cabin: CabinScript | None = None
    speed_limit_mps: float | None = None
    """The posted limit the scenario drives under (for docs; the rule uses its config)."""
    manoeuvres: tuple[ManoeuvreNote, ...] = ()
    params: dict[str, float | int | bool | str] = field(default_factory=dict)
    seed: int = 0

    @property
    def t(self) -> FloatArray:
        return self.ego.t

    @property
    def duration_s(self) -> float:
        return float(self.ego.t[-1])
