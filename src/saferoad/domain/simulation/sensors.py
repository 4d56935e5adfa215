"""Sensor models: what an IMU, a GNSS receiver and a cabin camera report for a scenario.

All randomness comes from the ``numpy.random.Generator`` passed in, so a seed fixes every
sample. The noise-free truth stays in the :class:`~saferoad.domain.simulation.model.Scenario`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

from saferoad.domain.motion.highpass import highpass
from saferoad.domain.simulation.model import CabinScript, GpsModel, ImuModel, Scenario
from saferoad.domain.types import FloatArray, G, GpsSeries, ImuSeries, SpeedSeries

EARTH_RADIUS_M = 6_378_137.0


def sample_times(duration_s: float, rate_hz: float, what: str = "sensor rate") -> FloatArray:
    """Sample times 0, 1/rate, ... up to ``duration_s`` inclusive (``what`` names the rate in
    the error for a rate that is not positive)."""
    if rate_hz <= 0:
        raise ValueError(f"{what} must be positive, got {rate_hz}")
    n = math.floor(duration_s * rate_hz + 1e-9) + 1
    out: FloatArray = np.arange(n, dtype=np.float64) / rate_hz
    return out


def _rotate_rows(v: FloatArray, r: FloatArray) -> FloatArray:
    """``v @ r`` for (N, 3) rows: each row ``x`` becomes ``Rᵀ x``."""
    if np.array_equal(r, np.eye(3)):
        return v.copy()
    out: FloatArray = v[:, 0:1] * r[0] + v[:, 1:2] * r[1] + v[:, 2:3] * r[2]
    return out


def sensor_highpass(x: FloatArray, tau_s: float, hz: float) -> FloatArray:
    """The engine's first-order (RC) high-pass (:func:`saferoad.domain.motion.highpass.highpass`,
    the model docs/events.md uses for the driverBehaviorDataset) started at rest on the first
    sample: the fusion's gravity estimate begins at the first reading, so the output starts at
    0, not at ``a·g``."""
    return highpass(x - x[:1], tau_s, hz)


def simulate_imu(sc: Scenario, model: ImuModel, rng: np.random.Generator) -> ImuSeries:
    """Specific force (gravity included, z up at rest) and angular rate in device axes:
    ``d = Rᵀ v`` for the mounting ``R`` plus a constant bias and white noise per axis.

    ``model.gravity_highpass_tau_s > 0``: gravity removed by a phone's fusion, modelled as
    :func:`sensor_highpass` of the whole measured signal (gravity, bias and noise: the fusion
    sees only the raw accelerometer), declared on the series; ``model.gyroscope`` false: no
    gyroscope (its noise is then not drawn)."""
    t = sample_times(sc.duration_s, model.rate_hz)
    e = sc.ego
    acc_v = np.column_stack(
        [np.interp(t, e.t, e.a_long), np.interp(t, e.t, e.a_lat), np.full_like(t, G)]
    )
    r = model.rotation()
    acc_bias = rng.normal(0.0, model.acc_bias_mps2, 3)
    gyro_bias = rng.normal(0.0, model.gyro_bias_rps, 3) if model.gyroscope else None
    # row-wise d = Rᵀ v, as three scaled columns (no BLAS threads for a 3x3 product)
    acc = _rotate_rows(acc_v, r) + acc_bias + rng.normal(0.0, model.acc_noise_mps2, (t.shape[0], 3))
    gyro = None
    if gyro_bias is not None:
        gyro_v = np.column_stack([np.zeros_like(t), np.zeros_like(t), np.interp(t, e.t, e.yaw_rate)])
        gyro = _rotate_rows(gyro_v, r) + gyro_bias + rng.normal(0.0, model.gyro_noise_rps, (t.shape[0], 3))
    tau = model.gravity_highpass_tau_s
    if tau > 0:
        return ImuSeries(
            t, sensor_highpass(acc, tau, model.rate_hz), gyro, frame="device",
            gravity_removed=True, horizontal_highpass_tau_s=tau,
        )  # fmt: skip
    return ImuSeries(t, acc, gyro, frame="device")


def local_to_latlon(
    x: FloatArray, y: FloatArray, lat0: float, lon0: float
) -> tuple[FloatArray, FloatArray]:
    """Equirectangular local tangent plane (x east, y north, metres) to WGS-84 degrees;
    exact to centimetres over a few kilometres."""
    lat = lat0 + np.degrees(y / EARTH_RADIUS_M)
    lon = lon0 + np.degrees(x / (EARTH_RADIUS_M * math.cos(math.radians(lat0))))
    return lat, lon


def _gauss_markov(n: int, sigma: float, dt: float, tau: float, rng: np.random.Generator) -> FloatArray:
    """First-order Gauss-Markov noise: stationary std ``sigma``, correlation time ``tau``."""
    if n == 0:
        return np.zeros(0)
    if sigma <= 0:
        return np.zeros(n)
    phi = math.exp(-dt / tau) if tau > 0 else 0.0
    w = rng.normal(0.0, sigma * math.sqrt(1.0 - phi * phi), n)
    w[0] = rng.normal(0.0, sigma)
    out: FloatArray = lfilter([1.0], [1.0, -phi], w)
    return out


def simulate_gps(sc: Scenario, model: GpsModel, rng: np.random.Generator) -> GpsSeries:
    """Fixes at ``rate_hz`` with correlated position noise, speed and course noise; no
    fixes inside dropouts; course is NaN below 0.5 m/s (a receiver cannot tell)."""
    t = sample_times(sc.duration_s, model.rate_hz)
    e = sc.ego
    dt = 1.0 / model.rate_hz
    x = np.interp(t, e.t, e.x) + _gauss_markov(t.shape[0], model.pos_noise_m, dt, model.pos_corr_s, rng)
    y = np.interp(t, e.t, e.y) + _gauss_markov(t.shape[0], model.pos_noise_m, dt, model.pos_corr_s, rng)
    lat, lon = local_to_latlon(x, y, model.lat0, model.lon0)
    v = np.interp(t, e.t, e.v)
    speed = np.maximum(v + rng.normal(0.0, model.speed_noise_mps, t.shape[0]), 0.0)
    heading = np.interp(t, e.t, e.heading)
    course = (90.0 - np.degrees(heading) + rng.normal(0.0, model.course_noise_deg, t.shape[0])) % 360.0
    course = np.where(v < 0.5, np.nan, course)
    alt = model.alt_m + _gauss_markov(t.shape[0], 2.0 * model.pos_noise_m, dt, model.pos_corr_s, rng)
    keep = np.ones(t.shape[0], dtype=bool)
    for start, duration in model.dropouts:
        keep &= ~((t >= start) & (t < start + duration))
    return GpsSeries(t[keep], lat[keep], lon[keep], speed[keep], course[keep], alt[keep])


def simulate_can(sc: Scenario, rate_hz: float, rng: np.random.Generator) -> SpeedSeries:
    """Wheel speed from the CAN bus: quantised to 0.01 km/h, small noise."""
    t = sample_times(sc.duration_s, rate_hz)
    v = np.interp(t, sc.ego.t, sc.ego.v) + rng.normal(0.0, 0.02, t.shape[0])
    v = np.maximum(np.round(v * 3.6, 2) / 3.6, 0.0)
    return SpeedSeries(t, v, "can")


CABIN_COLUMNS = (
    "frame", "t_s", "face", "ear_left", "ear_right", "eyes_closed",
    "yaw_deg", "pitch_deg", "roll_deg", "mouth_open",
)  # fmt: skip
"""Columns of ``cabin.csv`` (docs/recording-format.md)."""


HEAD_TURN_RAMP_S = 0.3
"""A head turn reaches its angle in this long (before its start) and returns as long after."""


def head_turn_weight(t: FloatArray, start: float, end: float, ramp: float = HEAD_TURN_RAMP_S) -> FloatArray:
    """1 inside ``[start, end]``, 0 outside, linear ramps of ``ramp`` seconds outside."""
    up = np.clip((t - (start - ramp)) / ramp, 0.0, 1.0)
    down = np.clip(((end + ramp) - t) / ramp, 0.0, 1.0)
    out: FloatArray = np.minimum(up, down)
    return out


def eyes_closed_truth(script: CabinScript, t: FloatArray, blink_starts: FloatArray) -> FloatArray:
    """1.0 where the eyes are closed (scripted closures and blinks), else 0.0."""
    closed = np.zeros_like(t)
    for c in script.closures:
        closed[(t >= c.start_s) & (t < c.start_s + c.duration_s)] = 1.0
    for b in blink_starts:
        closed[(t >= b) & (t < b + script.model.blink_s)] = 1.0
    return closed


def blink_times(script: CabinScript, duration_s: float, rng: np.random.Generator) -> FloatArray:
    """Ordinary blinks: intervals drawn around ``blink_interval_s`` (±40%)."""
    m = script.model
    if m.blink_interval_s <= 0:
        return np.zeros(0)
    n = int(duration_s / m.blink_interval_s) + 2
    gaps = m.blink_interval_s * rng.uniform(0.6, 1.4, n)
    out: FloatArray = np.cumsum(gaps)
    return out[out < duration_s]


def simulate_cabin(
    sc: Scenario, script: CabinScript, rng: np.random.Generator
) -> tuple[dict[str, FloatArray], FloatArray]:
    """Per-cabin-frame signals (columns :data:`CABIN_COLUMNS`) and the true eye-closed
    state on the same frames. Head yaw is left positive, pitch down positive."""
    m = script.model
    t = sample_times(sc.duration_s, m.fps)
    n = t.shape[0]
    blinks = blink_times(script, sc.duration_s, rng)
    closed = eyes_closed_truth(script, t, blinks)
    ear_base = m.ear_open + (m.ear_closed - m.ear_open) * closed
    ear_l = ear_base + rng.normal(0.0, m.ear_noise, n)
    ear_r = ear_base + rng.normal(0.0, m.ear_noise, n)
    yaw = np.zeros(n)
    pitch = np.zeros(n)
    for h in script.head_turns:
        w = head_turn_weight(t, h.start_s, h.start_s + h.duration_s)
        yaw += h.yaw_deg * w
        pitch += h.pitch_deg * w
    yaw += rng.normal(0.0, m.head_noise_deg, n)
    pitch += rng.normal(0.0, m.head_noise_deg, n)
    roll = np.asarray(rng.normal(0.0, m.head_noise_deg, n), dtype=np.float64)
    cols: dict[str, FloatArray] = {
        "frame": np.arange(n, dtype=np.float64),
        "t_s": t,
        "face": np.ones(n),
        "ear_left": np.clip(ear_l, 0.0, 1.0),
        "ear_right": np.clip(ear_r, 0.0, 1.0),
        "eyes_closed": closed,
        "yaw_deg": yaw,
        "pitch_deg": pitch,
        "roll_deg": roll,
        "mouth_open": np.clip(rng.normal(0.05, 0.01, n), 0.0, 1.0).astype(np.float64),
    }
    if script.phones:
        cols.update(simulate_phone(script, t, rng))
    return cols, closed


PHONE_MISS = 0.1
"""Share of the frames of a phone episode in which the detector misses the phone."""


def simulate_phone(script: CabinScript, t: FloatArray, rng: np.random.Generator) -> dict[str, FloatArray]:
    """A phone detector's output on the cabin frames: ``phone_score`` (the best phone's
    score, 0 without one: 0.5-0.9 while a phone is held, missed in :data:`PHONE_MISS` of
    those frames) and ``phone_face`` (1 where it is held at the face, 0 in the hand)."""
    score = np.zeros(t.shape[0])
    face = np.zeros(t.shape[0])
    for ep in script.phones:
        inside = (t >= ep.start_s) & (t <= ep.start_s + ep.duration_s)
        k = int(inside.sum())
        seen = rng.uniform(0.0, 1.0, k) >= PHONE_MISS
        score[inside] = np.where(seen, rng.uniform(0.5, 0.9, k), 0.0)
        face[inside] = 1.0 if ep.position == "face" else 0.0
    return {"phone_score": score, "phone_face": face}
