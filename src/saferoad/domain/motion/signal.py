"""Resampling, zero-phase low-pass filtering and hysteresis region finding (vectorised)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfiltfilt

from saferoad.domain.motion.timebase import find_gaps
from saferoad.domain.types import FloatArray

BoolArray = NDArray[np.bool_]


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


def runs(mask: BoolArray) -> list[tuple[int, int]]:
    """Half-open index ranges ``[start, end)`` of consecutive True values."""
    if mask.size == 0:
        return []
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


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


def hysteresis_regions(
    x: FloatArray, on: float, off: float, t: FloatArray, min_duration_s: float, valid: BoolArray
) -> list[tuple[int, int]]:
    """Regions where ``x`` rises to ``on`` and stays above ``off`` (hysteresis), holding
    ``on`` for at least ``min_duration_s``; a region never spans an invalid sample."""
    above_off = (x >= off) & valid
    above_on = (x >= on) & valid
    dt = float(t[1] - t[0]) if t.size > 1 else 1.0
    out: list[tuple[int, int]] = []
    for a, b in runs(above_off):
        held = int(np.count_nonzero(above_on[a:b])) * dt
        if held >= min_duration_s and held > 0:
            out.append((a, b))
    return out
