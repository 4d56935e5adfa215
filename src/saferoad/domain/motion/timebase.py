"""Timestamp checks shared by readers and the engine: order, duplicates, gaps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from saferoad.domain.types import FloatArray, IntArray

GAP_FACTOR = 5.0
"""A silence longer than ``GAP_FACTOR`` x the median sample interval is a gap ..."""
GAP_MIN_S = 0.5
"""... and longer than this in any case (:func:`find_gaps`' defaults; the live feeds count
their gaps by the same two, ``adapters/sensors/_feed``)."""


@dataclass(frozen=True, slots=True)
class TimeRepair:
    """What :func:`repair_order` did: ``index`` selects the kept samples in time order."""

    index: IntArray
    n_out_of_order: int
    n_duplicates: int

    @property
    def changed(self) -> bool:
        return bool(self.n_out_of_order or self.n_duplicates)


def repair_order(t: FloatArray) -> TimeRepair:
    """Sort timestamps (stable) and drop repeated ones, keeping the first of each.

    ``n_out_of_order`` counts samples whose timestamp is below the previous one.
    """
    n_back = int(np.count_nonzero(np.diff(t) < 0)) if t.size > 1 else 0
    order = np.argsort(t, kind="stable") if n_back else np.arange(t.size)
    ts = t[order]
    keep = np.ones(ts.size, dtype=bool)
    if ts.size > 1:
        keep[1:] = np.diff(ts) > 0
    n_dup = int(ts.size - np.count_nonzero(keep))
    return TimeRepair(order[keep].astype(np.int64), n_back, n_dup)


def find_gaps(
    t: FloatArray, *, factor: float = GAP_FACTOR, min_gap_s: float = GAP_MIN_S
) -> list[tuple[float, float]]:
    """Intervals ``(t_before, t_after)`` where consecutive samples are further apart than
    ``max(factor x median interval, min_gap_s)``: no rule may decide across them."""
    if t.size < 3:
        return []
    dt = np.diff(t)
    limit = max(factor * float(np.median(dt)), min_gap_s)
    idx = np.flatnonzero(dt > limit)
    return [(float(t[i]), float(t[i + 1])) for i in idx]
