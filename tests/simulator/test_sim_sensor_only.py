"""The sensor-only simulation path does no camera work that nothing writes, and what it writes
is what the full path writes: the same views for the labels, the same files byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from saferoad.adapters.simulation.writer import detections_document
from saferoad.domain.simulation import SCENARIOS
from saferoad.domain.simulation.camera import (
    _clipped_boxes,
    ego_poses,
    frame_times,
    object_views,
    to_camera,
)
from saferoad.domain.simulation.truth import camera_views
from saferoad.entrypoints.cli.app import app
from saferoad.entrypoints.wiring import simulate, simulate_fleet_week

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
        assert v.cls == ref.cls and v.attributes == [] and v.corners is None
        np.testing.assert_array_equal(v.visible, ref.visible)
        np.testing.assert_array_equal(v.xyxy, ref.xyxy)
        seen = ref.visible > 0  # the labels read the distance where the object is listed
        np.testing.assert_array_equal(v.distance_m[seen], ref.distance_m[seen])
        # computed only near the camera: NaN where the object is far beyond range or behind
        far = ~np.isfinite(v.distance_m)
        assert not (far & seen).any()
        if scenario == "mixed_drive":
            assert far.mean() > 0.3


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    ("scenario", "sets", "video"),
    [
        ("mixed_drive", MIXED, False),
        ("red_light", [], False),
        ("pedestrian_crossing", [], False),
        ("drowsy", [], False),
        ("stop_sign", ["duration_s=12"], True),  # the rendering path writes the same sensor files
    ],
)
def test_sensor_only_files_are_the_full_paths_byte_for_byte(
    tmp_path: Path, scenario: str, sets: list[str], video: bool
) -> None:
    full = simulate(scenario, tmp_path / "full", assignments=sets, seed=5, video=video)
    lean = simulate(scenario, tmp_path / "lean", assignments=sets, seed=5, video=False, detections=False)
    want, got = _files(tmp_path / "full"), _files(tmp_path / "lean")
    assert set(want) - set(got) == {"detections.json"} | ({"video.mp4"} if video else set())
    assert set(got) <= set(want) and {"imu.csv", "gps.csv", "labels.jsonl", "meta.toml"} <= set(got)
    for name, data in got.items():
        assert data == want[name], name
    assert sorted(lean.written.files) == sorted(got) and lean.written.n_frames == 0
    assert lean.written.labels == full.written.labels


def test_sensor_only_fleet_week_writes_the_same_trips(tmp_path: Path) -> None:
    week = {"days": 1, "drivers": 3, "trips_per_day": 1, "segments": 6, "seed": 4}
    simulate_fleet_week(tmp_path / "full", **week)  # type: ignore[arg-type]
    simulate_fleet_week(tmp_path / "lean", detections=False, **week)  # type: ignore[arg-type]
    assert (tmp_path / "full/manifest.yaml").read_bytes() == (tmp_path / "lean/manifest.yaml").read_bytes()
    trips = sorted(p.name for p in (tmp_path / "full").iterdir() if p.is_dir())
    assert len(trips) == 3 and trips == sorted(p.name for p in (tmp_path / "lean").iterdir() if p.is_dir())
    for trip in trips:
        want, got = _files(tmp_path / "full" / trip), _files(tmp_path / "lean" / trip)
        assert set(want) - set(got) == {"detections.json"}
        assert all(got[name] == want[name] for name in got), trip


def test_cli_sensor_only(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["simulate", "harsh_braking", "-o", str(tmp_path / "rec"), "--no-video", "--no-detections"])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "rec/detections.json").exists() and (tmp_path / "rec/imu.csv").is_file()
    assert "detections.json" not in res.output


def _detections_sorting_each_frame(sc, t, views):  # type: ignore[no-untyped-def]
    """detections.json's document as first written: objects gathered per frame, then sorted."""
    per_frame: list[list[dict]] = [[] for _ in range(t.shape[0])]  # type: ignore[type-arg]
    for view in views:
        for f in np.flatnonzero(view.visible):
            obj = {"track_id": view.track_id, "cls": view.cls, "score": 1.0,
                   "xyxy": [round(float(x), 2) for x in view.xyxy[f]],
                   "distance_m": round(float(view.distance_m[f]), 3)}  # fmt: skip
            if view.attributes:
                obj["attributes"] = view.attributes[f]
            per_frame[int(f)].append(obj)
    frames = [
        {"frame": f, "t_s": round(float(t[f]), 4), "objects": sorted(per_frame[f], key=lambda o: o["track_id"])}
        for f in range(t.shape[0])
    ]
    cam = sc.camera
    return {"width": cam.width, "height": cam.height, "fps": cam.fps, "frames": frames}


@pytest.mark.parametrize(("scenario", "sets"), [("demo", []), ("mixed_drive", MIXED), ("red_light", []), ("normal", [])])
def test_detections_document_is_the_sorted_per_frame_document(scenario: str, sets: list[str]) -> None:
    sc = SCENARIOS[scenario].make(sets, seed=2)
    t, views = camera_views(sc)
    views = views[::-1]  # an order other than the tracks' still gives frames in track order
    got = json.dumps(detections_document(sc, t, views), separators=(",", ":"))
    assert got == json.dumps(_detections_sorting_each_frame(sc, t, views), separators=(",", ":"))
    assert any(len(fr["objects"]) for fr in json.loads(got)["frames"])
