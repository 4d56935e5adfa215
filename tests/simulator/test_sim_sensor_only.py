"""The sensor-only simulation path does no camera work that nothing writes, and what it writes
is what the full path writes: the same views for the labels, the same files byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from saferoad.domain.simulation import SCENARIOS
from saferoad.domain.simulation.camera import (
    _clipped_boxes,
    ego_poses,
    frame_times,
    object_views,
    to_camera,
)

# One mixed drive has vehicles (followed leads), stop signs, curves and lane changes over
# several kilometres: most frames see each object from beyond the camera's range.
MIXED = ["segments=12", "plan_seed=7"]


def _all_frame_view(sc, t, corners, distance):  # type: ignore[no-untyped-def]
    """The listed boxes computed over every frame, as the camera model defines them."""
    cam = sc.camera
    xc, yc, zc, _ = to_camera(cam, ego_poses(sc, t), *corners)
    xyxy, any_front = _clipped_boxes(cam, xc, yc, zc)
    w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
    visible = (any_front > 0) & (w >= cam.min_box_px) & (h >= cam.min_box_px) & (distance > 0)
    visible &= distance <= cam.max_range_m
    return np.where(visible[:, None], xyxy, np.nan), visible.astype(np.int64)


@pytest.mark.parametrize(("scenario", "sets"), [("mixed_drive", MIXED), ("red_light", []), ("pedestrian_crossing", [])])
def test_boxes_computed_only_in_range_are_those_of_every_frame(scenario: str, sets: list[str]) -> None:
    sc = SCENARIOS[scenario].make(sets, seed=2)
    t = frame_times(sc.duration_s, sc.camera.fps)
    views = object_views(sc, t)
    assert views and any(v.visible.any() for v in views)
    for v in views:
        assert v.corners is not None
        xyxy, visible = _all_frame_view(sc, t, v.corners, v.distance_m)
        np.testing.assert_array_equal(v.visible, visible)
        np.testing.assert_array_equal(v.xyxy, xyxy)  # NaN where not listed, on both sides


@pytest.mark.parametrize(("scenario", "sets"), [("mixed_drive", MIXED), ("red_light", []), ("pedestrian_crossing", [])])
def test_label_views_are_the_full_views_of_what_the_labels_read(scenario: str, sets: list[str]) -> None:
    sc = SCENARIOS[scenario].make(sets, seed=2)
    t = frame_times(sc.duration_s, sc.camera.fps)
    full = {v.track_id: v for v in object_views(sc, t)}
    lean = object_views(sc, t, for_labels=True)
    read = {o.track_id for o in [*sc.vehicles, *sc.stop_signs, *sc.lights]}
    assert {v.track_id for v in lean} == read
    for v in lean:
        ref = full[v.track_id]
        assert v.cls == ref.cls and v.attributes == []
        np.testing.assert_array_equal(v.visible, ref.visible)
        np.testing.assert_array_equal(v.distance_m, ref.distance_m)
        np.testing.assert_array_equal(v.xyxy, ref.xyxy)
