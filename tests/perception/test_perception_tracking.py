"""ByteTrack-style tracker: stable ids, BYTE low-score rescue, classes, bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoad.domain.tracking import ByteTracker, TrackerParams, iou_matrix
from saferoad.domain.types import Detections, RoadClass


def _det(boxes: list[list[float]], scores: list[float], classes: list[RoadClass] | None = None) -> Detections:
    cls = classes or [RoadClass.VEHICLE] * len(boxes)
    return Detections(np.asarray(boxes, float).reshape(-1, 4), np.asarray(scores, float), tuple(cls))


def test_two_moving_objects_keep_their_ids() -> None:
    tr = ByteTracker()
    seen: dict[int, list[float]] = {}
    for f in range(60):
        a = [100 + 4 * f, 200, 180 + 4 * f, 260]
        b = [600 - 3 * f, 220, 680 - 3 * f, 290]
        objs = tr.update(_det([a, b], [0.9, 0.8]))
        assert len(objs) == 2
        for o in objs:
            seen.setdefault(o.track_id, []).append(o.xyxy[0])
    assert sorted(seen) == [1, 2]
    assert seen[1][-1] > seen[1][0] and seen[2][-1] < seen[2][0]


def test_low_score_detections_keep_a_track_alive() -> None:
    """The BYTE step: an occluded car whose score drops to 0.3 keeps its id."""
    tr = ByteTracker()
    for f in range(10):
        (o,) = tr.update(_det([[100 + 2 * f, 100, 200 + 2 * f, 180]], [0.9]))
        assert o.track_id == 1
    for f in range(10, 15):
        objs = tr.update(_det([[100 + 2 * f, 100, 200 + 2 * f, 180]], [0.3]))
        assert [o.track_id for o in objs] == [1]
    (o,) = tr.update(_det([[130, 100, 230, 180]], [0.9]))
    assert o.track_id == 1


def test_track_survives_a_short_gap_and_is_forgotten_after_the_buffer() -> None:
    tr = ByteTracker(TrackerParams(max_lost_frames=5))
    for f in range(5):
        tr.update(_det([[100 + 2 * f, 100, 200 + 2 * f, 180]], [0.9]))
    for _ in range(3):
        assert tr.update(Detections.empty()) == []
    (o,) = tr.update(_det([[116, 100, 216, 180]], [0.9]))
    assert o.track_id == 1
    for _ in range(7):
        tr.update(Detections.empty())
    assert len(tr) == 0
    tr.update(_det([[116, 100, 216, 180]], [0.9]))
    objs = tr.update(_det([[118, 100, 218, 180]], [0.9]))
    assert [o.track_id for o in objs] == [2]  # a new id, never reused


def test_classes_never_mix() -> None:
    tr = ByteTracker()
    tr.update(_det([[100, 100, 200, 200]], [0.9], [RoadClass.VEHICLE]))
    tr.update(_det([[100, 100, 200, 200]], [0.9], [RoadClass.PERSON]))
    objs = tr.update(_det([[100, 100, 200, 200]], [0.9], [RoadClass.PERSON]))
    assert [(o.track_id, o.cls) for o in objs] == [(2, RoadClass.PERSON)]


@pytest.mark.slow
def test_memory_stays_flat_on_a_long_stream() -> None:
    """2 000 frames of objects appearing, moving and leaving (about 400 tracks): held
    tracks stay bounded, and once warm the tracker retains no new memory (tracemalloc over
    the last 1 200 frames) — no removed-track list growing forever."""
    rng = np.random.default_rng(3)
    tr = ByteTracker(TrackerParams(max_lost_frames=30))
    objects: list[list[float]] = []
    held = []
    mem = []
    for f in range(2_000):
        if f == 800:
            tracemalloc.start()
        if rng.random() < 0.2:
            x, y = rng.uniform(0, 1200), rng.uniform(0, 600)
            objects.append([x, y, x + 60, y + 40, rng.uniform(-5, 5)])
        objects = [[o[0] + o[4], o[1], o[2] + o[4], o[3], o[4]] for o in objects if rng.random() > 0.05]
        boxes = [o[:4] for o in objects]
        tr.update(_det(boxes, [0.9] * len(boxes)))
        held.append(len(tr))
        if f >= 800 and f % 200 == 199:
            mem.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    assert tr._next_id > 250  # many tracks came and went
    assert max(held[1000:]) <= max(held[:1000]) + 10
    # retained memory after warm-up: a few live tracks' worth, not growing with time
    assert mem[-1] - mem[0] < 100_000, mem


@settings(max_examples=30, deadline=None)
@given(
    boxes=st.lists(
        st.tuples(st.floats(0, 1000), st.floats(0, 600), st.floats(5, 200), st.floats(5, 200)),
        min_size=0,
        max_size=12,
    ),
    frames=st.integers(1, 6),
)
def test_ids_unique_per_frame_and_static_boxes_keep_ids(
    boxes: list[tuple[float, float, float, float]], frames: int
) -> None:
    xyxy = [[x, y, x + w, y + h] for x, y, w, h in boxes]
    tr = ByteTracker()
    first = None
    for _ in range(frames):
        objs = tr.update(_det(xyxy, [0.9] * len(xyxy)))
        ids = [o.track_id for o in objs]
        assert len(ids) == len(set(ids))
        if first is None:
            first = sorted(ids)
        assert sorted(ids) == first


def test_iou_matrix() -> None:
    a = np.array([[0, 0, 10, 10.0]])
    b = np.array([[0, 0, 10, 10.0], [5, 0, 15, 10.0], [20, 20, 30, 30.0]])
    assert iou_matrix(a, b).round(4).tolist() == [[1.0, 0.3333, 0.0]]
    assert iou_matrix(a, np.zeros((0, 4))).shape == (1, 0)
