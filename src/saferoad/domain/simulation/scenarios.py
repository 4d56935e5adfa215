"""The scenario library: named drives with documented parameters and expected events.

Each :class:`ScenarioSpec` declares its parameters (default, unit, description), the events
it is built to produce with its defaults, and a builder. The ground truth written with a
recording is *not* this expectation: it is derived from the built scenario by the event
definitions and the configured thresholds (:mod:`saferoad.domain.simulation.truth`), so a
parameter pushed across a threshold changes the labels as physics says. docs/simulator.md
lists every scenario with its borderline values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from saferoad.domain.simulation.kinematics import (
    Curve,
    LaneChange,
    build_road,
    ego_track,
    follower_gap_s,
    integrate,
    moving_average,
    speed_profile,
    time_grid,
    vehicle_s_from_speed,
)
from saferoad.domain.simulation.model import (
    CabinModel,
    CabinScript,
    CameraSim,
    EyeClosure,
    GpsModel,
    HeadTurn,
    ImuModel,
    ManoeuvreNote,
    Pedestrian,
    PhoneEpisode,
    Scenario,
    StopSign,
    TrafficLight,
    Vehicle,
)
from saferoad.domain.simulation.params import Param, Params, Value, resolve
from saferoad.domain.types import FloatArray, G

DT = 0.01
"""Base clock of every scenario (s): 100 Hz."""
KMH = 1.0 / 3.6

LEAD_ID = 1
ADJACENT_ID = 2
SIGN_ID = 10
LIGHT_ID = 11
PEDESTRIAN_ID = 20


def _group_params(prefix: str, model: object, docs: dict[str, tuple[str, str]]) -> list[Param]:
    out = []
    for f in fields(model):  # type: ignore[arg-type]
        if f.name not in docs:
            continue
        unit, text = docs[f.name]
        out.append(Param(f"{prefix}.{f.name}", getattr(model, f.name), unit, text))
    return out


SENSOR_PARAMS: tuple[Param, ...] = (
    *_group_params(
        "imu",
        ImuModel(),
        {
            "rate_hz": ("Hz", "IMU sample rate."),
            "acc_noise_mps2": ("m/s²", "White accelerometer noise (std per axis)."),
            "gyro_noise_rps": ("rad/s", "White gyroscope noise (std per axis)."),
            "acc_bias_mps2": ("m/s²", "Std of the constant accelerometer bias drawn per drive."),
            "gyro_bias_rps": ("rad/s", "Std of the constant gyroscope bias drawn per drive."),
            "roll_deg": ("°", "Device mounting roll relative to the vehicle."),
            "pitch_deg": ("°", "Device mounting pitch relative to the vehicle."),
            "yaw_deg": ("°", "Device mounting yaw relative to the vehicle."),
            "write_mounting": ("", "Write the mounting rotation into meta.toml (false: the engine must find it)."),
            "gyroscope": ("", "Record the gyroscope (false: no gx/gy/gz columns, as on many phones)."),
            "gravity_highpass_tau_s": ("s", "0: gravity included; > 0: gravity removed by a phone's fusion, "
                                            "a first-order high-pass of this time constant (declared in meta.toml)."),
        },
    ),
    *_group_params(
        "gps",
        GpsModel(),
        {
            "rate_hz": ("Hz", "GNSS fix rate."),
            "pos_noise_m": ("m", "Position noise (Gauss-Markov std)."),
            "pos_corr_s": ("s", "Correlation time of the position noise."),
            "speed_noise_mps": ("m/s", "Speed noise (white std)."),
            "course_noise_deg": ("°", "Course noise (white std)."),
            "lat0": ("°", "Latitude of the drive's origin."),
            "lon0": ("°", "Longitude of the drive's origin."),
        },
    ),
    Param("gps.dropout_start_s", 0.0, "s", "Start of a GNSS dropout (no fixes)."),
    Param("gps.dropout_s", 0.0, "s", "Length of the GNSS dropout (0: none)."),
    *_group_params(
        "camera",
        CameraSim(),
        {
            "width": ("px", "Video width."),
            "height": ("px", "Video height."),
            "hfov_deg": ("°", "Horizontal field of view."),
            "fps": ("Hz", "Frame rate."),
            "height_m": ("m", "Lens height above the road."),
            "pitch_deg": ("°", "Camera pitch, down positive."),
            "night": ("", "Night lighting (dark sky, headlights, lit tail lamps)."),
            "max_range_m": ("m", "Objects farther away are neither drawn nor listed."),
        },
    ),
    *_group_params(
        "cabin",
        CabinModel(),
        {
            "fps": ("Hz", "Cabin signal rate (cabin.csv rows per second)."),
            "ear_open": ("", "Eye aspect ratio of open eyes (the driver's baseline)."),
            "ear_closed": ("", "Eye aspect ratio of closed eyes."),
            "blink_interval_s": ("s", "Mean interval between ordinary blinks."),
        },
    ),
    Param("cabin.enabled", False, "", "Write cabin.csv (always on for the cabin scenarios)."),
    Param("can.enabled", False, "", "Write can.csv (vehicle speed from the CAN bus, 50 Hz)."),
    Param("road.lane_width_m", 3.5, "m", "Lane width."),
)
"""Parameters every scenario takes (sensors, road)."""


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    name: str
    summary: str
    expected: str
    """The events the defaults produce (as the docs and ``--list`` state them)."""
    params: tuple[Param, ...]
    build: Callable[[Params], Scenario]

    def all_params(self) -> tuple[Param, ...]:
        return self.params + SENSOR_PARAMS

    def resolve(self, assignments: Sequence[str] = ()) -> dict[str, Value]:
        return resolve(self.all_params(), assignments, context=f"{self.name}")

    def make(self, assignments: Sequence[str] = (), seed: int = 0) -> Scenario:
        values = self.resolve(assignments)
        sc = self.build(Params(values))
        return replace(sc, params=values, seed=seed)


# ---------------------------------------------------------------- building blocks


def _sensors(p: Params) -> tuple[ImuModel, GpsModel, CameraSim, CabinModel]:
    def pick(prefix: str, model: object) -> object:
        kw: dict[str, object] = {}
        for f in fields(model):  # type: ignore[arg-type]
            key = f"{prefix}.{f.name}"
            if key in p.as_dict():
                kw[f.name] = p.as_dict()[key]
        return replace(model, **kw)  # type: ignore[type-var]

    imu = pick("imu", ImuModel())
    gps = pick("gps", GpsModel())
    cam = pick("camera", CameraSim())
    cab = pick("cabin", CabinModel())
    assert isinstance(imu, ImuModel) and isinstance(gps, GpsModel)
    assert isinstance(cam, CameraSim) and isinstance(cab, CabinModel)
    if p.f("gps.dropout_s") > 0:
        gps = replace(gps, dropouts=((p.f("gps.dropout_start_s"), p.f("gps.dropout_s")),))
    if imu.rate_hz <= 0 or gps.rate_hz <= 0 or cam.fps <= 0 or cab.fps <= 0:
        raise ValueError("sensor rates (imu.rate_hz, gps.rate_hz, camera.fps, cabin.fps) must be positive")
    if not 0.0 <= imu.gravity_highpass_tau_s <= 60.0:
        raise ValueError(
            f"imu.gravity_highpass_tau_s={imu.gravity_highpass_tau_s}: 0 (gravity included) or a time constant "
            "in (0, 60] s (what meta.toml's highpass_tau_s accepts)"
        )
    if cam.width < 16 or cam.height < 16 or cam.width % 2 or cam.height % 2 or not 10 <= cam.hfov_deg < 170:
        raise ValueError("camera: width and height must be even and ≥ 16 px, hfov_deg in [10, 170)")
    return imu, gps, cam, cab


def _assemble(
    name: str,
    p: Params,
    t: FloatArray,
    v: FloatArray,
    *,
    curves: Sequence[Curve] = (),
    changes: Sequence[LaneChange] = (),
    vehicles: Callable[[Scenario], Sequence[Vehicle]] | None = None,
    stop_signs: Sequence[StopSign] = (),
    lights: Sequence[TrafficLight] = (),
    pedestrians: Callable[[Scenario], Sequence[Pedestrian]] | None = None,
    cabin: CabinScript | None = None,
    speed_limit_kmh: float | None = None,
    notes: Sequence[ManoeuvreNote] = (),
    lanes_left: int = 1,
    lanes_right: int = 0,
) -> Scenario:
    imu, gps, cam, cab = _sensors(p)
    lane_w = p.f("road.lane_width_m")
    s_end = float(integrate(t, v)[-1])
    road = build_road(curves, s_end + 400.0, lane_width_m=lane_w, lanes_left=lanes_left, lanes_right=lanes_right)
    ego = ego_track(t, v, road, changes)
    if cabin is None and p.b("cabin.enabled"):
        cabin = CabinScript(cab)
    elif cabin is not None:
        cabin = replace(cabin, model=cab)
    sc = Scenario(
        name=name,
        dt=DT,
        ego=ego,
        road=road,
        imu=imu,
        gps=gps,
        camera=cam,
        stop_signs=tuple(stop_signs),
        lights=tuple(lights),
        cabin=cabin,
        speed_limit_mps=speed_limit_kmh * KMH if speed_limit_kmh else None,
        manoeuvres=tuple(notes),
    )
    if vehicles is not None:
        vs = tuple(vehicles(sc))
        _check_no_collision(sc, vs)
        sc = replace(sc, vehicles=vs)
    if pedestrians is not None:
        sc = replace(sc, pedestrians=tuple(pedestrians(sc)))
    return sc


def _check_no_collision(sc: Scenario, vehicles: Sequence[Vehicle]) -> None:
    half = sc.road.lane_width_m / 2.0
    for veh in vehicles:
        same_lane = np.abs(veh.d - sc.ego.d) < half
        gap = veh.s - sc.ego.s
        # the ego's front is its s; a vehicle overlaps when its rear is within [s - 4.5, s]
        hit = same_lane & (gap < 0.5) & (gap > -veh.length_m - 4.5)
        if hit.any():
            t_hit = float(sc.t[np.flatnonzero(hit)[0]])
            raise ValueError(
                f"scenario {sc.name}: the ego runs into vehicle {veh.track_id} at t = {t_hit:.1f} s "
                "(change the speeds, decelerations or headway)"
            )


def _cruise(p: Params) -> tuple[FloatArray, float]:
    return time_grid(p.f("duration_s"), DT), p.f("speed_kmh") * KMH


def _traffic(sc: Scenario, headway_s: float = 2.5, lane: int = 0) -> Vehicle:
    """A lead vehicle at a comfortable ``headway_s``: never an event."""
    hw = np.full_like(sc.t, headway_s)
    s = follower_gap_s(sc.ego, hw, min_gap_m=12.0)
    s = integrate(sc.t, moving_average(np.gradient(s, sc.dt), 301), float(s[0]))
    d = np.full_like(sc.t, lane * sc.road.lane_width_m)
    return Vehicle(LEAD_ID, s, d, color_bgr=(150, 110, 60), role="lead")


def _adjacent(sc: Scenario, speed_mps: float, s0: float) -> Vehicle:
    s = s0 + speed_mps * sc.t
    d = np.full_like(sc.t, sc.road.lane_width_m)
    return Vehicle(ADJACENT_ID, s, d, length_m=4.8, width_m=1.85, height_m=1.6, color_bgr=(70, 140, 70), role="adjacent")


def _common(duration: float, speed_kmh: float) -> tuple[Param, ...]:
    return (
        Param("duration_s", duration, "s", "Length of the drive."),
        Param("speed_kmh", speed_kmh, "km/h", "Cruising speed."),
    )


# ---------------------------------------------------------------- the scenarios


def _normal(p: Params) -> Scenario:
    t, cruise = _cruise(p)
    acc = p.f("accel_mps2")
    t_up = cruise / acc
    dur = p.f("duration_s")
    brake_t = cruise / acc
    if dur < 2.0 + t_up + brake_t + 3.0 + 30.0:
        raise ValueError(f"normal: duration_s must be at least {2.0 + t_up + brake_t + 33.0:.0f} s at these speeds")
    kf = [(0.0, 0.0), (2.0, 0.0), (2.0 + t_up, cruise), (dur - brake_t - 3.0, cruise), (dur - 3.0, 0.0)]
    v = speed_profile(t, kf, 1.0)
    s = integrate(t, v)
    r = p.f("curve_radius_m")
    t_curve = 0.3 * dur
    s_curve = float(np.interp(t_curve, t, s))
    curve_len = 0.25 * math.pi * r
    t_curve_end = float(np.interp(s_curve + curve_len + 40.0, s, t))
    lc = p.f("lane_change_s")
    t_lc = 0.6 * dur
    notes = [
        ManoeuvreNote("curve", t_curve, t_curve_end, "left"),
        ManoeuvreNote("lane_change", t_lc, t_lc + lc, "left"),
        ManoeuvreNote("acceleration", 2.0, 2.0 + t_up),
        ManoeuvreNote("braking", dur - brake_t - 3.0, dur - 3.0),
    ]
    return _assemble(
        "normal",
        p,
        t,
        v,
        curves=[Curve(s_curve, curve_len, r, 20.0)],
        changes=[LaneChange(t_lc, lc, 1)],
        vehicles=lambda sc: [_adjacent(sc, cruise * 1.15, 60.0)],
        speed_limit_kmh=p.f("speed_limit_kmh"),
        notes=notes,
    )


def _speed_change(name: str, sign: float) -> Callable[[Params], Scenario]:
    def build(p: Params) -> Scenario:
        t = time_grid(p.f("duration_s"), DT)
        v0, v1 = p.f("from_kmh") * KMH, p.f("to_kmh") * KMH
        a = p.f("accel_g" if sign > 0 else "decel_g") * G
        if (v1 - v0) * sign <= 0 or a <= 0:
            raise ValueError(f"{name}: from_kmh/to_kmh must {'rise' if sign > 0 else 'fall'} and the g must be positive")
        at = p.f("at_s")
        kf = [(0.0, v0), (at, v0), (at + abs(v1 - v0) / a, v1)]
        v = speed_profile(t, kf, p.f("ramp_s"))
        note = ManoeuvreNote("acceleration" if sign > 0 else "braking", at, at + abs(v1 - v0) / a)
        return _assemble(name, p, t, v, notes=[note], vehicles=lambda sc: [_adjacent(sc, max(v0, v1) * 1.2, 40.0)])

    return build


def _cornering(p: Params) -> Scenario:
    t, v0 = _cruise(p)
    v = np.full_like(t, v0)
    lat = p.f("lat_g") * G
    if lat <= 0 or v0 <= 0:
        raise ValueError("cornering: lat_g and speed_kmh must be positive")
    radius = v0 * v0 / lat
    theta = math.radians(p.f("angle_deg"))
    trans = p.f("transition_m")
    length = max(radius * theta - trans, 0.0)
    at = p.f("at_s")
    s0 = v0 * at
    sign = 1.0 if p.s("direction") == "left" else -1.0
    end_t = at + (length + 2 * trans) / v0
    return _assemble(
        "cornering",
        p,
        t,
        v,
        curves=[Curve(s0, length, sign * radius, trans)],
        notes=[ManoeuvreNote("curve", at, end_t, p.s("direction"))],
    )


def _lane_change(name: str) -> Callable[[Params], Scenario]:
    def build(p: Params) -> Scenario:
        t, v0 = _cruise(p)
        v = np.full_like(t, v0)
        left = p.s("direction") == "left"
        at, dur = p.f("at_s"), p.f("manoeuvre_s")
        return _assemble(
            name,
            p,
            t,
            v,
            changes=[LaneChange(at, dur, 1 if left else -1)],
            notes=[ManoeuvreNote("lane_change", at, at + dur, p.s("direction"))],
            lanes_left=1 if left else 0,
            lanes_right=0 if left else 1,
        )

    return build


def _lane_departure(p: Params) -> Scenario:
    """Drift ``drift_m`` towards the marking on ``direction``'s side over ``drift_s``, stay
    ``hold_s``, drift back: each half a sine of lateral acceleration (a fraction of a lane
    change, far below motion.lane_change_g)."""
    t, v0 = _cruise(p)
    v = np.full_like(t, v0)
    w = p.f("road.lane_width_m")
    drift, dur, hold, at = p.f("drift_m"), p.f("drift_s"), p.f("hold_s"), p.f("at_s")
    if not 0 < drift < w / 2 or dur <= 0 or hold < 0:
        raise ValueError("lane_departure: drift_m must be in (0, lane width / 2), drift_s > 0, hold_s >= 0")
    sign = 1.0 if p.s("direction") == "left" else -1.0
    frac = sign * drift / w
    return _assemble(
        "lane_departure",
        p,
        t,
        v,
        changes=[LaneChange(at, dur, frac), LaneChange(at + dur + hold, dur, -frac)],
        lanes_left=1,
        lanes_right=1,
    )


def _smooth_step(t: FloatArray, t0: float, t1: float) -> FloatArray:
    """0 before ``t0``, 1 after ``t1``, a cosine in between, on an ascending clock ``t``.

    A long drive calls this for every manoeuvre on its whole clock, so the cosine is evaluated
    only from ``t0`` to just past ``t1`` (found by bisection); before, the formula gives
    exactly 0 and after exactly 1 (``0.5 - 0.5 cos(pi x)`` at ``x`` 0 and 1)."""
    span = max(t1 - t0, 1e-9)
    i0 = int(np.searchsorted(t, t0, side="right"))  # the first sample with x > 0
    i1 = int(np.searchsorted(t, t0 + span * (1.0 + 1e-9), side="right"))  # x >= 1 from here on
    out: FloatArray = np.zeros_like(t)
    out[i1:] = 1.0
    x = np.clip((t[i0:i1] - t0) / span, 0.0, 1.0)
    out[i0:i1] = np.where(x >= 1.0, 1.0, 0.5 - 0.5 * np.cos(math.pi * x))
    return out


def _tailgating(p: Params) -> Scenario:
    t, v0 = _cruise(p)
    v = np.full_like(t, v0)
    far, near = p.f("far_headway_s"), p.f("headway_s")
    at, close, hold = p.f("at_s"), p.f("close_in_s"), p.f("hold_s")
    hw = far + (near - far) * (
        _smooth_step(t, at, at + close) - _smooth_step(t, at + close + hold, at + 2 * close + hold)
    )

    def lead(sc: Scenario) -> list[Vehicle]:
        s = follower_gap_s(sc.ego, hw, min_gap_m=2.0)
        return [Vehicle(LEAD_ID, s, np.zeros_like(t), color_bgr=(60, 60, 170))]

    return _assemble("tailgating", p, t, v, vehicles=lead)


def _lead_braking(p: Params) -> Scenario:
    t, v0 = _cruise(p)
    at = p.f("at_s")
    v_end = p.f("end_kmh") * KMH
    lead_a = p.f("lead_decel_g") * G
    ego_a = p.f("ego_decel_g") * G
    react = p.f("reaction_s")
    lead_kf = [(0.0, v0), (at, v0), (at + (v0 - v_end) / lead_a, v_end)]
    ego_kf = [(0.0, v0), (at + react, v0), (at + react + (v0 - v_end) / ego_a, v_end)]
    v = speed_profile(t, ego_kf, 0.3)
    gap0 = p.f("headway_s") * v0

    def lead(sc: Scenario) -> list[Vehicle]:
        s = vehicle_s_from_speed(t, gap0, lead_kf, 0.3)
        return [Vehicle(LEAD_ID, s, np.zeros_like(t), color_bgr=(50, 50, 190))]

    return _assemble(
        "lead_braking",
        p,
        t,
        v,
        vehicles=lead,
        notes=[],
    )


def _stop_profile(p: Params, t: FloatArray) -> tuple[FloatArray, float]:
    """Approach at ``speed_kmh``, slow at ``decel_mps2`` to ``min_speed_kmh`` and hold it
    (``dwell_s`` for a full stop, 1 s for a rolling one, so the lowest speed is exactly the
    parameter), drive on; returns the speed and the time the lowest speed is reached."""
    v0 = p.f("speed_kmh") * KMH
    vmin = min(p.f("min_speed_kmh") * KMH, v0)
    dec, acc, at = p.f("decel_mps2"), p.f("accel_mps2"), p.f("at_s")
    if dec <= 0 or acc <= 0:
        raise ValueError("decel_mps2 and accel_mps2 must be positive")
    if vmin >= v0:
        return np.full_like(t, v0), at
    t_low = at + (v0 - vmin) / dec
    hold = p.f("dwell_s") if vmin == 0 else 1.0
    t_go = t_low + hold
    kf = [(0.0, v0), (at, v0), (t_low, vmin), (t_go, vmin), (t_go + (v0 - vmin) / acc, v0)]
    return speed_profile(t, kf, 0.6), t_low


def _stop_sign(p: Params) -> Scenario:
    t = time_grid(p.f("duration_s"), DT)
    v, t_line = _stop_profile(p, t)
    s = integrate(t, v)
    s_line = float(np.interp(t_line, t, s)) + (1.5 if p.f("min_speed_kmh") == 0 else 0.0)
    lane_w = p.f("road.lane_width_m")
    sign = StopSign(SIGN_ID, s_line, -(lane_w / 2.0 + 1.2))
    return _assemble(
        "stop_sign",
        p,
        t,
        v,
        stop_signs=[sign],
        notes=[ManoeuvreNote("stop", p.f("at_s"), t_line + 2.0)],
    )


def _red_light(p: Params) -> Scenario:
    t = time_grid(p.f("duration_s"), DT)
    stops = p.b("stops")
    if stops:
        v, t_line = _stop_profile(p, t)
    else:
        v = np.full_like(t, p.f("speed_kmh") * KMH)
        t_line = p.f("at_s")
    s = integrate(t, v)
    s_line = float(np.interp(t_line, t, s)) + (2.0 if stops else 0.0)
    lamp = p.s("lamp_at_line")
    red_from = t_line - p.f("red_before_s")
    if stops:
        phases: tuple[tuple[float, str], ...] = (
            (0.0, "green"), (red_from - 3.0, "yellow"), (red_from, "red"), (t_line + p.f("dwell_s") - 0.5, "green"),
        )  # fmt: skip
    elif lamp == "red":
        phases = ((0.0, "green"), (red_from - 3.0, "yellow"), (red_from, "red"))
    elif lamp == "yellow":
        phases = ((0.0, "green"), (t_line - 1.0, "yellow"), (t_line + 2.0, "red"))
    else:
        phases = ((0.0, "red"), (t_line - 6.0, "green"))
    lane_w = p.f("road.lane_width_m")
    light = TrafficLight(LIGHT_ID, s_line, -(lane_w / 2.0 + 0.8), phases)
    return _assemble(
        "red_light",
        p,
        t,
        v,
        lights=[light],
        notes=[ManoeuvreNote("stop", p.f("at_s"), t_line + 2.0)] if stops else [],
    )


def _pedestrian(p: Params) -> Scenario:
    t = time_grid(p.f("duration_s"), DT)
    v, t_line = _stop_profile(p, t)
    s = integrate(t, v)
    s_cross = float(np.interp(t_line, t, s)) + p.f("stop_before_m")
    walk = p.f("walk_mps")
    lane_w = p.f("road.lane_width_m")
    start_d = -(lane_w / 2.0 + 2.0)
    t_start = t_line - p.f("starts_before_s")

    def peds(sc: Scenario) -> list[Pedestrian]:
        d = start_d + walk * np.clip(t - t_start, 0.0, None)
        d = np.minimum(d, 1.5 * lane_w + 2.0)
        return [Pedestrian(PEDESTRIAN_ID, np.full_like(t, s_cross), d)]

    return _assemble(
        "pedestrian_crossing",
        p,
        t,
        v,
        pedestrians=peds,
        notes=[ManoeuvreNote("stop", p.f("at_s"), t_line + p.f("dwell_s"))],
    )


def _speeding(p: Params) -> Scenario:
    t = time_grid(p.f("duration_s"), DT)
    limit = p.f("limit_kmh") * KMH
    fast = p.f("speed_kmh") * KMH
    at, over = p.f("at_s"), p.f("over_s")
    ramp = abs(fast - limit) / 1.0
    kf = [(0.0, limit * 0.9), (at, limit * 0.9), (at + ramp, fast), (at + ramp + over, fast), (at + 2 * ramp + over, limit * 0.9)]
    v = speed_profile(t, kf, 1.0)
    return _assemble("speeding", p, t, v, speed_limit_kmh=p.f("limit_kmh"))


def _drowsy(p: Params) -> Scenario:
    t, v0 = _cruise(p)
    v = np.full_like(t, v0)
    closures = [EyeClosure(p.f("at_s"), p.f("closure_s"))]
    if p.f("second_closure_s") > 0:
        closures.append(EyeClosure(p.f("at_s") + 15.0, p.f("second_closure_s")))
    script = CabinScript(CabinModel(), tuple(closures), ())
    return _assemble("drowsy", p, t, v, cabin=script)


def _distracted(p: Params) -> Scenario:
    t, v0 = _cruise(p)
    v = np.full_like(t, v0)
    at = p.f("at_s")
    turns = (
        HeadTurn(at, p.f("look_s"), p.f("yaw_deg"), p.f("pitch_deg")),
        HeadTurn(at + 15.0, 1.0, 40.0, 0.0),  # a glance at a mirror: not an event
    )
    return _assemble("distracted", p, t, v, cabin=CabinScript(CabinModel(), (), turns))


def _phone(p: Params) -> Scenario:
    t, v0 = _cruise(p)
    v = np.full_like(t, v0)
    at = p.f("at_s")
    phones = (
        PhoneEpisode(at, p.f("hold_s"), p.s("position")),
        PhoneEpisode(at + p.f("hold_s") + 10.0, 1.0, "hand"),  # a glance at it: not an event
    )
    return _assemble("phone", p, t, v, cabin=CabinScript(CabinModel(), (), (), phones))


def _demo(p: Params) -> Scenario:
    """The demo drive: pull away hard, a micro-sleep, follow a lead closely, a harsh bend, a
    hard stop of speed, a rolling stop at a stop sign, then a look away from the road."""
    t = time_grid(p.f("duration_s"), DT)
    cruise = p.f("speed_kmh") * KMH
    slow = 30.0 * KMH
    roll = p.f("stop_min_kmh") * KMH
    t_go = 2.0
    t_up = t_go + cruise / (0.42 * G)
    t_brake = 52.0
    t_slow = t_brake + (cruise - slow) / (0.5 * G)
    t_stop = 58.0
    t_low = t_stop + (slow - roll) / 2.0
    kf = [
        (0.0, 0.0), (t_go, 0.0), (t_up, cruise), (t_brake, cruise), (t_slow, slow), (t_stop, slow),
        (t_low, roll), (t_low + 1.0, roll), (t_low + 1.0 + (40.0 * KMH - roll) / 1.5, 40.0 * KMH),
    ]  # fmt: skip
    v = speed_profile(t, kf, 0.4)
    s = integrate(t, v)
    lat = 0.45 * G
    radius = cruise * cruise / lat
    s_curve = float(np.interp(42.0, t, s))
    length = radius * math.radians(60.0) - 10.0
    t_curve_end = float(np.interp(s_curve + length + 20.0, s, t))
    s_line = float(np.interp(t_low, t, s))
    hw = p.f("headway_s")
    headway = 2.5 + (hw - 2.5) * (_smooth_step(t, 10.0, 18.0) - _smooth_step(t, 32.0, 38.0))

    def lead(sc: Scenario) -> list[Vehicle]:
        base = follower_gap_s(sc.ego, headway, min_gap_m=2.0)
        away = integrate(t, 12.0 * _smooth_step(t, 38.0, 41.0))
        return [Vehicle(LEAD_ID, base + away, np.zeros_like(t), color_bgr=(60, 60, 170))]

    return _assemble(
        "demo",
        p,
        t,
        v,
        curves=[Curve(s_curve, max(length, 0.0), radius, 10.0)],
        vehicles=lead,
        stop_signs=[StopSign(SIGN_ID, s_line, -(p.f("road.lane_width_m") / 2.0 + 1.2))],
        notes=[ManoeuvreNote("curve", 42.0, t_curve_end, "left")],
        cabin=CabinScript(
            CabinModel(),
            (EyeClosure(9.0, p.f("closure_s")),) if p.f("closure_s") > 0 else (),
            (HeadTurn(66.0, p.f("look_s"), 45.0),) if p.f("look_s") > 0 else (),
        ),
    )


# ---------------------------------------------------------------- mixed drive (fleet trips)

MIXED_SEGMENTS = ("cruise", "turn", "overtake", "slowdown", "stop", "follow")
"""Segment kinds of a mixed drive, stitched in the order drawn from ``plan_seed``."""


def _mixed_drive(p: Params) -> Scenario:
    """A longer drive of ``segments`` segments (cruise, turn at a junction, overtake with two
    lane changes, slow down for traffic, stop sign, follow a lead vehicle) stitched into one
    continuous ego trajectory: one speed profile, one road, one lead vehicle track.

    Each manoeuvre is done the driver's *hard* way (``decel_g``, ``accel_g``, ``lat_g``,
    ``lane_change_s``, ``headway_s``, ``stop_min_kmh``) with probability ``risky_share`` and
    the gentle way otherwise; intensities are jittered ±10 %. The plan is drawn from
    ``plan_seed`` so the same parameters give the same drive. Ground truth is not decided
    here: it is derived from the built scenario by the definitions, like every scenario."""
    rng = np.random.default_rng(p.i("plan_seed"))
    n_seg = p.i("segments")
    if n_seg < 1:
        raise ValueError("mixed_drive: segments must be at least 1")
    share = p.f("risky_share")
    if not 0.0 <= share <= 1.0:
        raise ValueError("mixed_drive: risky_share must be in [0, 1]")
    cruise = p.f("speed_kmh") * KMH
    follow_v = max(p.f("follow_kmh") * KMH, cruise)
    lane_w = p.f("road.lane_width_m")
    gentle = {
        "decel_g": p.f("gentle_decel_g"), "accel_g": p.f("gentle_accel_g"), "lat_g": p.f("gentle_lat_g"),
        "lane_change_s": p.f("gentle_lane_change_s"), "headway_s": 2.0, "stop_min_kmh": 0.0,
    }  # fmt: skip
    if cruise <= 0:
        raise ValueError("mixed_drive: speed_kmh must be positive")

    def pick(name: str) -> float:
        """The hard value with probability ``risky_share``, else the gentle one, jittered."""
        hard = rng.random() < share
        base = p.f(name) if hard else gentle[name]
        return float(base * rng.uniform(0.9, 1.1))

    kf: list[tuple[float, float]] = [(0.0, 0.0), (2.0, 0.0)]
    tc = 2.0

    def to(speed: float, a_mps2: float) -> None:
        """Change speed from the current keyframe to ``speed`` at ``a_mps2``."""
        nonlocal tc
        v0 = kf[-1][1]
        if abs(speed - v0) < 1e-9:
            return
        tc += abs(speed - v0) / max(a_mps2, 1e-3)
        kf.append((tc, speed))

    def hold(seconds: float) -> None:
        nonlocal tc
        tc += seconds
        kf.append((tc, kf[-1][1]))

    notes: list[ManoeuvreNote] = []
    turns: list[tuple[float, float, float, str]] = []  # hold start (t), speed, lat g, direction
    changes: list[LaneChange] = []
    stops: list[tuple[float, bool]] = []  # time of the lowest speed, full stop?
    follows: list[tuple[float, float, float]] = []  # start (t), hold_s, headway_s
    t_pull = tc
    to(cruise, pick("accel_g") * G)
    notes.append(ManoeuvreNote("acceleration", t_pull, tc))
    hold(5.0)
    plan = [str(k) for k in rng.choice(MIXED_SEGMENTS, size=n_seg)]
    for kind in plan:
        if kind == "cruise":
            hold(float(rng.uniform(10.0, 25.0)))
        elif kind == "turn":
            vt = float(rng.uniform(20.0, 30.0)) * KMH
            t0 = tc
            to(vt, pick("decel_g") * G)
            notes.append(ManoeuvreNote("braking", t0, tc))
            hold(1.5)
            lat = pick("lat_g")
            direction = str(rng.choice(["left", "right"]))
            radius = vt * vt / (lat * G)
            arc = radius * math.pi / 2.0
            turns.append((tc, vt, lat, direction))
            t_turn = tc
            hold((arc + 10.0) / vt + 1.0)
            notes.append(ManoeuvreNote("curve", t_turn, tc, direction))
            t0 = tc
            to(cruise, pick("accel_g") * G)
            notes.append(ManoeuvreNote("acceleration", t0, tc))
            hold(3.0)
        elif kind == "overtake":
            lc = max(pick("lane_change_s"), 1.0)
            changes.append(LaneChange(tc, lc, 1))
            notes.append(ManoeuvreNote("lane_change", tc, tc + lc, "left"))
            hold(lc + float(rng.uniform(5.0, 10.0)))
            lc = max(pick("lane_change_s"), 1.0)
            changes.append(LaneChange(tc, lc, -1))
            notes.append(ManoeuvreNote("lane_change", tc, tc + lc, "right"))
            hold(lc + 3.0)
        elif kind == "slowdown":
            t0 = tc
            to(float(rng.uniform(15.0, 25.0)) * KMH, pick("decel_g") * G)
            notes.append(ManoeuvreNote("braking", t0, tc))
            hold(float(rng.uniform(3.0, 8.0)))
            t0 = tc
            to(cruise, pick("accel_g") * G)
            notes.append(ManoeuvreNote("acceleration", t0, tc))
            hold(3.0)
        elif kind == "stop":
            t0 = tc
            vmin = min(pick("stop_min_kmh") * KMH, cruise * 0.6)
            to(vmin, pick("decel_g") * G)
            full = vmin == 0.0
            stops.append((tc, full))
            hold(2.0 if full else 1.0)
            to(cruise, pick("accel_g") * G)
            notes.append(ManoeuvreNote("stop", t0, tc))
            hold(3.0)
        else:  # follow: speed up, a lead merges in ahead, close in, follow, drop back
            to(follow_v, 0.15 * G)
            hold_s = float(rng.uniform(12.0, 20.0))
            follows.append((tc, hold_s, pick("headway_s")))
            hold(_FOLLOW_APPROACH_S * 2 + 2 * _FOLLOW_MERGE_S + 2 * _FOLLOW_CLOSE_S + hold_s)
            to(cruise, 0.15 * G)
            hold(3.0)
    t_end = tc
    to(0.0, pick("decel_g") * G)
    notes.append(ManoeuvreNote("braking", t_end, tc))
    hold(3.0)
    t = time_grid(tc, DT)
    v = speed_profile(t, kf, 0.6)
    s = integrate(t, v)
    curves = []
    for t0, vt, lat, direction in turns:
        radius = vt * vt / (lat * G)
        sign = 1.0 if direction == "left" else -1.0
        curves.append(Curve(float(np.interp(t0, t, s)), radius * math.pi / 2.0 - 5.0, sign * radius, 5.0))
    signs = [
        StopSign(100 + k, float(np.interp(tl, t, s)) + (1.5 if full else 0.0), -(lane_w / 2.0 + 1.2))
        for k, (tl, full) in enumerate(stops)
    ]

    def lead(sc: Scenario) -> list[Vehicle]:
        if not follows:
            return []
        near = np.zeros_like(t)
        in_lane = np.zeros_like(t)
        hw = np.full_like(t, 2.5)
        a, m, c = _FOLLOW_APPROACH_S, _FOLLOW_MERGE_S, _FOLLOW_CLOSE_S
        for t0, hold_s, headway in follows:
            t_out = t0 + a + 2 * m + 2 * c + hold_s
            near += _smooth_step(t, t0, t0 + a) - _smooth_step(t, t_out, t_out + a)
            in_lane += _smooth_step(t, t0 + a, t0 + a + m) - _smooth_step(t, t_out - m, t_out)
            t_c = t0 + a + m
            hw += (headway - 2.5) * (_smooth_step(t, t_c, t_c + c) - _smooth_step(t, t_c + c + hold_s, t_c + 2 * c + hold_s))
        gap = _FOLLOW_FAR_M + (np.maximum(hw * sc.ego.v, 2.0) - _FOLLOW_FAR_M) * near
        d = lane_w * (1.0 - in_lane)
        return [Vehicle(LEAD_ID, sc.ego.s + gap, d, color_bgr=(60, 60, 170))]

    return _assemble(
        "mixed_drive",
        p,
        t,
        v,
        curves=curves,
        changes=changes,
        vehicles=lead,
        stop_signs=signs,
        notes=notes,
    )


_FOLLOW_APPROACH_S = 18.0
"""A following segment's lead vehicle comes from ``_FOLLOW_FAR_M`` ahead (out of the
camera's range) in the left lane over this time, and drifts away again over it."""
_FOLLOW_MERGE_S = 3.0
_FOLLOW_CLOSE_S = 10.0
_FOLLOW_FAR_M = 200.0


_DIR = ("left", "right")

SCENARIOS: dict[str, ScenarioSpec] = {
    s.name: s
    for s in (
        ScenarioSpec(
            "normal",
            "Ordinary city drive: pull away, a gentle bend, a gentle lane change, a gentle stop; "
            "a car passes in the next lane.",
            "none (every manoeuvre is labelled `normal`)",
            (
                *_common(90.0, 50.0),
                Param("accel_mps2", 1.5, "m/s²", "Pull-away and stopping acceleration (0.15 g)."),
                Param("curve_radius_m", 150.0, "m", "Radius of the bend (0.13 g at 50 km/h)."),
                Param("lane_change_s", 6.0, "s", "Duration of the lane change (peak 0.06 g)."),
                Param("speed_limit_kmh", 60.0, "km/h", "Posted limit."),
            ),
            _normal,
        ),
        ScenarioSpec(
            "harsh_braking",
            "Cruise, then brake hard from `from_kmh` to `to_kmh` at `decel_g`.",
            "harsh_braking (when decel_g > motion.braking_g)",
            (
                Param("duration_s", 35.0, "s", "Length of the drive."),
                Param("from_kmh", 60.0, "km/h", "Speed before braking."),
                Param("to_kmh", 15.0, "km/h", "Speed after braking."),
                Param("decel_g", 0.5, "g", "Deceleration."),
                Param("at_s", 15.0, "s", "When braking starts."),
                Param("ramp_s", 0.4, "s", "Jerk ramp (time to reach the deceleration)."),
            ),
            _speed_change("harsh_braking", -1.0),
        ),
        ScenarioSpec(
            "harsh_acceleration",
            "Pull away hard from `from_kmh` to `to_kmh` at `accel_g`.",
            "harsh_acceleration (when accel_g > motion.acceleration_g)",
            (
                Param("duration_s", 35.0, "s", "Length of the drive."),
                Param("from_kmh", 10.0, "km/h", "Speed before accelerating."),
                Param("to_kmh", 60.0, "km/h", "Speed after accelerating."),
                Param("accel_g", 0.45, "g", "Acceleration."),
                Param("at_s", 15.0, "s", "When acceleration starts."),
                Param("ramp_s", 0.4, "s", "Jerk ramp."),
            ),
            _speed_change("harsh_acceleration", 1.0),
        ),
        ScenarioSpec(
            "cornering",
            "Take a bend at constant speed with lateral acceleration `lat_g`.",
            "harsh_cornering with the bend's direction (when lat_g > motion.cornering_g)",
            (
                *_common(35.0, 40.0),
                Param("lat_g", 0.5, "g", "Lateral acceleration in the bend (radius = v²/a)."),
                Param("angle_deg", 90.0, "°", "Heading change of the bend."),
                Param("transition_m", 10.0, "m", "Clothoid length into and out of the bend."),
                Param("direction", "left", "", "Turn direction.", _DIR),
                Param("at_s", 12.0, "s", "When the bend starts."),
            ),
            _cornering,
        ),
        ScenarioSpec(
            "lane_change",
            "An ordinary lane change (full sine of lateral acceleration over `manoeuvre_s`).",
            "none (labelled `normal`); aggressive_lane_change when 2πW/T² > motion.lane_change_g",
            (
                *_common(30.0, 60.0),
                Param("manoeuvre_s", 6.0, "s", "Lane change duration (peak 0.06 g for a 3.5 m lane)."),
                Param("direction", "left", "", "Direction.", _DIR),
                Param("at_s", 12.0, "s", "When the lane change starts."),
            ),
            _lane_change("lane_change"),
        ),
        ScenarioSpec(
            "aggressive_lane_change",
            "A quick lane change: peak lateral acceleration 2πW/T² (0.36 g for 2.5 s and 3.5 m: "
            "above motion.lane_change_g, below motion.cornering_g).",
            "aggressive_lane_change with its direction",
            (
                *_common(30.0, 60.0),
                Param("manoeuvre_s", 2.5, "s", "Lane change duration."),
                Param("direction", "left", "", "Direction.", _DIR),
                Param("at_s", 12.0, "s", "When the lane change starts."),
            ),
            _lane_change("aggressive_lane_change"),
        ),
        ScenarioSpec(
            "lane_departure",
            "Drift towards a marking (the middle of three lanes, dashed lines) and back, without "
            "changing lanes: out `drift_m` over `drift_s`, hold `hold_s`, back over `drift_s`.",
            "lane_departure with its direction (when lane width / 2 − drift_m < "
            "lanes.departure_line_distance_m and speed_kmh ≥ lanes.departure_min_speed_mps)",
            (
                *_common(30.0, 90.0),
                Param("drift_m", 1.0, "m", "How far the car drifts from its lane's centre (a 3.5 m lane: the line at 0.75 m)."),
                Param("drift_s", 3.0, "s", "Time to drift out (and back)."),
                Param("hold_s", 1.0, "s", "Time held at the drift."),
                Param("direction", "left", "", "Towards which marking.", _DIR),
                Param("at_s", 10.0, "s", "When the drift starts."),
            ),
            _lane_departure,
        ),
        ScenarioSpec(
            "tailgating",
            "Close in on a lead vehicle to time headway `headway_s`, follow for `hold_s`, drop back.",
            "tailgating (when headway_s < road_events.tailgating_headway_s, hold_s ≥ min duration, speed ≥ min speed)",
            (
                *_common(40.0, 80.0),
                Param("headway_s", 0.5, "s", "Time headway while following closely."),
                Param("far_headway_s", 2.5, "s", "Headway before and after."),
                Param("at_s", 5.0, "s", "When closing in starts."),
                Param("close_in_s", 8.0, "s", "Time to close in (and to drop back)."),
                Param("hold_s", 14.0, "s", "Time spent at `headway_s`."),
            ),
            _tailgating,
        ),
        ScenarioSpec(
            "lead_braking",
            "The lead vehicle brakes suddenly; the ego reacts after `reaction_s` and brakes hard.",
            "forward_collision_warning, harsh_braking",
            (
                *_common(35.0, 60.0),
                Param("headway_s", 1.5, "s", "Time headway before the lead brakes."),
                Param("lead_decel_g", 0.7, "g", "The lead's deceleration."),
                Param("ego_decel_g", 0.6, "g", "The ego's deceleration."),
                Param("reaction_s", 1.5, "s", "The ego driver's reaction time."),
                Param("end_kmh", 15.0, "km/h", "Speed both slow to."),
                Param("at_s", 15.0, "s", "When the lead brakes."),
            ),
            _lead_braking,
        ),
        ScenarioSpec(
            "stop_sign",
            "Approach a stop sign, slow to `min_speed_kmh` at the line (0: full stop for `dwell_s`), drive on.",
            "none for a full stop; rolling_stop when min_speed_kmh ≥ road_events.stop_speed_mps "
            "(9.66 km/h) with a slow-down; stop_sign_violation without one (min_speed_kmh = speed_kmh)",
            (
                *_common(40.0, 40.0),
                Param("min_speed_kmh", 0.0, "km/h", "Lowest speed at the line (0 = full stop; 15 = rolling; = speed_kmh: no stop)."),
                Param("dwell_s", 2.0, "s", "Standstill time of a full stop."),
                Param("decel_mps2", 2.0, "m/s²", "Slowing deceleration (0.2 g: not harsh)."),
                Param("accel_mps2", 1.5, "m/s²", "Pull-away acceleration."),
                Param("at_s", 12.0, "s", "When slowing starts."),
            ),
            _stop_sign,
        ),
        ScenarioSpec(
            "red_light",
            "Drive through a signalled junction whose lamp is `lamp_at_line` as the ego passes (or stop at red).",
            "red_light when lamp_at_line = red and stops = false",
            (
                *_common(35.0, 50.0),
                Param("lamp_at_line", "red", "", "The lamp as the ego reaches the line.", ("red", "yellow", "green")),
                Param("red_before_s", 3.0, "s", "How long the lamp has been red when the ego reaches the line."),
                Param("stops", False, "", "Stop at the red light instead (then no event)."),
                Param("min_speed_kmh", 0.0, "km/h", "Lowest speed when stopping."),
                Param("dwell_s", 4.0, "s", "Wait at the line when stopping."),
                Param("decel_mps2", 2.0, "m/s²", "Slowing deceleration when stopping."),
                Param("accel_mps2", 1.5, "m/s²", "Pull-away acceleration."),
                Param("at_s", 15.0, "s", "When the ego reaches the line (or starts slowing)."),
            ),
            _red_light,
        ),
        ScenarioSpec(
            "pedestrian_crossing",
            "A pedestrian crosses ahead; the ego slows gently and waits, then drives on.",
            "none (the stop is labelled `normal`)",
            (
                *_common(40.0, 30.0),
                Param("walk_mps", 1.4, "m/s", "Walking speed."),
                Param("starts_before_s", 3.0, "s", "The pedestrian starts this long before the ego stops."),
                Param("stop_before_m", 6.0, "m", "Where the ego stops before the crossing."),
                Param("min_speed_kmh", 0.0, "km/h", "Lowest speed (0: full stop)."),
                Param("dwell_s", 6.0, "s", "Standstill time."),
                Param("decel_mps2", 1.8, "m/s²", "Slowing deceleration."),
                Param("accel_mps2", 1.5, "m/s²", "Pull-away acceleration."),
                Param("at_s", 10.0, "s", "When slowing starts."),
            ),
            _pedestrian,
        ),
        ScenarioSpec(
            "speeding",
            "Drive `speed_kmh` under a `limit_kmh` limit for `over_s` (analyse with road_events.speed_limit_kmh = limit_kmh).",
            "speeding (when speed_kmh > limit + road_events.speeding_margin_mps for ≥ road_events.speeding_min_duration_s)",
            (
                Param("duration_s", 95.0, "s", "Length of the drive."),
                Param("limit_kmh", 60.0, "km/h", "Posted limit."),
                Param("speed_kmh", 85.0, "km/h", "Speed while speeding."),
                Param("at_s", 8.0, "s", "When speeding up starts."),
                Param("over_s", 65.0, "s", "Time at `speed_kmh`."),
            ),
            _speeding,
        ),
        ScenarioSpec(
            "drowsy",
            "Cruise with ordinary blinks and a long eye closure (micro-sleep) of `closure_s`.",
            "drowsiness (closure_s ≥ the drowsiness closure threshold)",
            (
                *_common(40.0, 60.0),
                Param("closure_s", 2.5, "s", "Length of the eye closure."),
                Param("second_closure_s", 0.0, "s", "A second closure 15 s later (0: none)."),
                Param("at_s", 15.0, "s", "When the eyes close."),
            ),
            _drowsy,
        ),
        ScenarioSpec(
            "distracted",
            "Cruise; the driver looks away (head yaw `yaw_deg`) for `look_s`, later glances at a mirror for 1 s.",
            "distraction (look_s ≥ the distraction duration threshold); the mirror glance is none",
            (
                *_common(35.0, 60.0),
                Param("yaw_deg", 45.0, "°", "Head yaw while looking away (left positive)."),
                Param("pitch_deg", 0.0, "°", "Head pitch while looking away (down positive)."),
                Param("look_s", 4.0, "s", "How long the driver looks away."),
                Param("at_s", 12.0, "s", "When the driver looks away."),
            ),
            _distracted,
        ),
        ScenarioSpec(
            "phone",
            "Cruise; the driver holds a phone (`position`: at the face or in the hand) for `hold_s`, "
            "later glances at one in the hand for 1 s.",
            "phone_use (hold_s ≥ cabin.phone_min_s); the glance is none",
            (
                *_common(40.0, 60.0),
                Param("hold_s", 5.0, "s", "How long the phone is held."),
                Param("position", "face", "", "Where the phone is held.", ("face", "hand")),
                Param("at_s", 10.0, "s", "When the driver picks the phone up."),
            ),
            _phone,
        ),
        ScenarioSpec(
            "demo",
            "The `saferoad demo` drive: a hard pull-away, a micro-sleep at 9 s (cabin signal "
            "track), close following, a harsh left bend, hard braking, a rolling stop at a stop "
            "sign and a look away from the road at 66 s.",
            "harsh_acceleration, drowsiness, tailgating, harsh_cornering left, harsh_braking, "
            "rolling_stop, distraction",
            (
                Param("duration_s", 75.0, "s", "Length of the drive."),
                Param("speed_kmh", 65.0, "km/h", "Cruising speed."),
                Param("headway_s", 0.5, "s", "Headway while following closely (18-32 s)."),
                Param("stop_min_kmh", 12.0, "km/h", "Lowest speed at the stop sign (0: full stop)."),
                Param("closure_s", 2.0, "s", "The micro-sleep's eye closure (from 9 s; 0: none)."),
                Param("look_s", 3.0, "s", "How long the driver looks away at 66 s (0: not at all)."),
            ),
            _demo,
        ),
        ScenarioSpec(
            "mixed_drive",
            "A longer mixed drive for fleet trips: `segments` segments (cruise, junction turn, "
            "overtake, slow-down, stop sign, following a lead) in one continuous trajectory; each "
            "manoeuvre done the hard way with probability `risky_share` (simulate-fleet --mixed "
            "sets these from the driver's style).",
            "whatever the drawn manoeuvres cross: harsh_braking/acceleration/cornering, "
            "aggressive_lane_change, tailgating, rolling_stop (none when risky_share = 0)",
            (
                Param("segments", 10, "", "Number of segments after the pull-away."),
                Param("plan_seed", 0, "", "Seed of the segment plan and intensities."),
                Param("speed_kmh", 50.0, "km/h", "Cruising speed (city)."),
                Param("follow_kmh", 70.0, "km/h", "Speed while following a lead (arterial road)."),
                Param("risky_share", 0.0, "", "Probability that a manoeuvre is done the hard way."),
                Param("decel_g", 0.45, "g", "Hard-way deceleration (gentle: 0.2 g)."),
                Param("accel_g", 0.4, "g", "Hard-way acceleration (gentle: 0.15 g)."),
                Param("lat_g", 0.45, "g", "Hard-way lateral acceleration in turns (gentle: 0.15 g)."),
                Param("lane_change_s", 2.4, "s", "Hard-way lane change duration (gentle: 6 s)."),
                Param("headway_s", 0.5, "s", "Hard-way following headway (gentle: 2 s)."),
                Param("stop_min_kmh", 15.0, "km/h", "Hard-way lowest speed at a stop sign (gentle: 0, a full stop)."),
                Param("gentle_decel_g", 0.2, "g", "Everyday (not hard-way) deceleration."),
                Param("gentle_accel_g", 0.15, "g", "Everyday acceleration."),
                Param("gentle_lat_g", 0.15, "g", "Everyday lateral acceleration in turns."),
                Param("gentle_lane_change_s", 6.0, "s", "Everyday lane change duration."),
            ),
            _mixed_drive,
        ),
    )
}


def get_scenario(name: str) -> ScenarioSpec:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})") from None
