"""Resampling and zero-phase low-pass filtering (vectorised); the run and hysteresis region
finding is ``regions.py``'s (re-exported here)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfiltfilt

# re-exported: they moved to a module without SciPy (the harsh rule loads with the config)
from saferoad.domain.motion.regions import BoolArray as BoolArray
from saferoad.domain.motion.regions import hysteresis_regions as hysteresis_regions
from saferoad.domain.motion.regions import runs as runs
from saferoad.domain.motion.timebase import find_gaps
from saferoad.domain.types import FloatArray


@dataclass(frozen=True, slots=True)
class Uniform:
    """Samples on a uniform grid. ``valid`` is False for grid points inside a gap of the
    source timestamps (their values are interpolated and must not decide anything)."""

    t_s: FloatArray
    values: FloatArray
    valid: BoolArray
    hz: float


def resample(
    t: FloatArray, values: FloatArray, hz: float, gaps: list[tuple[float, float]] | None = None
) -> Uniform:
    """Linear interpolation of ``values`` (N,) or (N, K) onto a grid at ``hz`` from t[0]."""
    if t.size < 2:
        raise ValueError("need at least two samples to resample")
    n = int(np.floor((t[-1] - t[0]) * hz)) + 1
    grid = t[0] + np.arange(n, dtype=np.float64) / hz
    v2 = values.reshape(values.shape[0], -1)
    out = np.empty((n, v2.shape[1]), dtype=np.float64)
    for k in range(v2.shape[1]):
        out[:, k] = np.interp(grid, t, v2[:, k])
    valid = np.ones(n, dtype=bool)
    for a, b in find_gaps(t) if gaps is None else gaps:
        valid[(grid > a) & (grid < b)] = False
    res = out if values.ndim > 1 else out[:, 0]
    return Uniform(grid, res, valid, hz)


def lowpass(x: FloatArray, cutoff_hz: float, hz: float, valid: BoolArray | None = None) -> FloatArray:
    """Second-order Butterworth, forward and backward (no phase lag), filtered separately on
    each stretch between gaps so that a gap never smears into its neighbours."""
    if cutoff_hz >= hz / 2:
        return x.copy()
    sos = butter(2, cutoff_hz, fs=hz, output="sos")
    out = x.copy()
    spans = runs(valid) if valid is not None else [(0, x.shape[0])]
    for a, b in spans:
        if b - a > 15:
            out[a:b] = sosfiltfilt(sos, x[a:b], axis=0)
    return out
