"""Runs and hysteresis regions of a sampled signal: NumPy only.

Apart from ``signal.py`` (resampling and the Butterworth low-pass, which need SciPy) so that
the harsh-driving rule (``harsh.py``), which the config imports to know the registered motion
rules' keys and specs (``rules/registry.py``), loads without SciPy; ``signal`` re-exports them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from saferoad.domain.types import FloatArray

BoolArray = NDArray[np.bool_]


def runs(mask: BoolArray) -> list[tuple[int, int]]:
    """Half-open index ranges ``[start, end)`` of consecutive True values."""
    if mask.size == 0:
        return []
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


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
