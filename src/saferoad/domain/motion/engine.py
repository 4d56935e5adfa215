"""The inertial event engine end to end: resample → low-pass → vehicle frame → ego speed →
the registered motion rules (``rules/registry.py``: the harsh-driving rule and any other) → a
10 Hz timeline. Pure and vectorised; the motion stage wraps it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from saferoad.domain.ego_speed import ego_speed, gps_speed
from saferoad.domain.motion.harsh import MotionSignals
from saferoad.domain.motion.highpass import HighpassFit, highpass, source_highpass
from saferoad.domain.motion.manoeuvres import (
    Manoeuvre,
    ManoeuvreCounts,
    grade_manoeuvres,
)
from saferoad.domain.motion.params import EngineParams as EngineParams  # re-exported (moved)
from saferoad.domain.motion.rules.registry import run_rules
from saferoad.domain.motion.signal import BoolArray, lowpass, resample
from saferoad.domain.motion.timebase import find_gaps
from saferoad.domain.motion.turn_axes import TurnAxes, turn_axes
from saferoad.domain.motion.vehicle_frame import (
    POOR_AXIS_DEG,
    VehicleFrame,
    earth_to_heading,
    estimate_frame,
    estimate_up,
    frame_from_references,
    frame_from_rotation,
    horizontal_basis,
    project,
)
from saferoad.domain.types import Event, FloatArray, GpsSeries, ImuSeries, SpeedSeries


@dataclass(frozen=True, slots=True)
class MotionResult:
    events: list[Event]
    speed: SpeedSeries | None
    frame: VehicleFrame | None
    mode: str
    """``signed``, ``heading-free``, ``gps-only`` or ``no-imu``."""
    gaps: list[tuple[float, float]]
    timeline: dict[str, FloatArray]
    """10 Hz: t_s, lat, lon, speed_mps, long_acc_mps2, lat_acc_mps2, yaw_rate_dps."""
    highpass: HighpassFit | None = None
    """How the source's horizontal high-pass was undone, where the reader declared one."""
    axes: TurnAxes | None = None
    """Heading-free mode: the forward axis found from the turns, where it was."""
    limitations: list[str] = field(default_factory=list)
    """What this recording's sensors do not allow, in words (the analyze stage logs each as a
    warning and lists them in ``summary.json``)."""
    manoeuvres: list[Manoeuvre] = field(default_factory=list)
    """Every braking, acceleration, turn and lane change at or above its moderate band
    (``manoeuvres.py``); the harsh ones are ``events``."""

    @property
    def manoeuvre_counts(self) -> ManoeuvreCounts:
        return ManoeuvreCounts.of(self.manoeuvres)


def _on_grid(t: FloatArray, src_t: FloatArray, v: FloatArray) -> FloatArray:
    ok = np.isfinite(v)
    if ok.sum() < 2:
        return np.full(t.shape, np.nan)
    out: FloatArray = np.interp(t, src_t[ok], v[ok], left=np.nan, right=np.nan)
    return out


def _timeline(
    t0: float,
    t1: float,
    hz: float,
    gps: GpsSeries | None,
    speed: SpeedSeries | None,
    grid_t: FloatArray | None,
    a_long: FloatArray | None,
    a_lat: FloatArray | None,
    yaw: FloatArray | None,
) -> dict[str, FloatArray]:
    n = max(1, int(np.floor((t1 - t0) * hz)) + 1)
    t = t0 + np.arange(n, dtype=np.float64) / hz
    nan = np.full(n, np.nan)

    def on(x: FloatArray | None) -> FloatArray:
        return nan.copy() if x is None or grid_t is None else _on_grid(t, grid_t, x)

    return {
        "t_s": t,
        "lat": _on_grid(t, gps.t_s, gps.lat) if gps is not None and len(gps) > 1 else nan.copy(),
        "lon": _on_grid(t, gps.t_s, gps.lon) if gps is not None and len(gps) > 1 else nan.copy(),
        "speed_mps": _on_grid(t, speed.t_s, speed.speed_mps) if speed is not None else nan.copy(),
        "long_acc_mps2": on(a_long),
        "lat_acc_mps2": on(a_lat),
        "yaw_rate_dps": on(None if yaw is None else np.degrees(yaw)),
    }


def _course_yaw(gps: GpsSeries, t: FloatArray, v: FloatArray, hz: float, valid: BoolArray | None) -> FloatArray | None:
    """Yaw rate (rad/s, left +) from the GPS course on the grid ``t``, low-passed at 0.5 Hz;
    zero where the speed ``v`` is under 3 m/s (the course is noise when nearly standing
    still). None with fewer than 10 fixes that have a course."""
    ok = np.isfinite(gps.course_deg)
    if ok.sum() < 10:
        return None
    course = np.degrees(np.unwrap(np.radians(gps.course_deg[ok])))
    c = lowpass(np.interp(t, gps.t_s[ok], course), 0.5, hz, valid)
    yaw = -np.radians(np.gradient(c) * hz)  # course is clockwise; yaw rate is left +
    out: FloatArray = np.where(v > 3.0, yaw, 0.0)
    return out


def _frame_without_gravity(
    imu: ImuSeries,
    acc: FloatArray,
    gps: GpsSeries | None,
    ref: FloatArray | None,
    t: FloatArray,
    hz: float,
    valid: BoolArray,
) -> VehicleFrame:
    """A device-frame accelerometer with gravity removed and no mounting: oriented against the
    GPS (forward follows dv/dt, left follows v·ω from the course), on signals low-passed to
    the reference's 0.5 Hz and, for a declared source high-pass, the references high-passed
    the same way."""
    if gps is None or ref is None:
        raise ValueError(
            "a device-frame IMU without gravity cannot be oriented without GPS speed: give "
            "[imu] mounting in meta.toml (or motion.mounting)"
        )
    yaw = _course_yaw(gps, t, ref, hz, valid)
    if yaw is None:
        raise ValueError(
            "a device-frame IMU without gravity needs the GPS course (or a mounting) to find its left axis"
        )
    L = np.gradient(ref) * hz
    C = ref * yaw
    tau = imu.horizontal_highpass_tau_s
    if tau is not None:
        L, C = highpass(L, tau, hz), highpass(C, tau, hz)
    slow = lowpass(acc, 0.5, hz, valid)
    return frame_from_references(slow[valid], L[valid], C[valid])


def _gps_only(gps: GpsSeries, speed: SpeedSeries | None, params: EngineParams) -> MotionResult:
    """No IMU: longitudinal acceleration from d(speed)/dt, yaw rate from the course, lateral
    acceleration v·ω (the "±0.3 g from GPS speed" of telematics without an accelerometer).
    Low-passed at 0.5 Hz: GPS speed is noisy sample to sample."""
    hz = params.timeline_hz
    gaps = find_gaps(gps.t_s, min_gap_s=2.5)
    g_speed = gps_speed(gps)
    if g_speed is None:
        return MotionResult([], speed, None, "gps-only", gaps, {})
    u = resample(g_speed.t_s, g_speed.speed_mps, hz, gaps)
    v = lowpass(u.values, 0.5, hz, u.valid)
    a_long = np.gradient(v) * hz
    yaw = _course_yaw(gps, u.t_s, v, hz, u.valid)
    a_lat = np.zeros_like(v) if yaw is None else v * yaw
    sig = MotionSignals(u.t_s, u.valid, yaw, v, a_long=a_long, a_lat=a_lat)
    events = run_rules(sig, params, hz)
    manoeuvres = grade_manoeuvres(sig, params.harsh, params.bands, hz, events)
    tl = _timeline(float(u.t_s[0]), float(u.t_s[-1]), hz, gps, speed, u.t_s, a_long, a_lat, yaw)
    return MotionResult(events, speed, None, "gps-only", gaps, tl, manoeuvres=manoeuvres)


def run_engine(
    imu: ImuSeries | None,
    gps: GpsSeries | None,
    can: SpeedSeries | None,
    params: EngineParams,
) -> MotionResult:
    if imu is None or len(imu) < 2:
        speed = ego_speed(can, gps)
        if gps is not None and len(gps) >= 10:
            return _gps_only(gps, speed, params)
        starts = [s.t_s[0] for s in (gps, can) if s is not None and len(s)]
        ends = [s.t_s[-1] for s in (gps, can) if s is not None and len(s)]
        tl = _timeline(min(starts), max(ends), params.timeline_hz, gps, speed, None, None, None, None) if starts else {}
        return MotionResult([], speed, None, "no-imu", [], tl)

    hz = params.resample_hz
    gaps = find_gaps(imu.t_s)
    u = resample(imu.t_s, imu.acc, hz, gaps)
    acc = lowpass(u.values, params.lowpass_hz, hz, u.valid)
    gyro = None
    if imu.gyro is not None:
        gyro = lowpass(resample(imu.t_s, imu.gyro, hz, gaps).values, params.lowpass_hz, hz, u.valid)

    hp_fit: HighpassFit | None = None
    if imu.frame == "earth" and imu.horizontal_highpass_tau_s is not None:
        # The source high-passed the horizontal acceleration: measure its time constant and,
        # where configured, undo it before any rule reads the signal.
        undone, hp_fit = source_highpass(
            acc[:, :2],
            None if gyro is None else gyro[:, 2],
            u.valid,
            hz,
            imu.horizontal_highpass_tau_s,
            undo=params.undo_source_highpass,
            leak_s=params.highpass_leak_s,
        )
        if params.undo_source_highpass:
            acc = np.column_stack([undone, acc[:, 2]])
    # The source's high-pass still in the signal (its measured time constant where fitted);
    # None when there is none or it was undone.
    kept_tau: float | None = None
    if imu.horizontal_highpass_tau_s is not None and not params.undo_source_highpass:
        kept_tau = hp_fit.tau_s if hp_fit is not None else imu.horizontal_highpass_tau_s

    # A reference speed on the grid for the vehicle frame: GPS first (the issue's "forward
    # axis from GPS speed changes"), else CAN.
    ref: FloatArray | None = None
    g_speed = gps_speed(gps) if gps is not None else None
    if g_speed is not None:
        ref = _on_grid(u.t_s, g_speed.t_s, g_speed.speed_mps)
    elif can is not None and len(can) > 1:
        ref = _on_grid(u.t_s, can.t_s, can.speed_mps)
    if ref is not None:
        # Before the first and after the last fix the speed is unknown: hold the nearest fix,
        # inventing no speed change. (Filling with the drive's median made a step there, which
        # the source high-pass restoration below read as a push: a 1.07 g "harsh acceleration"
        # of a car standing still in the last second of a 1 Hz GPS phone drive, issue 15.)
        known = np.isfinite(ref)
        ref = np.interp(u.t_s, u.t_s[known], ref[known]) if known.any() else np.zeros_like(u.t_s)
        ref = lowpass(ref, min(params.lowpass_hz, 0.5), hz)

    frame: VehicleFrame | None
    if params.mounting is not None:
        frame = frame_from_rotation(params.mounting)
    elif imu.frame == "vehicle":
        frame = frame_from_rotation(np.eye(3))
    elif imu.frame == "earth":
        frame = None
    else:
        if imu.gravity_removed:
            frame = _frame_without_gravity(imu, acc, gps, ref, u.t_s, hz, u.valid)
        else:
            frame = estimate_frame(acc, gyro, hz, ref)
        if frame.rotation is None:
            frame = None

    a_long = a_lat = yaw = None
    horizontal: FloatArray | None = None
    axes: TurnAxes | None = None
    course_ok = (
        gps is not None
        and ref is not None
        and imu.frame == "earth"
        and params.mounting is None
        and np.isfinite(gps.course_deg).sum() >= max(10, len(gps) // 2)
    )
    if course_ok and gps is not None and ref is not None:
        ok = np.isfinite(gps.course_deg)
        unwrapped = np.degrees(np.unwrap(np.radians(gps.course_deg[ok])))
        course = np.interp(u.t_s, gps.t_s[ok], unwrapped)
        yaw = gyro[:, 2] if gyro is not None else _course_yaw(gps, u.t_s, ref, hz, u.valid)
        a_long, a_lat, _, quality, se = earth_to_heading(acc[:, :2], course, ref, yaw, hz, kept_tau)
        frame = VehicleFrame(None, np.array([0.0, 0.0, 1.0]), "gps-course", quality, se)
    elif frame is not None and frame.rotation is not None:
        rot = frame.rotation
        a_long, a_lat = project(acc, rot[0]), project(acc, rot[1])
        if gyro is not None:
            yaw = project(gyro, rot[2])
        elif gps is not None and ref is not None:
            # No gyroscope: the heading change comes from the GPS course.
            yaw = _course_yaw(gps, u.t_s, ref, hz, u.valid)
    else:
        if imu.frame == "earth":
            up = np.array([0.0, 0.0, 1.0])
            horizontal = acc[:, :2]
            if params.forward_from_turns and gyro is not None:
                # The signal the rules read: high-passed as recorded unless undone above.
                tau = None if hp_fit is None or params.undo_source_highpass else hp_fit.tau_s
                axes = turn_axes(horizontal, gyro[:, 2], u.valid, hz, tau)
        else:
            # A device frame whose forward axis could not be fixed (no gyroscope, no speed):
            # the horizontal plane is still known from gravity.
            up = estimate_up(acc)
            e1, e2 = horizontal_basis(up)
            horizontal = np.column_stack([project(acc, e1), project(acc, e2)])
            horizontal = horizontal - horizontal.mean(axis=0)
        yaw = project(gyro, up) if gyro is not None else None
    if a_long is not None and a_lat is not None and ref is not None and kept_tau is not None:
        # A source that high-passes the horizontal acceleration (y = HP_tau(x)) loses what
        # the speed reference keeps: x = y + LP_tau(x) and, along the car, x = dv/dt, across
        # it v*yaw. So the complementary low-pass of the reference restores exactly the part
        # the source removed (GPS is good below ~0.2 Hz, the IMU above), with no inverse
        # filter to amplify errors.
        along = np.gradient(ref) * hz
        a_long = a_long + (along - highpass(along, kept_tau, hz))
        if yaw is not None:
            across = ref * yaw
            a_lat = a_lat + (across - highpass(across, kept_tau, hz))
    # Signed mode: the IMU's longitudinal acceleration fills in the GPS speed between fixes.
    speed = (
        ego_speed(can, gps)
        if a_long is None
        else ego_speed(can, gps, u.t_s, a_long, tau_s=params.speed_fusion_tau_s)
    )
    sig_speed = _on_grid(u.t_s, speed.t_s, speed.speed_mps) if speed is not None else None
    sig = MotionSignals(
        u.t_s, u.valid, yaw, sig_speed, a_long=a_long, a_lat=a_lat, horizontal=horizontal, axes=axes
    )
    mode = "heading-free" if sig.heading_free else "signed"
    events = run_rules(sig, params, hz)
    limitations: list[str] = []
    if frame is not None and frame.poor and frame.angle_se_deg is not None and not sig.heading_free:
        # An uncertain forward axis reads pushes small and leaks them across: said, and the
        # events' confidence scaled down (1 at the limit, 0.5 at twice it).
        se = frame.angle_se_deg
        scale = float(np.clip(POOR_AXIS_DEG / (2.0 * se), 0.5, 1.0))
        events = [
            replace(
                e,
                confidence=round(e.confidence * scale, 3),
                evidence={**e.evidence, "frame_angle_se_deg": round(se, 1)},
            )
            for e in events
        ]
        limitations.append(
            f"poor forward-axis estimate ({frame.method}: ±{2 * se:.0f}° at 95%, more than "
            f"±{POOR_AXIS_DEG:.0f}°): pushes along it may read small and leak into the lateral "
            f"axis; event confidence scaled by {scale:.2f}; a configured [imu] mounting avoids it"
        )
    manoeuvres = grade_manoeuvres(sig, params.harsh, params.bands, hz, events)
    t0 = float(u.t_s[0])
    t1 = float(u.t_s[-1])
    tl = _timeline(t0, t1, params.timeline_hz, gps, speed, u.t_s, a_long, a_lat, yaw)
    if sig.heading_free and yaw is None:
        limitations.append(
            "no yaw rate (no gyroscope) and no vehicle frame: harsh cornering and lane changes "
            "cannot be told from braking and acceleration, so every push is typed longitudinal"
        )
    if sig_speed is None:
        limitations.append(
            "no speed (no GPS or CAN): events are not held to motion.min_speed_mps and the "
            "distance driven is unknown"
        )
    return MotionResult(events, speed, frame, mode, gaps, tl, hp_fit, axes, limitations, manoeuvres)
