"""The simulator's physics and ground truth: kinematics, camera geometry, definitions
applied with the configured thresholds, and determinism for a seed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from saferoad.application.simulate import definitions_from_config
from saferoad.config import load_config
from saferoad.domain.geometry import CameraModel
from saferoad.domain.simulation import SCENARIOS, Definitions, ground_truth
from saferoad.domain.simulation.camera import (
    ego_poses,
    frame_times,
    object_views,
    project,
    to_camera,
)
from saferoad.domain.simulation.kinematics import LaneChange, lane_offset, speed_profile, time_grid
from saferoad.domain.simulation.model import rotation_from_euler
from saferoad.domain.simulation.sensors import simulate_imu
from saferoad.domain.simulation.truth import threshold_intervals
from saferoad.domain.types import CameraIntrinsics, CameraMount, G
from saferoad.entrypoints.wiring import simulate


def _types(labels: list) -> list[tuple[str, str | None]]:
    return [(lb.type, lb.direction.value if lb.direction else None) for lb in labels if lb.type != "normal"]


def test_speed_profile_reaches_keyframes_with_the_set_acceleration() -> None:
    t = time_grid(30.0, 0.01)
    v = speed_profile(t, [(0.0, 20.0), (10.0, 20.0), (12.0, 10.0)], ramp_s=0.4)
    a = np.gradient(v, t)
    assert v[0] == pytest.approx(20.0) and v[-1] == pytest.approx(10.0)
    assert a.min() == pytest.approx(-5.0, abs=0.05)
    # the ramp is centred on the keyframe: the deceleration starts 0.2 s before it
    start = t[np.flatnonzero(a < -0.01)[0]]
    assert start == pytest.approx(9.8, abs=0.02)


def test_lane_change_moves_one_lane_with_sine_lateral_acceleration() -> None:
    t = time_grid(10.0, 0.01)
    d, d1, d2 = lane_offset(t, [LaneChange(2.0, 4.0, -1)], 3.5)
    assert d[0] == 0.0 and d[-1] == pytest.approx(-3.5)
    peak = 2 * math.pi * 3.5 / 16.0
    assert d2.min() == pytest.approx(-peak, rel=1e-3) and d2.max() == pytest.approx(peak, rel=1e-3)
    assert np.allclose(np.gradient(d, t), d1, atol=2e-3)


def test_imu_is_rotated_into_the_device_frame() -> None:
    sc = SCENARIOS["harsh_braking"].make(["imu.yaw_deg=90", "imu.acc_noise_mps2=0", "imu.acc_bias_mps2=0"])
    imu = simulate_imu(sc, sc.imu, np.random.default_rng(0))
    r = rotation_from_euler(0, 0, 90)
    vehicle = imu.acc @ r.T  # v = R d
    i = int(np.argmin(vehicle[:, 0]))
    assert vehicle[i, 0] == pytest.approx(-0.5 * G, rel=0.02)
    assert np.allclose(vehicle[:, 2], G)
    # device y is the vehicle's forward axis for a 90° yaw: braking shows on -ay... mapped by R
    assert abs(imu.acc[i, 1]) == pytest.approx(0.5 * G, rel=0.02)


def test_projection_agrees_with_the_perception_camera_model() -> None:
    sc = SCENARIOS["tailgating"].make([])
    cam = sc.camera
    t = np.array([0.0, 20.0])
    poses = ego_poses(sc, t)
    fwd = np.array([10.0, 25.0, 60.0])
    left = np.array([-1.5, 0.0, 2.0])
    up = np.array([0.0, 1.5, 0.3])
    h = poses.heading[:, None]
    wx = poses.x[:, None] + fwd * np.cos(h) - left * np.sin(h)
    wy = poses.y[:, None] + fwd * np.sin(h) + left * np.cos(h)
    xc, yc, zc, f = to_camera(cam, poses, wx, wy, np.broadcast_to(up, wx.shape))
    u, v = project(cam, xc, yc, zc)
    model = CameraModel(
        CameraIntrinsics.from_fov(cam.width, cam.height, cam.hfov_deg),
        CameraMount(height_m=cam.height_m, pitch_deg=cam.pitch_deg),
    )
    ref = model.project(np.column_stack([fwd, left, up]))
    for k in range(2):
        assert np.allclose(np.column_stack([u[k], v[k]]), ref, atol=1e-6)
        assert np.allclose(f[k], fwd)


def test_lead_distance_is_the_bumper_gap() -> None:
    sc = SCENARIOS["tailgating"].make([])
    t = frame_times(sc.duration_s, sc.camera.fps)
    lead = next(v for v in object_views(sc, t) if v.cls == "vehicle")
    gap = np.interp(t, sc.t, sc.vehicles[0].s - sc.ego.s)
    seen = lead.visible > 0
    assert seen.mean() > 0.9
    assert np.allclose(lead.distance_m[seen], gap[seen], atol=0.05)


def test_threshold_intervals_hysteresis_min_duration_and_merge() -> None:
    t = np.arange(0, 10, 0.01)
    x = np.zeros_like(t)
    x[(t >= 1.0) & (t < 1.05)] = 1.0  # too short
    x[(t >= 3.0) & (t < 4.0)] = 1.0
    x[(t >= 4.0) & (t < 4.5)] = 0.9  # above the hysteresis level: still the same event
    x[(t >= 5.0) & (t < 6.0)] = 1.0  # 0.5 s later: merged with merge_gap 1 s
    got = threshold_intervals(t, x, 1.0, hysteresis=0.17, min_duration_s=0.1, merge_gap_s=1.0)
    assert got == [(pytest.approx(3.0), pytest.approx(5.99))]
    got = threshold_intervals(t, x, 1.0, hysteresis=0.17, min_duration_s=0.1, merge_gap_s=0.2)
    assert len(got) == 2 and got[0][1] == pytest.approx(4.49)


@pytest.mark.parametrize(("decel_g", "threshold_g", "expected"), [(0.5, 0.38, 1), (0.5, 0.55, 0), (0.3, 0.38, 0), (0.3, 0.25, 1)])
def test_braking_label_follows_the_configured_threshold(decel_g: float, threshold_g: float, expected: int) -> None:
    cfg = load_config(None, {"motion": {"braking_g": threshold_g}})
    sc = SCENARIOS["harsh_braking"].make([f"decel_g={decel_g}"])
    labels = ground_truth(sc, definitions_from_config(cfg))
    assert sum(lb.type == "harsh_braking" for lb in labels) == expected


@pytest.mark.parametrize(
    ("min_speed_kmh", "expected"),
    [(0.0, None), (9.0, None), (10.5, "rolling_stop"), (15.0, "rolling_stop"), (40.0, "stop_sign_violation")],
)
def test_stop_sign_labels_follow_the_stop_speed(min_speed_kmh: float, expected: str | None) -> None:
    # road_events.stop_speed_mps is 6 mph = 9.66 km/h
    sc = SCENARIOS["stop_sign"].make([f"min_speed_kmh={min_speed_kmh}"])
    got = [t for t, _ in _types(ground_truth(sc, Definitions()))]
    assert got == ([expected] if expected else [])


@pytest.mark.parametrize(("headway_s", "speed_kmh", "expected"), [(0.5, 80, 1), (0.6, 100, 1), (0.8, 80, 0), (0.5, 50, 0)])
def test_tailgating_label_needs_headway_and_speed(headway_s: float, speed_kmh: float, expected: int) -> None:
    sc = SCENARIOS["tailgating"].make([f"headway_s={headway_s}", f"speed_kmh={speed_kmh}"])
    assert sum(lb.type == "tailgating" for lb in ground_truth(sc, Definitions())) == expected


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_builds_and_labels_within_the_drive(name: str) -> None:
    sc = SCENARIOS[name].make([])
    labels = ground_truth(sc, Definitions())
    for lb in labels:
        assert 0.0 <= lb.start_s <= lb.end_s <= sc.duration_s
    assert np.all(np.diff(sc.ego.s) >= -1e-9), "the ego never drives backwards"
    assert np.all(sc.ego.v >= 0)


def test_normal_drive_has_no_events_only_normal_manoeuvres() -> None:
    labels = ground_truth(SCENARIOS["normal"].make([]), Definitions())
    assert labels and all(lb.type == "normal" for lb in labels)


def _read_all(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "video.mp4"}


def test_same_seed_same_recording_other_seed_other_noise(tmp_path: Path) -> None:
    a = simulate("drowsy", tmp_path / "a", seed=7, video=False).written
    b = simulate("drowsy", tmp_path / "b", seed=7, video=False).written
    c = simulate("drowsy", tmp_path / "c", seed=8, video=False).written
    fa, fb, fc = _read_all(a.path), _read_all(b.path), _read_all(c.path)
    assert set(fa) >= {"meta.toml", "imu.csv", "gps.csv", "cabin.csv", "detections.json", "labels.jsonl"}
    assert fa == fb
    assert fa["imu.csv"] != fc["imu.csv"] and fa["cabin.csv"] != fc["cabin.csv"]
    assert fa["labels.jsonl"] == fc["labels.jsonl"]  # truth depends on the scenario, not the noise


def test_detections_file_lists_lamp_colour_and_distance(tmp_path: Path) -> None:
    rec = simulate("red_light", tmp_path / "r", seed=0, video=False).written
    doc = json.loads((rec.path / "detections.json").read_text())
    lights = [o for f in doc["frames"] for o in f["objects"] if o["cls"] == "traffic_light"]
    assert lights and {o["attributes"]["lamp"] for o in lights} >= {"red"}
    for o in lights:
        x1, y1, x2, y2 = o["xyxy"]
        assert 0 <= x1 < x2 <= doc["width"] and 0 <= y1 < y2 <= doc["height"]
        assert o["distance_m"] > 0


def test_ground_truth_of_the_library_does_not_silently_change(approx_snapshot) -> None:  # type: ignore[no-untyped-def]
    """The labels of every scenario with its defaults and the default config (a change to
    the kinematics, the camera or a definition shows up here; accept a deliberate one with
    ``pytest --snapshot-update``)."""
    table = {
        name: [lb.to_dict() for lb in ground_truth(spec.make([]), Definitions())]
        for name, spec in sorted(SCENARIOS.items())
    }
    assert table == approx_snapshot(default=2e-3)
