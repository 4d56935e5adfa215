"""Undoing a source's first-order high-pass on the horizontal acceleration.

Some phone logs (the driverBehaviorDataset among them) remove gravity with an orientation
filter that slowly follows the accelerometer: a sustained push is taken for a tilt, so the
horizontal acceleration they record behaves like ``y = HP_τ(x)``, a first-order high-pass
``H(s) = τs / (τs + 1)``. A push then fades within about τ and ends in an opposite pulse, and a
harsh acceleration (a long, moderate push) peaks far below its true value.

The reader says so (``ImuSeries.horizontal_highpass_tau_s``, a documented prior); the engine
then (steps 3 and 4 only with ``motion.undo_source_highpass``, off by default: measured on
trips 17 and 20 the inverse amplifies the model's residual errors to 0.3–0.4 g, as large as
the thresholds, and the events get worse; docs/events.md)

1. turns the Earth-frame horizontal acceleration into a *yaw-locked* frame (rotated back by
   the integrated yaw rate), where the car's axes stay put: the orientation filter runs in the
   phone's frame, which is fixed to the car, so that is where the high-pass acts;
2. **estimates τ from the recording itself**: the gyroscope is not high-passed, and in a turn the
   lateral acceleration is v·ω, so over each turn the horizontal acceleration must follow
   ``HP_τ(ω)`` times a constant; τ is the value that explains the turns best (the prior is kept
   when the recording has too few turns);
3. inverts the filter: ``x = y + (1/τ) ∫ y dt``, integrated with a leak (time constant
   ``leak_s``, much longer than τ and than any manoeuvre) so that noise cannot drift without
   bound, after removing the sensor bias (a high-passed signal has no lasting mean, so its
   ``bias_window_s`` moving average is bias);
4. turns the result back into the Earth frame, so the rules downstream are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.optimize import minimize_scalar
from scipy.signal import lfilter

from saferoad.domain.motion.signal import BoolArray, runs
from saferoad.domain.types import FloatArray

TAU_BOUNDS_S = (0.2, 5.0)
"""The range searched for τ (s); above 5 s a push of a few seconds is barely affected."""


@dataclass(frozen=True, slots=True)
class HighpassFit:
    tau_s: float
    """The time constant used."""
    estimated: bool
    """True when τ came from the recording's turns, False when the reader's prior was kept."""
    turns: int
    """How many turns the estimate rests on."""
    explained: float
    """Share of the turns' horizontal acceleration variance that ``HP_τ(ω)`` explains."""
    explained_unfiltered: float
    """The same share without any high-pass (τ = ∞), for comparison."""


def highpass(x: FloatArray, tau_s: float, hz: float) -> FloatArray:
    """A first-order (RC) high-pass along axis 0, as a sensor's sample-by-sample filter applies it."""
    a = tau_s / (tau_s + 1.0 / hz)
    out: FloatArray = lfilter([a, -a], [1.0, -a], x, axis=0)
    return out


def inverse_highpass(y: FloatArray, tau_s: float, hz: float, leak_s: float) -> FloatArray:
    """``y + (1/τ) ∫ y dt`` along axis 0 with a leaky integral (time constant ``leak_s``)."""
    a = float(np.exp(-1.0 / (hz * leak_s)))
    integral: FloatArray = lfilter([1.0 / hz], [1.0, -a], y, axis=0)
    out: FloatArray = y + integral / tau_s
    return out


def _yaw_angle(yaw_rate: FloatArray, valid: BoolArray, hz: float) -> FloatArray:
    w = np.where(valid, yaw_rate, 0.0)
    w = w - float(np.median(w))  # gyro bias: the car mostly drives straight
    angle: FloatArray = np.cumsum(w) / hz
    return angle


def turn_back(h: FloatArray, angle: FloatArray) -> FloatArray:
    """Each row of ``h`` (N, 2) turned by ``-angle`` (N,): into the yaw-locked frame when
    ``angle`` is the integrated yaw; ``turn_back(h, -angle)`` turns it out again."""
    c, s = np.cos(angle), np.sin(angle)
    return np.column_stack([c * h[:, 0] + s * h[:, 1], -s * h[:, 0] + c * h[:, 1]])


def turn_windows(yaw_rate: FloatArray, valid: BoolArray, hz: float, turn_rate_dps: float) -> list[tuple[int, int]]:
    """Turns held at least 0.5 s above ``turn_rate_dps``, with 3 s either side, fully valid."""
    strong = (np.abs(yaw_rate) >= np.radians(turn_rate_dps)) & valid
    pad = round(3.0 * hz)
    out: list[tuple[int, int]] = []
    for a, b in runs(strong):
        lo, hi = max(0, a - pad), min(yaw_rate.shape[0], b + pad)
        if b - a >= round(0.5 * hz) and valid[lo:hi].all():
            out.append((lo, hi))
    return out


def estimate_tau(
    h_locked: FloatArray,
    yaw_rate: FloatArray,
    valid: BoolArray,
    hz: float,
    prior_s: float,
    turn_rate_dps: float = 10.0,
    min_turns: int = 4,
) -> HighpassFit:
    """Fit τ so that each turn's yaw-locked horizontal acceleration is a constant vector times
    ``HP_τ(ω)`` (lateral acceleration = v·ω at a roughly steady speed)."""
    wins = turn_windows(yaw_rate, valid, hz, turn_rate_dps)
    if len(wins) < min_turns:
        return HighpassFit(prior_s, False, len(wins), float("nan"), float("nan"))
    lead = round(5.0 * max(TAU_BOUNDS_S[1], prior_s) * hz)  # let the filter settle first

    def explained(tau: float | None) -> float:
        resid = total = 0.0
        for lo, hi in wins:
            s = max(0, lo - lead)
            x = yaw_rate[s:hi] if tau is None else highpass(yaw_rate[s:hi], tau, hz)
            x = x[lo - s :] - x[lo - s :].mean()
            y = h_locked[lo:hi] - h_locked[lo:hi].mean(axis=0)
            xx = float(x @ x)
            if xx <= 0:
                continue
            coef = (x @ y) / xx
            resid += float(((y - np.outer(x, coef)) ** 2).sum())
            total += float((y**2).sum())
        return 1.0 - resid / total if total > 0 else float("nan")

    lo_s, hi_s = TAU_BOUNDS_S
    best = minimize_scalar(lambda tau: -explained(float(tau)), bounds=(lo_s, hi_s), method="bounded", options={"xatol": 0.01})
    tau = round(float(best.x), 2)
    return HighpassFit(tau, True, len(wins), explained(tau), explained(None))


def source_highpass(
    horizontal: FloatArray,
    yaw_rate: FloatArray | None,
    valid: BoolArray,
    hz: float,
    prior_tau_s: float,
    undo: bool,
    leak_s: float = 10.0,
    bias_window_s: float = 30.0,
) -> tuple[FloatArray, HighpassFit]:
    """The source's high-pass fitted (τ from the turns, else the prior) and, with ``undo``, the
    Earth-frame horizontal acceleration (N, 2) before it; without ``undo`` ``horizontal`` is
    returned as it is.

    Without a gyroscope the yaw-locked frame is unknown: τ stays the prior and the inverse runs
    in the Earth frame (exact on straight roads, where pushes and brakings happen)."""
    if yaw_rate is None:
        angle = np.zeros(horizontal.shape[0])
        locked = horizontal
        fit = HighpassFit(prior_tau_s, False, 0, float("nan"), float("nan"))
    else:
        angle = _yaw_angle(yaw_rate, valid, hz)
        locked = turn_back(horizontal, angle)
        fit = estimate_tau(locked, yaw_rate, valid, hz, prior_tau_s)
    if not undo:
        return horizontal, fit
    # Sensor bias: what a high-passed signal keeps over a long window is not acceleration.
    size = max(3, round(bias_window_s * hz) | 1)
    bias = uniform_filter1d(locked, size=size, axis=0, mode="nearest")
    y = np.where(valid[:, None], locked - bias, 0.0)
    out = np.zeros_like(y)
    for a, b in runs(valid):
        out[a:b] = inverse_highpass(y[a:b], fit.tau_s, hz, leak_s)
    return turn_back(out, -angle), fit
