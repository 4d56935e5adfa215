"""Distances on the Earth's surface from latitude and longitude (NumPy only).

Kept apart from :mod:`saferoad.domain.ego_speed` (which needs ``scipy.signal``) so that the
recording readers and ``saferoad detect``, which import only this, do not load SciPy's
signal package (0.76 s of start-up with bytecode: docs/perception.md, "Whole saferoad detect")."""

from __future__ import annotations

import numpy as np

from saferoad.domain.types import FloatArray

EARTH_RADIUS_M = 6_371_008.8
"""The mean Earth radius (IUGG), metres."""


def haversine_m(lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray) -> FloatArray:
    """Great-circle distance in metres between points given in degrees (element-wise)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: FloatArray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return out
