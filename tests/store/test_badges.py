"""Report figures: numbered event badges never overlap on the map or the speed chart (issue 15
item 6), however close the events are."""

from __future__ import annotations

import base64
import datetime as dt
import itertools

import numpy as np
import pytest

from saferoad.adapters.reports.plots import route_map, speed_profile, spread_badges


def _min_gap(xy: np.ndarray) -> float:
    return min(float(np.hypot(*(a - b))) for a, b in itertools.combinations(xy, 2))


@pytest.mark.parametrize("seed", range(5))
def test_clustered_badges_are_spread_apart(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pts = rng.normal(0.0, 5.0, size=(12, 2))  # twelve events within a badge or two
    out = spread_badges(pts, 15.0)
    assert _min_gap(out) >= 15.0 - 1e-6
    up = spread_badges(np.column_stack([pts[:, 0], np.zeros(12)]), 15.0, upward=True)
    assert _min_gap(up) >= 15.0 - 1e-6
    assert np.allclose(up[:, 0], pts[:, 0])  # a time axis keeps each badge at its time


def test_badges_far_apart_stay_on_their_events() -> None:
    pts = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]])
    assert np.array_equal(spread_badges(pts, 15.0), pts)


def test_figures_with_events_a_second_apart_render() -> None:
    t = np.arange(0.0, 120.0, 1.0)
    profile = {
        "t_s": list(t),
        "speed_mps": list(12.0 + 2.0 * np.sin(t / 10.0)),
        "lat": list(35.68 + t * 1e-5),
        "lon": list(139.76 + t * 1e-5),
    }
    events = [
        {"n": i + 1, "type": "harsh_braking", "start_s": 50.0 + i, "end_s": 51.0 + i,
         "lat": 35.68 + (50 + i) * 1e-5, "lon": 139.76 + (50 + i) * 1e-5}
        for i in range(4)
    ]  # fmt: skip
    start = dt.datetime(2026, 11, 16, 8, 0)
    for uri in (speed_profile(profile, events, start), route_map(profile, [], events)):
        assert uri.startswith("data:image/") and len(base64.b64decode(uri.split(",", 1)[1])) > 1000
