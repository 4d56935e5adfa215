"""Far road users (issue 22): the horizon-band pass, fragments and duplicates across passes,
near-face distance and its uncertainty, on the shared KITTI frames, comma2k19 and clips."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from saferoad.adapters.onnx.card import load_card
from saferoad.adapters.onnx.detector import (
    BOX_EDGE_SIGMA_INPUT_PX,
    ModelDetector,
    Window,
    boxes_from_windows,
    pack_band,
    suppress_across_passes,
)
from saferoad.adapters.video.calibration import load_camera_setup
from saferoad.adapters.video.frames import open_frames
from saferoad.adapters.video.lanes import lane_horizon
from saferoad.application.perception import run_perception
from saferoad.config import load_config
from saferoad.domain.geometry import CameraModel, DistanceEstimator, horizon_band
from saferoad.domain.road_events.base import LeadState, RoadSample
from saferoad.domain.road_events.following import ForwardCollisionRule, TailgatingRule
from saferoad.domain.tracking import iou_matrix
from saferoad.domain.types import CameraIntrinsics, CameraMount, TrackedObject
from saferoad.entrypoints.cli.app import app

KITTI = ("000000", "000001", "000002")
ROAD_USERS = ("Car", "Truck", "Pedestrian", "Cyclist")
runner = CliRunner()


def near_face_z(fields: list[str]) -> float:
    """The documented distance for a KITTI label: the forward (camera z) distance of the
    nearest corner of the 3D box. KITTI's ``location`` is the centre of the box's bottom
    face; its corners lie at ±l/2 along the heading and ±w/2 across it, rotated by
    ``rotation_y`` about the camera's y axis (x' = x cos + z sin, z' = −x sin + z cos)."""
    w, length = float(fields[9]), float(fields[10])
    z, ry = float(fields[13]), float(fields[14])
    xs = np.array([1, 1, -1, -1]) * length / 2
    zs = np.array([1, -1, 1, -1]) * w / 2
    return float(z + np.min(-np.sin(ry) * xs + np.cos(ry) * zs))


def kitti_labels(shared: Path, k: str) -> list[list[str]]:
    text = (shared / "data" / "kitti-object" / "label_2" / f"{k}.txt").read_text()
    return [ln.split() for ln in text.splitlines() if ln.split() and ln.split()[0] in ROAD_USERS]


def test_near_face_of_a_kitti_label() -> None:
    # the in-lane car of 000002: heading along z (ry = −π/2 + 0.01), 4.36 m long
    ln = ["Car", "0", "0", "-1.67", "657", "190", "700", "223", "1.41", "1.58", "4.36", "3.18", "2.27", "34.38", "-1.58"]
    assert near_face_z(ln) == pytest.approx(34.38 - 4.36 / 2, abs=0.03)
    # a car crossing (ry = 0): its near face is its side, w/2 from the centre
    ln = ["Car", "0", "0", "0", "0", "0", "1", "1", "1.5", "1.8", "4.5", "0", "1.6", "20.0", "0.0"]
    assert near_face_z(ln) == pytest.approx(20.0 - 0.9)


@pytest.fixture(scope="module")
def kitti_default(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Default ``saferoad detect`` on each KITTI frame with its calibration file."""
    out: dict[str, Any] = {}
    for k in KITTI:
        folder = tmp_path_factory.mktemp(f"kitti{k}")
        base = shared_dir / "data" / "kitti-object"
        res = runner.invoke(
            app,
            ["detect", str(base / "image_2" / f"{k}.png"), "-o", str(folder), "--camera", str(base / "calib" / f"{k}.txt")],
        )
        assert res.exit_code == 0, res.output
        out[k] = pq.read_table(folder / "tracks.parquet").to_pandas()
    return out


def test_default_detect_finds_the_far_kitti_vehicles(kitti_default: dict[str, Any], shared_dir: Path) -> None:
    """Must show: with default settings the in-lane car at 34.4 m and the vehicles beyond
    50 m are found (before the horizon band: 1 of 5 labelled road users)."""
    found: dict[str, float] = {}
    for k, df in kitti_default.items():
        labels = kitti_labels(shared_dir, k)
        boxes = np.array([[float(v) for v in ln[4:8]] for ln in labels])
        det = df[["x1", "y1", "x2", "y2"]].to_numpy(dtype=np.float64)
        iou = iou_matrix(boxes, det) if len(det) else np.zeros((len(labels), 0))
        for i, ln in enumerate(labels):
            if iou.shape[1] and iou[i].max() >= 0.5:
                found[f"{k} {ln[0]} {ln[13]}"] = float(iou[i].max())
    for must in ("000002 Car 34.38", "000001 Car 58.49", "000001 Truck 69.44", "000000 Pedestrian 8.41"):
        assert must in found, (must, found)
    # one box per object: every box is a labelled road user's, matched once, or lies in a
    # region KITTI leaves unlabelled (DontCare: distant traffic) or labels otherwise (Misc, Van)
    for k, df in kitti_default.items():
        text = (shared_dir / "data" / "kitti-object" / "label_2" / f"{k}.txt").read_text()
        rows = [ln.split() for ln in text.splitlines() if ln.split()]
        users = np.array([[float(v) for v in r[4:8]] for r in rows if r[0] in ROAD_USERS])
        other = np.array([[float(v) for v in r[4:8]] for r in rows if r[0] not in ROAD_USERS]).reshape(-1, 4)
        det = df[["x1", "y1", "x2", "y2"]].to_numpy(dtype=np.float64)
        best = iou_matrix(det, users).argmax(axis=1)
        matched = iou_matrix(det, users).max(axis=1) >= 0.5
        assert len(set(best[matched].tolist())) == int(matched.sum()), (k, "two boxes on one object")
        cx, cy = (det[:, 0] + det[:, 2]) / 2, (det[:, 1] + det[:, 3]) / 2
        in_other = ((cx[:, None] >= other[None, :, 0]) & (cx[:, None] <= other[None, :, 2])
                    & (cy[:, None] >= other[None, :, 1]) & (cy[:, None] <= other[None, :, 3])).any(axis=1)
        assert (matched | in_other).all(), (k, det[~(matched | in_other)])


def test_default_detect_kitti_distance_to_the_near_face(kitti_default: dict[str, Any], shared_dir: Path) -> None:
    """``distance_m`` against the documented definition (the label's nearest corner):
    within 5% up to 40 m; beyond, the truth lies within two of the reported sigmas."""
    checked: dict[str, float] = {}
    for k, df in kitti_default.items():
        labels = kitti_labels(shared_dir, k)
        boxes = np.array([[float(v) for v in ln[4:8]] for ln in labels])
        det = df[["x1", "y1", "x2", "y2"]].to_numpy(dtype=np.float64)
        iou = iou_matrix(boxes, det)
        for i, ln in enumerate(labels):
            j = int(iou[i].argmax())
            if iou[i, j] < 0.5:
                continue
            truth = near_face_z(ln)
            d, sigma = float(df.distance_m.iloc[j]), float(df.distance_sigma_m.iloc[j])
            err = (d - truth) / truth
            checked[f"{k} {ln[0]}"] = round(err, 3)
            assert sigma > 0
            if truth <= 40:
                assert abs(err) <= 0.05, (k, ln[0], truth, d)
            else:
                assert abs(d - truth) <= 2 * sigma, (k, ln[0], truth, d, sigma)
    assert {"000000 Pedestrian", "000002 Car", "000001 Car", "000001 Truck"} <= set(checked)


def test_comma2k19_lead_in_one_box_within_10pct_of_radar(shared_dir: Path, yolox: ModelDetector) -> None:
    seg = shared_dir / "data" / "comma2k19-segment"
    frames = open_frames(seg / "preview.png")
    cam, _ = load_camera_setup(seg / "camera_intrinsics.txt", frames.width, frames.height)
    cam = cam.with_mount(CameraMount(height_m=1.22))
    assert yolox.horizon_band  # the card's default
    ((_, objs),) = list(run_perception(frames, yolox, None, cam, load_config(), pitch_known=False, horizon=lane_horizon))
    (lead,) = [o for o in objs if o.is_lead]
    assert lead.distance_m is not None and abs(lead.distance_m - 29.3) / 29.3 <= 0.10
    assert 0 < lead.attributes["distance_sigma_m"] < 0.2 * lead.distance_m
    # one box: no other vehicle box overlaps the lead's by half of the smaller one
    assert _overlapping_pairs([lead, *[o for o in objs if o is not lead]], only_first=True) == []


def test_tiles_no_longer_split_the_near_lead(shared_dir: Path, yolox: ModelDetector) -> None:
    """The issue's case: ``tiles = 3`` cut the comma2k19 lead into three boxes at the tile
    edges. Boxes cut by a window edge inside the frame are fragments and are dropped."""
    tiled = ModelDetector(yolox.card, yolox.backend, tiles=3)
    (frame,) = list(open_frames(shared_dir / "data" / "comma2k19-segment" / "preview.png"))
    d = tiled.detect(frame)
    objs = [TrackedObject(i, c, float(s), tuple(b)) for i, (c, s, b) in enumerate(zip(d.classes, d.scores, d.xyxy, strict=True))]
    assert _overlapping_pairs(objs) == []
    # the lead (the silver sedan, 55-60 px wide) is one whole box
    lead = [b for b in d.xyxy if 580 < (b[0] + b[2]) / 2 < 610 and 420 < b[3] < 440]
    assert len(lead) == 1 and 50 < lead[0][2] - lead[0][0] < 70, lead


def _overlapping_pairs(objs: list[TrackedObject], only_first: bool = False) -> list[tuple[int, int]]:
    """Pairs of same-class boxes the smaller of which lies at least half inside the other."""
    out = []
    for i, a in enumerate(objs):
        for j in range(i + 1, len(objs)):
            b = objs[j]
            if a.cls != b.cls:
                continue
            A, B = np.array(a.xyxy), np.array(b.xyxy)
            iw = max(0.0, min(A[2], B[2]) - max(A[0], B[0]))
            ih = max(0.0, min(A[3], B[3]) - max(A[1], B[1]))
            small = min((A[2] - A[0]) * (A[3] - A[1]), (B[2] - B[0]) * (B[3] - B[1]))
            if small > 0 and iw * ih / small >= 0.5:
                out.append((i, j))
        if only_first:
            break
    return out


@pytest.mark.parametrize(
    ("clip", "stride"), [("highway_vehicles_720p.mp4", 1), ("highway_solid_white_right.mp4", 5)]
)
def test_no_duplicate_or_fragment_boxes_on_the_shared_clips(
    shared_dir: Path, yolox: ModelDetector, clip: str, stride: int
) -> None:
    """Every frame of the default configuration: no two boxes of one class where the smaller
    lies half or more inside the other (a duplicate across passes or a fragment)."""
    frames = open_frames(shared_dir / "data" / "video" / clip, stride=stride)
    pairs, boxes, n = [], 0, 0
    for f, objs in run_perception(frames, yolox, None, None, load_config(), horizon=lane_horizon):
        n += 1
        boxes += len(objs)
        pairs += [(f.index, p) for p in _overlapping_pairs(objs)]
    assert n > 30 and boxes > 2 * n  # the clips' cars were seen
    assert pairs == []


def test_horizon_band_rows_follow_the_camera() -> None:
    cam = CameraModel(CameraIntrinsics.from_fov(1280, 720, 90.0), CameraMount(1.3, 0.0))
    top, bottom = horizon_band(cam, near_m=20.0, object_height_m=4.0, margin_deg=0.0)
    f = cam.intrinsics.fy
    assert bottom == pytest.approx(360 + f * 1.3 / 20.0)
    assert top == pytest.approx(360 - f * (4.0 - 1.3) / 20.0)
    # pitched down 3°: the band moves up by f·tan(3°), the margin widens it both ways
    down = cam.with_mount(CameraMount(1.3, 3.0))
    t2, b2 = horizon_band(down, margin_deg=1.5)
    assert t2 < top - f * math.tan(math.radians(3.0)) + 1 and b2 < bottom
    assert b2 - t2 > bottom - top + 2 * f * math.tan(math.radians(1.5)) - 1
    # clipped to the image
    tiny = CameraModel(CameraIntrinsics.from_fov(320, 60, 90.0), CameraMount(1.3, 0.0))
    assert horizon_band(tiny, near_m=2.0) == (0.0, 60.0)


def test_pack_band_lays_strips_into_one_input() -> None:
    ws = pack_band(1280, 720, (260.0, 420.0), 416, 416, overlap_px=100, gap_px=16)
    assert len(ws) == 3
    assert ws[0].x0 == 0 and ws[-1].x1 == 1280
    assert all(a.x1 - b.x0 >= 100 for a, b in itertools.pairwise(ws))  # overlap
    s = ws[0].scale
    assert s > 2.4 * 416 / 1280  # far more than the full frame's 0.325
    assert all(w.in_x + w.in_w <= 416 + 1e-6 and w.in_y + w.in_h <= 416 + 1e-6 for w in ws)
    assert all(b.in_y >= a.in_y + a.in_h + 16 - 1 for a, b in itertools.pairwise(ws))  # gaps
    assert pack_band(1280, 720, (400.0, 400.5), 416, 416, overlap_px=100) == []


def test_boxes_cut_by_a_window_edge_are_fragments() -> None:
    # one window: frame columns 400-800 of a 1280 wide frame, rows 200-300, at scale 1
    win = [Window(400, 200, 800, 300, 0.0, 0.0, 1.0)]
    boxes = np.array(
        [
            [100, 40, 140, 70],  # whole
            [0, 40, 30, 70],  # touches the left edge (inside the frame): cut
            [300, 60, 350, 100],  # touches the bottom edge (row 300 < 720): cut
            [380, 10, 400, 30],  # touches the right edge: cut
            [100, 200, 150, 250],  # centre outside the window: dropped
        ],
        dtype=np.float32,
    )
    out, whole = boxes_from_windows(boxes, win, 1280, 720)
    assert whole.tolist() == [True, False, False, False, False]
    assert out[0].tolist() == pytest.approx([500, 240, 540, 270])
    assert np.isnan(out[4]).all()
    # a window at the frame's own edge: touching it is not a cut
    edge = [Window(0, 0, 400, 100, 0.0, 0.0, 1.0)]
    _, whole = boxes_from_windows(np.array([[0, 0, 30, 30]], dtype=np.float32), edge, 1280, 720)
    assert whole.tolist() == [True]


def test_suppress_across_passes_keeps_one_box_per_object() -> None:
    boxes = np.array(
        [[100, 100, 300, 200], [110, 140, 200, 190], [400, 100, 420, 110], [402, 101, 421, 111], [110, 140, 200, 190]],
        dtype=np.float32,
    )
    scores = np.array([0.9, 0.5, 0.4, 0.6, 0.8], dtype=np.float32)
    classes = np.array([0, 0, 0, 0, 1])
    passes = np.array([0, 1, 0, 1, 1])
    keep = suppress_across_passes(boxes, scores, classes, passes)
    # the part inside the near car goes; of the far car's two boxes the better one stays;
    # another class is never touched
    assert keep.tolist() == [True, False, False, True, True]
    # boxes of the same pass are left to NMS
    assert suppress_across_passes(boxes, scores, classes, np.zeros(5, dtype=np.int64)).all()


def _suppress_reference(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, passes: np.ndarray, ios: float) -> list[bool]:
    """The rule written out pair by pair (greedy, highest score first, stable on ties)."""
    n = len(boxes)
    keep = [True] * n
    b = boxes.astype(np.float32)
    for i in sorted(range(n), key=lambda k: (-float(scores[k]), k)):
        if not keep[i]:
            continue
        for j in range(n):
            if j == i or classes[j] != classes[i] or passes[j] == passes[i] or scores[j] > scores[i]:
                continue
            iw = max(np.float32(0), min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0]))
            ih = max(np.float32(0), min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1]))
            ai = max(np.float32(0), b[i, 2] - b[i, 0]) * max(np.float32(0), b[i, 3] - b[i, 1])
            aj = max(np.float32(0), b[j, 2] - b[j, 0]) * max(np.float32(0), b[j, 3] - b[j, 1])
            small = min(ai, aj)
            if small > 0 and (iw * ih) / small >= ios:
                keep[j] = False
    return keep


@pytest.mark.parametrize("ios", [0.3, 0.7, 1.0])
def test_suppress_across_passes_equals_the_pairwise_rule_on_random_boxes(ios: float) -> None:
    """The sweep (no n × n matrix) decides as the rule written out pair by pair: random
    clustered boxes with score ties, nested and identical boxes, degenerate ones."""
    rng = np.random.default_rng(22)
    for trial in range(60):
        n = int(rng.integers(0, 120))
        centres = rng.uniform(0, 1280, size=(max(1, n // 6), 2))
        c = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 15, (n, 2))
        wh = rng.uniform(2, 120, (n, 2))
        boxes = np.concatenate([c - wh / 2, c + wh / 2], axis=1).astype(np.float32)
        if n > 4:
            boxes[1] = boxes[0]  # identical
            boxes[3] = [boxes[2, 0] + 1, boxes[2, 1] + 1, boxes[2, 0] + 3, boxes[2, 1] + 3]  # nested
            boxes[4, 2] = boxes[4, 0]  # zero width
        scores = rng.choice(np.linspace(0.3, 0.9, 7), n).astype(np.float32)
        classes = rng.integers(0, 3, n).astype(np.int64)
        passes = rng.integers(0, 3, n).astype(np.int64)
        got = suppress_across_passes(boxes, scores, classes, passes, ios=ios)
        assert got.tolist() == _suppress_reference(boxes, scores, classes, passes, ios), (trial, n)
    with pytest.raises(ValueError, match="ios"):
        suppress_across_passes(boxes, scores, classes, passes, ios=0.0)


def test_distance_sigma_grows_with_range() -> None:
    cam = CameraModel(CameraIntrinsics.from_fov(1280, 720, 90.0), CameraMount(1.3, 0.0))
    est = DistanceEstimator(cam)
    boxes = []
    for z in (10.0, 30.0, 60.0):
        (u0, v), (u1, _) = cam.project(np.array([[z, 0.9, 0.0], [z, -0.9, 0.0]]))
        boxes.append([u0, v - 1.5 * cam.intrinsics.fy / z, u1, v])
    e = est.estimate(np.array(boxes), ["car"] * 3)
    assert e.fused == pytest.approx([10.0, 30.0, 60.0], rel=0.02)
    assert np.all(np.diff(e.sigma) > 0) and np.all(np.diff(e.sigma / e.fused) > 0)
    assert 0 < e.sigma[0] < 1.0


@pytest.mark.parametrize(
    ("label", "z", "y"),
    [("car", 20.0, 0.0), ("car", 40.0, 0.0), ("car", 20.0, -4.0), ("car", 40.0, -4.0), ("car", 30.0, 5.0),
     ("truck", 30.0, -4.5), ("truck", 50.0, 0.0)],
)
def test_stated_sigma_is_the_spread_of_the_estimates(label: str, z: float, y: float) -> None:
    """Monte Carlo over what the sigma claims to cover: vehicles drawn from the class prior
    (car: width 1.8 m ± 8%, length 4.5 m ± 8%; truck 2.45 m ± 12%, 8 m ± 40%), rear view
    and side showing, box edges with the detector's stated noise, the horizon moved by a
    pitch error of the estimator's 1°. The size estimate's spread is its stated sigma
    (within 15%) and the fused distance lies within one stated sigma of the truth about
    68% of the time."""
    cam = CameraModel(CameraIntrinsics.from_fov(1280, 720, 90.0), CameraMount(1.3, 0.0))
    # the published spreads (docs/perception.md, "Distance"), not read back from the code
    (w_m, w_sd), (l_m, l_sd) = {"car": ((1.8, 0.144), (4.5, 0.36)), "truck": ((2.45, 0.294), (8.0, 3.2))}[label]
    rng = np.random.default_rng(7)
    n, edge = 3000, 2.5
    w = rng.normal(w_m, w_sd, n)
    length = np.maximum(rng.normal(l_m, l_sd, n), 1.0)
    corners = np.array([[a, b, c] for a in (0, 1) for b in (-0.5, 0.5) for c in (0.0, 1.5)])
    pts = np.stack([z + corners[:, 0] * length[:, None], y + corners[:, 1] * w[:, None],
                    np.broadcast_to(corners[:, 2], (n, 8))], axis=-1).reshape(-1, 3)
    uv = cam.project(pts).reshape(n, 8, 2)
    boxes = np.stack([uv[..., 0].min(1), uv[..., 1].min(1), uv[..., 0].max(1), uv[..., 1].max(1)], axis=1)
    boxes += rng.normal(0.0, edge, boxes.shape)
    shift = cam.intrinsics.fy * np.tan(np.radians(rng.normal(0.0, 1.0, n)))  # the horizon's error
    boxes[:, [1, 3]] += shift[:, None]
    est = DistanceEstimator(cam)
    stated_edges = np.full((n, 2), edge)
    size, size_sigma = est.size(boxes, [label] * n, stated_edges)
    assert np.isfinite(size).all()
    assert float(np.std(size)) == pytest.approx(float(np.median(size_sigma)), rel=0.15)
    e = est.estimate(boxes, [label] * n, stated_edges)
    assert float(np.median(e.sigma)) < float(np.median(size_sigma))  # fusion: tighter than one cue
    covered = float(np.mean(np.abs(e.fused - z) <= e.sigma))
    assert 0.6 <= covered <= 0.8, covered


def test_each_box_states_its_edge_sigma_from_the_pass_that_found_it(shared_dir: Path, yolox: ModelDetector) -> None:
    """A box's edges are about 2 model-input pixels sure (BOX_EDGE_SIGMA_INPUT_PX), so in
    frame pixels 2 / scale of its pass: the far car of KITTI 000001 from the band (scale
    0.70), the near pedestrian of 000000 from the full frame (0.335); single-pass detection
    states them too."""
    base = shared_dir / "data" / "kitti-object" / "image_2"
    (far,) = list(open_frames(base / "000001.png"))
    band = yolox.band_windows(far)[0].scale
    d = yolox.detect(far)
    iou = iou_matrix(np.array([[387.63, 181.54, 423.81, 203.12]]), d.xyxy.astype(np.float64))[0]
    assert iou.max() >= 0.5 and d.attributes is not None
    assert d.attributes[int(iou.argmax())]["edge_sigma_px"] == pytest.approx((BOX_EDGE_SIGMA_INPUT_PX / band,) * 2)
    (near,) = list(open_frames(base / "000000.png"))
    full = min(416 / near.width, 416 / near.height)
    for det in (yolox.detect(near), ModelDetector(yolox.card, yolox.backend, horizon_band=False).detect(near)):
        iou = iou_matrix(np.array([[712.40, 143.00, 810.73, 307.92]]), det.xyxy.astype(np.float64))[0]
        assert iou.max() >= 0.5 and det.attributes is not None
        got = det.attributes[int(iou.argmax())]["edge_sigma_px"]
        assert got == pytest.approx((BOX_EDGE_SIGMA_INPUT_PX / full,) * 2, rel=0.01)  # rows: rounded height
        assert got[0] > 2 * BOX_EDGE_SIGMA_INPUT_PX / band  # the full frame's edges are looser


def test_tailgating_evidence_carries_the_distance_uncertainty() -> None:
    rule = TailgatingRule(headway_s=0.7, min_duration_s=1.0, min_speed_mps=15.0)
    events = []
    for n in range(31):
        lead = LeadState(3, 12.0, 0.0, 12.0 / 25.0, math.inf, distance_sigma_m=0.6)
        events += rule.update(RoadSample(n / 10, n, 25.0, (), lead))
    events += rule.finish()
    (ev,) = events
    assert ev.evidence["distance_sigma_m_at_min"] == pytest.approx(0.6)
    assert ev.evidence["headway_s_sigma_at_min"] == pytest.approx(0.48 * 0.6 / 12.0, abs=1e-3)
    # TTC: a common scale error of distance and range rate cancels; the distance sigma only
    fcw = ForwardCollisionRule(ttc_s=2.0, min_duration_s=0.2, min_speed_mps=10.0)
    out = []
    for n in range(5):
        lead = LeadState(3, 10.0, -8.0, 0.5, 1.25, distance_sigma_m=0.5)
        out += fcw.update(RoadSample(n / 10, n, 20.0, (), lead))
    (ev2,) = out + fcw.finish()
    assert ev2.evidence["distance_sigma_m_at_min"] == pytest.approx(0.5)
    assert "ttc_s_sigma_at_min" not in ev2.evidence
    # without an image-based distance (radar, replay) no uncertainty is claimed
    plain = TailgatingRule(headway_s=0.7, min_duration_s=1.0, min_speed_mps=15.0)
    evs = []
    for n in range(31):
        evs += plain.update(RoadSample(n / 10, n, 25.0, (), LeadState(3, 12.0, 0.0, 0.48, math.inf)))
    (ev3,) = evs + plain.finish()
    assert "distance_sigma_m_at_min" not in ev3.evidence


def test_model_card_says_which_passes_it_needs(tmp_path: Path) -> None:
    assert load_card("yolox-nano").horizon_band is True
    assert load_card("fastestdet").horizon_band is False
    text = (Path(load_card("yolox-nano").path)).read_text().replace("horizon_band = true", "horizon_band = 2")
    bad = tmp_path / "card.toml"
    bad.write_text(text.replace('names_file = "coco80.txt"', 'names = ["car"]'))
    with pytest.raises(ValueError, match=r"passes.horizon_band"):
        load_card(bad)


def test_band_follows_the_frames_horizon(shared_dir: Path, yolox: ModelDetector) -> None:
    """A frame carrying its band (``Frame.horizon_band``) is packed from those rows; one
    without gets the default camera's."""
    (frame,) = list(open_frames(shared_dir / "data" / "kitti-object" / "image_2" / "000002.png"))
    default = yolox.band_windows(frame)
    moved = yolox.band_windows(replace(frame, horizon_band=(100.0, 200.0)))
    assert (moved[0].y0, moved[0].y1) == (100, 200)
    assert (default[0].y0, default[0].y1) != (100, 200)


def test_default_detect_without_calibration_finds_them_too(shared_dir: Path, tmp_path: Path) -> None:
    """``saferoad detect image_2/`` with no ``--camera``: the band comes from the default
    camera (90°, 1.3 m, pitch 0), which still covers KITTI's horizon; the same far vehicles."""
    base = shared_dir / "data" / "kitti-object"
    res = runner.invoke(app, ["detect", str(base / "image_2"), "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    df = pq.read_table(tmp_path / "tracks.parquet").to_pandas()
    for frame, k in enumerate(KITTI):
        labels = kitti_labels(shared_dir, k)
        boxes = np.array([[float(v) for v in ln[4:8]] for ln in labels])
        det = df[df.frame == frame][["x1", "y1", "x2", "y2"]].to_numpy(dtype=np.float64)
        iou = iou_matrix(boxes, det)
        found = {f"{ln[0]} {ln[13]}" for i, ln in enumerate(labels) if iou.shape[1] and iou[i].max() >= 0.5}
        expect = {"000000": {"Pedestrian 8.41"}, "000001": {"Car 58.49", "Truck 69.44"}, "000002": {"Car 34.38"}}[k]
        assert expect <= found, (k, found)


def test_band_pass_skipped_where_it_would_not_magnify(yolox: ModelDetector) -> None:
    from saferoad.domain.types import Frame

    wide = Frame(0, 0.0, np.zeros((720, 1280, 3), dtype=np.uint8))
    assert yolox.band_windows(wide)[0].scale > 2 * 416 / 1280
    # a band as tall as the frame (a camera pitched far off, a very wide-angle lens) cannot
    # be shown larger than the full frame shows it: no second pass
    assert yolox.band_windows(replace(wide, horizon_band=(0.0, 720.0))) == []
