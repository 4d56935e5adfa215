"""Simulated lane departures and lane changes with exact ground truth (issue 20).

The camera's frames are rendered in memory by the simulator's renderer (the same one that
writes video.mp4) and go through the classical lane detector and the lane rules; the IMU's
side runs through analyze on the same scenario's sensors. Over 20 seeds: the exact event
types, times within 0.5 s of the ground truth, the lane change direction from the IMU + the
camera right in every seed, nothing on a normal drive. One departure also runs through the
whole analyze with its video (events.jsonl, lanes.parquet)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from saferoad.adapters.recording import open_recording
from saferoad.adapters.simulation.render import SceneRenderer
from saferoad.adapters.video.lane_markings import ClassicalLaneDetector
from saferoad.application.simulate import definitions_from_config
from saferoad.application.stages.road_lanes import lane_params
from saferoad.config import load_config
from saferoad.domain.geometry import CameraModel
from saferoad.domain.lanes import LaneResult, fuse_lane_changes, lane_events
from saferoad.domain.simulation.model import Scenario
from saferoad.domain.simulation.scenarios import get_scenario
from saferoad.domain.simulation.truth import camera_views, ground_truth
from saferoad.domain.types import (
    CameraIntrinsics,
    CameraMount,
    Direction,
    EventLabel,
    EventType,
    Frame,
)
from saferoad.entrypoints.wiring import analyze_recording, simulate

SEEDS = range(20)
CFG = load_config(None, {"perception": {"detector": "replay"}, "road_events": {"clips": False}})


def _truth(sc: Scenario) -> list[EventLabel]:
    return [lb for lb in ground_truth(sc, definitions_from_config(CFG)) if not lb.is_normal]


def _camera_lanes(sc: Scenario) -> LaneResult:
    """The scenario's road camera, rendered frame by frame, through the lane detector and
    the lane rules (ego speed from the scenario)."""
    t, views = camera_views(sc)
    cam = sc.camera
    model = CameraModel(
        CameraIntrinsics.from_fov(cam.width, cam.height, cam.hfov_deg), CameraMount(cam.height_m, cam.pitch_deg)
    )
    det = ClassicalLaneDetector()
    obs = [det.detect(Frame(i, float(t[i]), img), model) for i, img in enumerate(SceneRenderer(sc, t, views).frames())]
    return lane_events(obs, sc.t, sc.ego.v, lane_params(CFG.lanes))


def _direction(seed: int) -> str:
    return "left" if seed % 2 == 0 else "right"


@pytest.mark.parametrize("seed", SEEDS)
def test_lane_departure(seed: int) -> None:
    drift = 0.9 + 0.03 * (seed % 10)  # the line comes to 0.85-0.58 m of the camera
    sc = get_scenario("lane_departure").make(
        ["duration_s=18", f"at_s={3.0 + 0.25 * (seed % 5)}", f"drift_m={drift:.2f}",
         f"speed_kmh={70 + seed}", f"direction={_direction(seed)}"],
        seed=seed,
    )
    [truth] = _truth(sc)
    assert truth.type == "lane_departure" and truth.direction is Direction(_direction(seed))
    res = _camera_lanes(sc)
    [ev] = res.events
    assert ev.type is EventType.LANE_DEPARTURE and ev.direction is truth.direction
    assert abs(ev.start_s - truth.start_s) <= 0.5 and abs(ev.end_s - truth.end_s) <= 0.5
    assert res.lane_changes == []
    assert res.frames_both / len(res.t_s) >= 0.9


@pytest.mark.parametrize("seed", SEEDS)
def test_aggressive_lane_change_direction_from_imu_and_camera(seed: int, tmp_path: Path) -> None:
    args = ["duration_s=16", f"at_s={5.0 + 0.25 * (seed % 4)}", f"direction={_direction(seed)}",
            f"manoeuvre_s={2.3 + 0.05 * (seed % 5)}"]
    sc = get_scenario("aggressive_lane_change").make(args, seed=seed)
    [truth] = _truth(sc)
    assert truth.type == "aggressive_lane_change"
    simulate("aggressive_lane_change", tmp_path / "rec", assignments=args, seed=seed, video=False, config=CFG)
    imu = [e for e in analyze_recording(open_recording(tmp_path / "rec"), CFG, None).events
           if e.type is EventType.AGGRESSIVE_LANE_CHANGE]
    res = _camera_lanes(sc)
    assert res.events == []  # a lane change is no departure
    [lc] = res.lane_changes
    assert lc.direction is truth.direction
    [fused] = fuse_lane_changes(imu, res.lane_changes, lane_params(CFG.lanes))
    assert fused.direction is truth.direction
    assert abs(fused.start_s - truth.start_s) <= 0.5 and abs(fused.end_s - truth.end_s) <= 0.5
    assert fused.evidence["camera_lane_change"]["direction"] == truth.direction.value


@pytest.mark.parametrize("seed", range(3))
def test_ordinary_lane_change_is_seen_and_flags_nothing(seed: int) -> None:
    sc = get_scenario("lane_change").make(
        ["duration_s=22", "speed_kmh=90", f"direction={_direction(seed)}"], seed=seed
    )
    assert _truth(sc) == []
    res = _camera_lanes(sc)
    assert res.events == []
    [lc] = res.lane_changes
    assert lc.direction is Direction(_direction(seed))


def test_normal_drive_flags_no_departure() -> None:
    """The normal city drive at 70 km/h (above the departure floor): a bend, a lane change,
    a car passing in the next lane, pull-away and stop; no lane_departure in the truth or
    from the camera."""
    sc = get_scenario("normal").make(["speed_kmh=70"], seed=0)
    assert [lb for lb in _truth(sc) if lb.type == "lane_departure"] == []
    res = _camera_lanes(sc)
    assert res.events == []
    assert [lc.direction for lc in res.lane_changes] == [Direction.LEFT]


def test_analyze_with_video_writes_lanes_and_the_departure(tmp_path: Path) -> None:
    rec, out = tmp_path / "rec", tmp_path / "out"
    simulate("lane_departure", rec, assignments=["duration_s=16", "at_s=4", "direction=right"], seed=5, config=CFG)
    res = analyze_recording(open_recording(rec), CFG, out)
    [truth] = [lb for lb in open_recording(rec).labels or [] if lb.type == "lane_departure"]
    [ev] = [e for e in res.events if e.type is EventType.LANE_DEPARTURE]
    assert [e.type for e in res.events] == [EventType.LANE_DEPARTURE]
    assert ev.direction is Direction.RIGHT
    assert abs(ev.start_s - truth.start_s) <= 0.5 and abs(ev.end_s - truth.end_s) <= 0.5
    lanes = pq.read_table(out / "lanes.parquet").to_pandas()
    assert len(lanes) == res.summary["road"]["lanes"]["frames"] == 161
    ok = lanes["width_m"].notna()
    assert ok.mean() >= 0.9
    assert float(np.median(lanes.loc[ok, "width_m"])) == pytest.approx(3.5, abs=0.15)
    # the drift to the right: the offset goes below -0.9 m (the line at < 0.85 m)
    assert float(lanes["offset_m"].min()) < -0.9
    # and at 10 Hz in timeline.parquet, where the ego's true offset is known
    tl = pq.read_table(out / "timeline.parquet").to_pandas()
    sc = get_scenario("lane_departure").make(["duration_s=16", "at_s=4", "direction=right"], seed=5)
    truth_d = np.interp(tl["t_s"], sc.t, sc.ego.d)
    ok = tl["lane_offset_m"].notna() & (tl["lane_confidence"] >= 0.5)
    assert ok.mean() >= 0.85
    assert float(np.percentile(np.abs(tl.loc[ok, "lane_offset_m"] - truth_d[ok]), 90)) < 0.2


@pytest.mark.parametrize("direction", ["left", "right"])
def test_a_bend_at_highway_speed_is_no_departure(direction: str) -> None:
    """A 70 km/h bend of radius 128 m (0.3 g) in the ego's lane: the lines curve away from
    the straight-line model, the shared curvature follows them; no departure, no lane
    change, both lines in most frames."""
    sc = get_scenario("cornering").make(["speed_kmh=70", "lat_g=0.3", f"direction={direction}"], seed=1)
    assert _truth(sc) == []
    res = _camera_lanes(sc)
    assert res.events == [] and res.lane_changes == []
    assert res.frames_both / len(res.t_s) >= 0.8


@pytest.mark.parametrize("direction", ["left", "right"])
def test_departure_at_night(direction: str) -> None:
    sc = get_scenario("lane_departure").make(
        ["duration_s=18", "at_s=4", "camera.night=true", f"direction={direction}"], seed=2
    )
    [truth] = _truth(sc)
    [ev] = _camera_lanes(sc).events
    assert ev.direction is truth.direction
    assert abs(ev.start_s - truth.start_s) <= 0.5 and abs(ev.end_s - truth.end_s) <= 0.5
