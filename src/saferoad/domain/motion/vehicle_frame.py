"""Finding the vehicle frame (x forward, y left, z up) of an IMU in an unknown mounting.

1. **Up** is the direction of the mean specific force (gravity) over the drive: the device is
   fixed in the car, and the car's own accelerations average out over a drive (a mean push of
   0.2 m/s² tilts the estimate by about 1°).
2. **Yaw rate** is the gyroscope projected on up (positive = turning left).
3. **Forward** is the horizontal direction ψ that best explains the horizontal acceleration:
   the longitudinal component should follow dv/dt of a reference speed (GPS) and the lateral
   component should follow v·ω (centripetal acceleration, positive to the left when turning
   left). Both are linear in (cos ψ, sin ψ), so the best ψ has a closed form:
   maximise Σ a_long·dv/dt + Σ a_lat·v·ω  ⇒  ψ = atan2(Σ h₂L − Σ h₁C, Σ h₁L + Σ h₂C)
   with h₁, h₂ the horizontal components, L = dv/dt and C = v·ω. Without a speed reference
   the yaw term alone (C = ω, since v > 0) still fixes ψ, given some turns.

A configured mounting rotation skips all of this. An Earth-frame IMU (axes fixed to the
ground, as the driverBehaviorDataset logs) has no fixed forward axis: it turns with the car,
and the rules then run *heading-free* (see ``harsh.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy.signal import lfilter

from saferoad.domain.types import FloatArray


@dataclass(frozen=True, slots=True)
class VehicleFrame:
    """``rotation`` maps device axes to vehicle axes: ``v = R @ d``; ``None`` when the
    forward axis cannot be fixed (heading-free). ``method`` says how it was found;
    ``quality`` in [0, 1] how clearly the data decided it."""

    rotation: FloatArray | None
    up: FloatArray
    method: str
    quality: float
    angle_se_deg: float | None = None
    """Standard error (°) of the estimated forward direction: a delete-one-block jackknife
    over ``JACKKNIFE_BLOCKS`` stretches of the drive; None when configured or not estimated."""

    @property
    def poor(self) -> bool:
        """Is the forward axis too uncertain to trust a push's size along it? (docs/events.md:
        a 95% interval wider than ±``POOR_AXIS_DEG``)."""
        return self.angle_se_deg is not None and 2.0 * self.angle_se_deg > POOR_AXIS_DEG


JACKKNIFE_BLOCKS = 10
POOR_AXIS_DEG = 18.0
"""An axis off by 18° reads a push 5% small (cos 18° = 0.95: 0.02 g at the 0.38 g harsh
threshold, the bands' tolerance) and leaks 31% of it into the lateral axis."""


def project(x: FloatArray, v: FloatArray) -> FloatArray:
    """``x @ v`` for (N, 3) x without BLAS: multi-threaded BLAS on tall, thin arrays costs
    more in thread start-up than it saves, and stalls when the cores are busy."""
    out: FloatArray = x[:, 0] * v[0] + x[:, 1] * v[1] + x[:, 2] * v[2]
    return out


def _dot(a: FloatArray, b: FloatArray) -> float:
    return float(np.sum(a * b))


def estimate_up(acc: FloatArray) -> FloatArray:
    m = acc.mean(axis=0)
    n = float(np.linalg.norm(m))
    if n < 1e-6:
        raise ValueError("cannot find gravity: mean acceleration is zero")
    up: FloatArray = m / n
    return up


def horizontal_basis(up: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Two unit vectors e1, e2 with e1 × e2 = up."""
    ref = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = ref - up * float(ref @ up)
    e1 = e1 / np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    return e1, e2


def _rotation(up: FloatArray, e1: FloatArray, e2: FloatArray, psi: float) -> FloatArray:
    f = np.cos(psi) * e1 + np.sin(psi) * e2
    left = np.cross(up, f)
    rot: FloatArray = np.vstack([f, left, up])
    return rot


def estimate_frame(
    acc: FloatArray,
    gyro: FloatArray | None,
    hz: float,
    speed: FloatArray | None = None,
) -> VehicleFrame:
    """Estimate the vehicle frame from uniformly sampled, low-passed ``acc`` (N, 3, with
    gravity), ``gyro`` (N, 3) and a reference ``speed`` (N,) on the same grid, if any."""
    up = estimate_up(acc)
    e1, e2 = horizontal_basis(up)
    h1, h2 = project(acc, e1), project(acc, e2)
    h1 = h1 - h1.mean()
    h2 = h2 - h2.mean()
    L = np.zeros_like(h1)
    C = np.zeros_like(h1)
    parts = []
    if speed is not None and np.isfinite(speed).sum() > 10:
        v = np.nan_to_num(speed, nan=0.0)
        L = np.gradient(v) * hz
        parts.append("speed")
    if gyro is not None:
        w = project(gyro, up)
        C = w * (np.nan_to_num(speed, nan=0.0) if speed is not None else 1.0)
        parts.append("yaw")
    if not parts:
        return VehicleFrame(None, up, "gravity-only", 0.0)
    psi, quality = fit_heading_offset(h1, h2, L, C)
    se = heading_offset_se_deg(h1, h2, L, C)
    return VehicleFrame(_rotation(up, e1, e2, psi), up, "+".join(parts), quality, se)


def heading_offset_se_deg(
    h1: FloatArray, h2: FloatArray, L: FloatArray, C: FloatArray, blocks: int = JACKKNIFE_BLOCKS
) -> float:
    """Jackknife standard error (°) of :func:`fit_heading_offset`'s angle: the sums it
    maximises are additive over time, so leaving out one of ``blocks`` contiguous stretches at a
    time costs one subtraction each. Blocks of minutes keep the correlated samples together."""
    n = h1.shape[0]
    if n < blocks * 2:
        return float("nan")
    edges = np.linspace(0, n, blocks + 1).astype(np.int64)[:-1]
    c = np.add.reduceat(h1 * L + h2 * C, edges)
    s = np.add.reduceat(h2 * L - h1 * C, edges)
    loo = np.arctan2(s.sum() - s, c.sum() - c)
    mean = float(np.angle(np.exp(1j * loo).mean()))
    dev = np.angle(np.exp(1j * (loo - mean)))
    return float(np.degrees(np.sqrt((blocks - 1) / blocks * float((dev**2).sum()))))


def fit_heading_offset(
    h1: FloatArray, h2: FloatArray, L: FloatArray, C: FloatArray
) -> tuple[float, float]:
    """The angle ψ (from axis 1 towards axis 2) of the forward direction that maximises
    Σ a_long·L + Σ a_lat·C, and how clearly the data decide it (0..1)."""
    s_cos = _dot(h1, L) + _dot(h2, C)
    s_sin = _dot(h2, L) - _dot(h1, C)
    strength = float(np.hypot(s_cos, s_sin))
    # The best score against the largest any unit direction could reach.
    ref_norm = float(np.sqrt((_dot(L, L) + _dot(C, C)) * (_dot(h1, h1) + _dot(h2, h2)))) + 1e-12
    return float(np.arctan2(s_sin, s_cos)), min(1.0, strength / ref_norm)


def earth_to_heading(
    horizontal: FloatArray,
    course_deg: FloatArray,
    speed: FloatArray,
    yaw: FloatArray | None,
    hz: float,
    source_tau_s: float | None = None,
) -> tuple[FloatArray, FloatArray, float, float, float]:
    """Longitudinal and lateral acceleration from an Earth-frame horizontal acceleration and
    the GPS course (degrees clockwise from north): the axes are first turned with the course
    (as if x were east and y north), then a constant offset ψ is fitted as above, so any fixed
    orientation of the Earth frame's horizontal axes is absorbed. Returns
    ``(a_long, a_lat, psi, quality, psi's standard error in degrees)``. ``source_tau_s``: the
    source high-passes the horizontal acceleration with this time constant, so the references
    it is compared with are high-passed the same way (like with like)."""
    th = np.radians(90.0 - course_deg)  # heading from the x axis, counter-clockwise
    c, s = np.cos(th), np.sin(th)
    h1 = c * horizontal[:, 0] + s * horizontal[:, 1]
    h2 = -s * horizontal[:, 0] + c * horizontal[:, 1]
    moving = speed > 3.0  # the course is noise when (nearly) standing still
    L = np.where(moving, np.gradient(speed) * hz, 0.0)
    C = np.where(moving, speed * (yaw if yaw is not None else 0.0), 0.0)
    if source_tau_s is not None:
        a = source_tau_s / (source_tau_s + 1.0 / hz)  # as highpass.highpass, without importing it
        L = lfilter([a, -a], [1.0, -a], L)
        C = lfilter([a, -a], [1.0, -a], C)
    psi, quality = fit_heading_offset(h1 - h1.mean(), h2 - h2.mean(), L, C)
    se = heading_offset_se_deg(h1 - h1.mean(), h2 - h2.mean(), L, C)
    a_long = np.cos(psi) * h1 + np.sin(psi) * h2
    a_lat = -np.sin(psi) * h1 + np.cos(psi) * h2
    return a_long, a_lat, psi, quality, se


def frame_from_rotation(rotation: FloatArray) -> VehicleFrame:
    return VehicleFrame(rotation, rotation[2].copy(), "configured", 1.0)



def _procrustes(m: FloatArray) -> FloatArray:
    """The 2x3 matrix with orthonormal rows nearest to ``m`` (orthogonal Procrustes)."""
    u, _, vt = np.linalg.svd(m, full_matrices=False)
    out: FloatArray = np.asarray(u @ vt, dtype=np.float64)
    return out


def frame_from_references(
    acc: FloatArray, L: FloatArray, C: FloatArray, blocks: int = JACKKNIFE_BLOCKS
) -> VehicleFrame:
    """The vehicle frame of a device-frame accelerometer **without gravity** (a phone's
    linear acceleration), where gravity cannot give *up*: forward and left are the two
    orthonormal device directions along which the acceleration best follows the longitudinal
    reference ``L`` (dv/dt of the GPS speed) and the lateral one ``C`` (v·ω, ω from the GPS
    course), jointly — an orthogonal Procrustes fit, ``argmin Σ ||P a - (L, C)||²`` over 2x3
    ``P`` with orthonormal rows, from the SVD of ``(L, C)ᵀ a``; up = forward × left. (Separate
    least squares per axis fail: at manoeuvre frequencies the vertical axis holds only noise,
    and its coefficient is anything.) ``acc`` and the references must share a bandwidth (and a
    source's high-pass, if any). ``angle_se_deg``: jackknife over ``blocks`` stretches of the
    forward axis's direction (the sums are additive, one SVD per block)."""
    y = np.column_stack([L, C])
    m = y.T @ acc
    if not np.isfinite(m).all() or float(np.abs(m).sum()) <= 0:
        raise ValueError("a device-frame IMU without gravity: its axes do not follow the GPS speed at all")
    p = _procrustes(m)
    fwd, left = p[0], p[1]
    up = np.cross(fwd, left)
    rot: FloatArray = np.vstack([fwd, left, up])
    pred = acc @ fwd
    quality = float(np.corrcoef(pred, L)[0, 1]) if np.std(L) > 0 and np.std(pred) > 0 else 0.0
    n = acc.shape[0]
    se = float("nan")
    if n >= 2 * blocks:
        edges = np.linspace(0, n, blocks + 1).astype(np.int64)
        parts = [y[a:b].T @ acc[a:b] for a, b in pairwise(edges.tolist())]
        dev = np.array([np.arccos(np.clip(float(_procrustes(m - mk)[0] @ fwd), -1.0, 1.0)) for mk in parts])
        se = float(np.degrees(np.sqrt((blocks - 1) / blocks * float((dev**2).sum()))))
    return VehicleFrame(rot, up, "gps-regression", max(0.0, quality), se)
