"""Replay detector: saferoad detections.json and MOT Challenge text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoad.adapters.detectors import build_detector
from saferoad.adapters.replay.detector import ReplayDetector, load_labels
from saferoad.adapters.video.lanes import lane_horizon
from saferoad.config import load_config
from saferoad.domain.types import Frame, RoadClass

DOC = {
    "width": 1280,
    "height": 720,
    "fps": 10.0,
    "frames": [
        {
            "frame": 0,
            "t_s": 0.0,
            "objects": [
                {"track_id": 3, "cls": "vehicle", "score": 1.0, "xyxy": [600.0, 380.0, 690.0, 440.0],
                 "distance_m": 24.5},
                {"track_id": 9, "cls": "traffic_light", "score": 0.9, "xyxy": [900, 100, 920, 150],
                 "attributes": {"lamp": "red"}},
            ],
        },
        {"frame": 2, "t_s": 0.2, "objects": []},
    ],
}


def _frame(i: int, w: int = 1280, h: int = 720) -> Frame:
    return Frame(i, i / 10, np.zeros((h, w, 3), np.uint8))


def test_json_keeps_distance_and_attributes(tmp_path: Path) -> None:
    p = tmp_path / "detections.json"
    p.write_text(json.dumps(DOC))
    det = ReplayDetector(p)
    d = det.detect(_frame(0))
    assert d.classes == (RoadClass.VEHICLE, RoadClass.TRAFFIC_LIGHT)
    assert d.distance_m is not None and d.distance_m[0] == 24.5 and np.isnan(d.distance_m[1])
    assert d.attributes is not None and d.attributes[1] == {"lamp": "red", "source_track_id": 9}
    assert len(det.detect(_frame(1))) == 0 and len(det.detect(_frame(2))) == 0
    half = det.detect(_frame(0, 640, 360))  # a smaller video: boxes scaled, with a warning
    assert half.xyxy[0].tolist() == [300.0, 190.0, 345.0, 220.0]


def test_replay_through_the_pipeline_keeps_lamp_and_distance(tmp_path: Path) -> None:
    from saferoad.application.perception import run_perception

    p = tmp_path / "detections.json"
    objects = DOC["frames"][0]["objects"]  # type: ignore[index]
    frames_doc = dict(DOC, frames=[{"frame": i, "t_s": i / 10, "objects": objects} for i in range(3)])
    p.write_text(json.dumps(frames_doc))
    cfg = load_config(overrides={"perception": {"detector": "replay", "replay_path": str(p)}})
    det = build_detector(cfg)
    out = list(run_perception([_frame(i) for i in range(3)], det, None, None, cfg, horizon=lane_horizon))
    objs = out[-1][1]
    light = next(o for o in objs if o.cls is RoadClass.TRAFFIC_LIGHT)
    car = next(o for o in objs if o.cls is RoadClass.VEHICLE)
    assert light.attributes["lamp"] == "red"
    assert car.distance_m == 24.5  # ground truth wins over the estimate


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("{", r"detections\.json:1: not valid JSON"),
        ('{"frames": 3}', r"\(root\): expected an object with a \"frames\" list"),
        ('{"frames": [{"frame": -1}]}', r"frames\[0\]: frame must be an integer >= 0"),
        ('{"frames": [{"frame": 0}, {"frame": 0}]}', r"frames\[1\]: frame 0 listed twice"),
        ('{"frames": [{"frame": 0, "objects": [{"cls": "dog", "xyxy": [0,0,1,1]}]}]}', r"frames\[0\]\.objects\[0\]: cls 'dog'"),
        ('{"frames": [{"frame": 0, "objects": [{"cls": "vehicle", "xyxy": [0,0,1]}]}]}', "xyxy must be a list of 4"),
        ('{"frames": [{"frame": 0, "objects": [{"cls": "vehicle", "xyxy": [5,0,1,1]}]}]}', "x2 <= x1"),
        ('{"frames": [{"frame": 0, "objects": [{"cls": "vehicle", "xyxy": [0,0,1,1], "score": 2}]}]}', r"score 2\.0 not in"),
        ('{"frames": [{"frame": 0, "objects": [{"cls": "vehicle", "xyxy": [0,0,1,1], "distance_m": -3}]}]}', "distance_m -3.0 is negative"),
        ('{"frames": [{"frame": 0, "objects": [{"cls": "vehicle", "xyxy": [0,0,1,"a"]}]}]}', "xyxy must be a finite number"),
    ],
)
def test_malformed_json(tmp_path: Path, doc: str, message: str) -> None:
    p = tmp_path / "detections.json"
    p.write_text(doc)
    with pytest.raises(ValueError, match=message):
        load_labels(p)


def test_mot_text(tmp_path: Path) -> None:
    p = tmp_path / "gt.txt"
    p.write_text(
        "1,1,100,200,50,100,1,1,0.9\n"   # pedestrian
        "1,2,300,200,80,60,1,3,1.0\n"    # car
        "1,3,500,200,80,60,0,1,1.0\n"    # ignored (conf 0)
        "2,1,104,200,50,100,1,9,0.5\n"   # occluder: dropped
        "3,-1,10,20,30,40,0.8,-1,-1,-1\n"  # detection file row
    )
    lab = load_labels(p)
    assert sorted(lab.frames) == [0, 2]
    f0 = lab.frames[0]
    assert f0.classes == (RoadClass.PERSON, RoadClass.VEHICLE)
    assert f0.xyxy[1].tolist() == [300.0, 200.0, 380.0, 260.0]
    assert lab.frames[2].scores.tolist() == [0.8]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1,1,2,3", r"gt\.txt:1: expected at least 7 fields"),
        ("0,1,0,0,10,10,1", r"gt\.txt:1: frame must be an integer >= 1"),
        ("1,1,0,0,-10,10,1", r"gt\.txt:1: width/height must be > 0"),
        ("1,1,a,0,10,10,1", r"gt\.txt:1: fields must be numbers"),
        ("1,1,0,0,10,10,1,42,1", r"gt\.txt:1: unknown MOT class 42"),
        ("1,1,0,0,nan,10,1", r"gt\.txt:1: non-finite value"),
    ],
)
def test_malformed_mot(tmp_path: Path, line: str, message: str) -> None:
    p = tmp_path / "gt.txt"
    p.write_text(line + "\n")
    with pytest.raises(ValueError, match=message):
        load_labels(p)


box = st.tuples(
    st.floats(0, 1000, allow_nan=False), st.floats(0, 600, allow_nan=False),
    st.floats(1, 200, allow_nan=False), st.floats(1, 200, allow_nan=False),
)


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(1, 50), box, st.floats(0.01, 1.0)), max_size=30))
def test_mot_round_trip(tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[int, tuple[float, float, float, float], float]]) -> None:
    p = tmp_path_factory.mktemp("mot") / "det.txt"
    p.write_text("".join(f"{f},-1,{x!r},{y!r},{w!r},{h!r},{c!r},-1,-1,-1\n" for f, (x, y, w, h), c in rows))
    lab = load_labels(p)
    assert sum(len(d) for d in lab.frames.values()) == len(rows)
    for f, (x, y, w, h), c in rows:
        d = lab.frames[f - 1]
        hit = np.isclose(d.xyxy, [x, y, x + w, y + h]).all(axis=1) & np.isclose(d.scores, c)
        assert hit.any()


@settings(max_examples=40, deadline=None)
@given(objs=st.lists(st.tuples(box, st.sampled_from(list(RoadClass)), st.one_of(st.none(), st.floats(0, 300))), max_size=10))
def test_json_round_trip(tmp_path_factory: pytest.TempPathFactory, objs: list[tuple[tuple[float, float, float, float], RoadClass, float | None]]) -> None:
    doc = {"frames": [{"frame": 0, "objects": [
        {"cls": c.value, "xyxy": [x, y, x + w, y + h], "distance_m": d} for (x, y, w, h), c, d in objs
    ]}]}
    p = tmp_path_factory.mktemp("json") / "detections.json"
    p.write_text(json.dumps(doc))
    d0 = load_labels(p).frames[0]
    assert list(d0.classes) == [c for _, c, _ in objs]
    assert d0.distance_m is not None
    for i, (_, _, dist) in enumerate(objs):
        assert (np.isnan(d0.distance_m[i]) if dist is None else d0.distance_m[i] == dist)


def test_factory_requires_a_labels_file() -> None:
    cfg = load_config(overrides={"perception": {"detector": "replay"}})
    with pytest.raises(ValueError, match=r"needs perception\.replay_path"):
        build_detector(cfg)


def test_every_configurable_detector_has_a_factory_and_no_more() -> None:
    """``adapters.detectors.DETECTORS`` is the one table ``build_detector`` reads; its names
    are exactly the types ``perception.detector`` accepts (the variants of its union), so a
    config model without a factory, or the reverse, fails here rather than at a user's run."""
    from saferoad.adapters.detectors import DETECTORS
    from saferoad.config.detectors import detector_variants

    accepted = set(detector_variants())
    assert {"onnx", "grpc", "replay"} <= accepted and set(DETECTORS) == accepted
