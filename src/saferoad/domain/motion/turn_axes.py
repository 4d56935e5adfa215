"""The car's forward axis of an Earth-frame log without GPS, found from its turns.

An Earth-frame IMU's horizontal axes are fixed to the ground, so the car's forward axis turns
with the car. The phone is fixed to the car, though: turned back by the integrated yaw rate
(the *yaw-locked* frame) the car's axes stay put. In a turn the lateral acceleration is v·ω
(left-positive for a left turn, v > 0), so in that frame each turn's horizontal acceleration is
a constant vector times ω — its direction the car's LEFT axis, sign included, its length the
speed. Forward is left turned by -90°. With a source that high-passes the horizontal
acceleration (``highpass.py``) the turns follow ``HP_τ(ω)`` instead.

The integrated yaw drifts with the gyroscope's bias; the bias used is the one under which the
turns agree best on one left axis (searched over ±1.5 °/s, MEMS gyroscopes' usual range). What
drift remains (the turns still scatter by about ±20° on the driverBehaviorDataset) is followed
by reading the axis locally: at each moment the nearby turns' axes, weighted by a Gaussian in
time. That is far too coarse for a vehicle frame (a braking leaks up to half its size into the
lateral axis), but ample for a sign: which way along its own axis a longitudinal pulse points.

A gap in the log breaks the integration: the car may turn any amount while nothing is
recorded, so the locked frame before a gap and the one after it differ by an unknown angle.
Each stretch between gaps is therefore its own frame: turns are only compared (for the bias
and the agreement) with turns of the same stretch, and a stretch with fewer than two turns has
no axis of its own (its pulses are typed by their order, as without turns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from saferoad.domain.motion.highpass import highpass, turn_windows
from saferoad.domain.motion.signal import BoolArray
from saferoad.domain.types import FloatArray, IntArray

BIAS_RANGE_DPS = 1.5
"""Gyroscope bias searched (°/s either way)."""
MIN_TURNS_PER_STRETCH = 2
"""Turns a stretch between gaps needs to have an axis: one turn alone cannot show agreement."""


@dataclass(frozen=True, slots=True)
class TurnAxes:
    """Per-turn left axes in the yaw-locked frame and how to read forward at any sample."""

    angle: FloatArray
    """Yaw-locked frame angle (rad) per sample: Earth frame = the locked frame turned by it."""
    centres: FloatArray
    """Sample index of each turn's centre."""
    left: FloatArray
    """(turns, 2) left axis × speed of each turn in the yaw-locked frame (m/s)."""
    agreement: float
    """|Σ left| / Σ |left| (summed per stretch between gaps): 1 when every turn gives the same axis."""
    gyro_bias_dps: float
    sigma_samples: float
    stretch: IntArray
    """Per sample: which stretch between gaps it belongs to (each its own locked frame)."""
    turn_stretch: IntArray
    """Per turn: its stretch."""
    highpassed: bool = True
    """Is the acceleration these axes sign high-passed (a push = onset pulse + opposite
    release pulse)? When not, a pulse points the way its push goes."""

    @property
    def turns(self) -> int:
        return int(self.centres.shape[0])

    def locked_forward(self, idx: IntArray) -> FloatArray:
        """(n, 2): the car's forward unit vector at samples ``idx`` in the yaw-locked frame,
        from the turns of each sample's own stretch between gaps (Gaussian in time; far from
        every turn, the nearest one); NaN rows where that stretch has no axis."""
        idx = np.asarray(idx, dtype=np.int64)
        d = idx[:, None] - self.centres[None, :]
        mine = self.turn_stretch[None, :] == self.stretch[idx][:, None]
        w = np.where(mine, np.exp(-0.5 * (d / self.sigma_samples) ** 2), 0.0)
        far = w.sum(axis=1) < 1e-6
        if far.any():
            dist = np.where(mine[far], np.abs(d[far]), np.inf)
            w[far] = (dist == dist.min(axis=1, keepdims=True)) & np.isfinite(dist)
        left = w @ self.left
        norm = np.hypot(left[:, 0], left[:, 1])
        left = left / np.where(norm > 0, norm, np.nan)[:, None]
        out: FloatArray = np.column_stack([left[:, 1], -left[:, 0]])  # left turned by -90°
        return out

    def forward(self, i: int) -> FloatArray | None:
        """The car's forward unit vector at sample ``i``, in the Earth frame; None when the
        sample's stretch between gaps has no axis."""
        fx, fy = self.locked_forward(np.array([i]))[0]
        if not np.isfinite(fx):
            return None
        c, s = np.cos(self.angle[i]), np.sin(self.angle[i])
        out: FloatArray = np.array([c * fx - s * fy, s * fx + c * fy])
        return out


def turn_axes(
    horizontal: FloatArray,
    yaw_rate: FloatArray,
    valid: BoolArray,
    hz: float,
    tau_s: float | None,
    turn_rate_dps: float = 10.0,
    min_turns: int = 4,
    min_agreement: float = 0.8,
    sigma_s: float = 60.0,
) -> TurnAxes | None:
    """The left axis from the turns of an Earth-frame horizontal acceleration (N, 2), or None
    with fewer than ``min_turns`` turns or turns that do not agree (``min_agreement``).

    ``tau_s``: the source's horizontal high-pass, None when the signal is not high-passed."""
    # stretches between gaps: a new one starts at the first valid sample after invalid ones
    stretch: IntArray = np.cumsum(np.concatenate([[False], valid[1:] & ~valid[:-1]])).astype(np.int64)
    wins = turn_windows(yaw_rate, valid, hz, turn_rate_dps)
    of_turn = stretch[[lo for lo, _ in wins]]
    turns_in = np.bincount(of_turn, minlength=int(stretch[-1]) + 1)
    keep = turns_in[of_turn] >= MIN_TURNS_PER_STRETCH  # a lone turn in its stretch shows no agreement
    wins = [w for w, k in zip(wins, keep, strict=True) if k]
    if len(wins) < min_turns:
        return None
    turn_stretch: IntArray = of_turn[keep]
    w = np.where(valid, yaw_rate, 0.0)
    base = np.cumsum(w) / hz
    clock = np.cumsum(valid.astype(np.float64)) / hz  # the bias acts only while valid
    x = w if tau_s is None else highpass(w, tau_s, hz)
    idx = np.concatenate([np.arange(lo, hi) for lo, hi in wins])
    starts = np.cumsum([0] + [hi - lo for lo, hi in wins[:-1]])
    # Each turn's regressor, zero-mean, so that Σ x·(y - ȳ) = Σ x·y. As complex numbers
    # (x + iy), turning a vector by -θ is a product with e^(-iθ), and a bias b adds b·clock
    # to θ: the per-turn coefficients for any b are one product and one sum per turn.
    xs = np.concatenate([x[lo:hi] - x[lo:hi].mean() for lo, hi in wins])
    xx = np.add.reduceat(xs * xs, starts)
    if (xx <= 0).any():
        return None
    zx = xs * (horizontal[idx, 0] + 1j * horizontal[idx, 1]) * np.exp(-1j * base[idx])
    cb = clock[idx]

    def per_turn(bias: float) -> FloatArray:
        c = np.add.reduceat(zx * np.exp(1j * bias * cb), starts) / xx
        out: FloatArray = np.column_stack([c.real, c.imag])
        return out

    def agreement(cs: FloatArray) -> float:
        """|Σ left| / Σ |left| with the sums taken per stretch (their frames differ)."""
        total = float(np.hypot(cs[:, 0], cs[:, 1]).sum())
        sx = np.bincount(turn_stretch, weights=cs[:, 0])
        sy = np.bincount(turn_stretch, weights=cs[:, 1])
        return float(np.hypot(sx, sy).sum()) / total if total > 0 else 0.0

    # A coarse grid (agreement can have several local maxima), then refined around the best.
    coarse = np.radians(np.linspace(-BIAS_RANGE_DPS, BIAS_RANGE_DPS, 31))
    scores = [agreement(per_turn(float(b))) for b in coarse]
    k = int(np.argmax(scores))
    step = float(coarse[1] - coarse[0])
    fine = minimize_scalar(
        lambda b: -agreement(per_turn(float(b))),
        bounds=(float(coarse[k]) - step, float(coarse[k]) + step),
        method="bounded",
        options={"xatol": np.radians(0.005)},
    )
    bias, score = (float(fine.x), -float(fine.fun)) if -float(fine.fun) > scores[k] else (float(coarse[k]), scores[k])
    if score < min_agreement:
        return None
    cs = per_turn(bias)
    return TurnAxes(
        angle=base - bias * clock,
        centres=np.array([(lo + hi - 1) / 2 for lo, hi in wins], dtype=np.float64),
        left=cs,
        agreement=score,
        gyro_bias_dps=float(np.degrees(bias)),
        sigma_samples=sigma_s * hz,
        stretch=stretch,
        turn_stretch=turn_stretch,
        highpassed=tau_s is not None,
    )
