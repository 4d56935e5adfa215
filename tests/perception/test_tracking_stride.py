"""The tracker follows time, not updates: a live camera's adaptive stride infers every k-th
frame, and ``ByteTracker.update(detections, steps=k)`` predicts the k frames skipped and counts
them towards the lost-track buffer. The same drive at stride 1, 2 and 3 (and a stride that
changes as the adaptive one does) keeps the same tracks with the same ids; a track lost a
little less than the buffer (in seconds) comes back under its id, one lost a little more does
not, whatever the stride."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pytest

from saferoad.application.perception import run_perception, track_steps, tracker_params
from saferoad.config.perception import PerceptionConfig
from saferoad.domain.tracking import ByteTracker
from saferoad.domain.types import Detections, Frame, RoadClass

FPS = 30.0
BUFFER_S = 1.0
N_FRAMES = 180  # 6 s


def _params() -> object:
    return tracker_params(SimpleNamespace(track_high_score=0.5, track_low_score=0.1, track_new_score=0.6,
                                          track_match_iou=0.2, track_buffer_s=BUFFER_S), FPS)  # fmt: skip


def _scene(f: int) -> dict[str, list[float]]:
    """Objects seen in source frame ``f`` (30 fps), by name. Gaps start and end on multiples of
    6 frames, so strides 1, 2 and 3 see each object leave and come back at the same frames."""
    out: dict[str, list[float]] = {}
    # a car passing at 240 px/s (8 px a frame), 60 px wide: boxes 3 frames apart still overlap
    # (IoU association needs that; a track starts with no velocity)
    out["passing"] = [100 + 8 * f, 300, 160 + 8 * f, 350]
    # a car moving across at 3 px a frame, occluded 0.8 s (frames 36..59): predicted across
    if not 36 <= f < 60:
        out["crossing"] = [200 + 3 * f, 400, 280 + 3 * f, 470]
    # a lead car drifting slowly, occluded 0.8 s (frames 60..83): back under its id
    if not 60 <= f < 84:
        out["lead"] = [600 + 0.5 * f, 250, 700 + 0.5 * f, 320]
    # a parked car, gone 1.4 s (frames 90..131: past the 1 s buffer): a new track after
    if not 90 <= f < 132:
        out["parked"] = [1000, 260, 1080, 330]
    return out


def _run(strides: list[int]) -> dict[str, list[int]]:
    """Track the scene inferring every ``strides[i]``-th frame (cycled); the ids each object got.
    Every object is reported in every inferred frame it is in, but a new track's first."""
    tr = ByteTracker(_params())  # type: ignore[arg-type]
    ids: dict[str, list[int]] = {}
    missed: dict[str, int] = {}
    f, i, last_t = 0, 0, None
    while f < N_FRAMES:
        t = f / FPS
        steps = 1 if last_t is None else track_steps(t - last_t, FPS)
        last_t = t
        objs = _scene(f)
        names = list(objs)
        det = Detections(np.asarray([objs[n] for n in names], float).reshape(-1, 4),
                         np.full(len(names), 0.9), (RoadClass.VEHICLE,) * len(names))  # fmt: skip
        out = tr.update(det, steps)
        reported = {n for n in names for o in out if np.allclose(objs[n], o.xyxy)}
        for n in set(names) - reported:
            missed[n] = missed.get(n, 0) + 1
        for o in out:
            # the object whose box this is (the tracker reports the matched detection's box)
            name = next(n for n in names if np.allclose(objs[n], o.xyxy))
            if not ids.get(name) or ids[name][-1] != o.track_id:
                ids.setdefault(name, []).append(o.track_id)
        f += strides[i % len(strides)]
        i += 1
    # the first frame's tracks start confirmed; a track started later is reported from its second
    assert missed == {"parked": 1}, (strides, missed)
    return ids


@pytest.mark.parametrize("strides", [[1], [2], [3], [1, 1, 3, 3, 2, 1, 3]])
def test_the_same_tracks_and_ids_whatever_the_stride(strides: list[int]) -> None:
    ids = _run(strides)
    # the passing car, the occluded lead and crossing car keep one id each; the parked car lost
    # 1.4 s comes back as a new track (1 s buffer) - the same at every stride
    assert [len(ids[n]) for n in ("passing", "crossing", "lead", "parked")] == [1, 1, 1, 2], (strides, ids)
    assert ids == _run([1]), (strides, ids)


def test_without_the_steps_the_buffer_counted_updates_and_the_prediction_lagged() -> None:
    """What ``steps`` fixes, on the same scene: a tracker told nothing of the frames skipped
    (every update one frame) keeps the parked car over its 1.4 s away at stride 2 (21 updates
    missed; its 30-frame buffer counted updates: 2 s at stride 2)."""
    tr = ByteTracker(_params())  # type: ignore[arg-type]
    ids: dict[str, set[int]] = {}
    f = 0
    while f < N_FRAMES:
        objs = _scene(f)
        names = list(objs)
        det = Detections(np.asarray([objs[n] for n in names], float).reshape(-1, 4),
                         np.full(len(names), 0.9), (RoadClass.VEHICLE,) * len(names))  # fmt: skip
        for o in tr.update(det):  # steps=1: the tracker before
            ids.setdefault(next(n for n in names if np.allclose(objs[n], o.xyxy)), set()).add(o.track_id)
        f += 2
    assert len(ids["parked"]) == 1  # kept 1.4 s with a 1 s buffer


def test_steps_of_one_are_the_tracker_before() -> None:
    """``steps=1`` (every replay and analyze) is the same tracker: same ids and boxes."""
    rng = np.random.default_rng(3)
    a, b = ByteTracker(), ByteTracker()
    for f in range(50):
        n = int(rng.integers(0, 4))
        boxes = np.column_stack([rng.uniform(0, 500, n), rng.uniform(0, 300, n)])
        boxes = np.hstack([boxes, boxes + rng.uniform(20, 80, (n, 2))])
        det = Detections(boxes, rng.uniform(0.05, 1.0, n), (RoadClass.VEHICLE,) * n)
        assert a.update(det) == b.update(det, 1), f


def test_steps_must_be_positive() -> None:
    with pytest.raises(ValueError, match="steps"):
        ByteTracker().update(Detections(np.zeros((0, 4)), np.zeros(0), ()), 0)
    assert track_steps(2 / FPS, FPS) == 2 and track_steps(1e-4, FPS) == 1 and track_steps(0.1, FPS) == 3


class _SceneDetector:
    """The scene's boxes for the frame's index (a detector that sees exactly what is there)."""

    name = "scene"

    def detect(self, frame: Frame) -> Detections:
        objs = _scene(frame.index)
        return Detections(np.asarray(list(objs.values()), float).reshape(-1, 4), np.full(len(objs), 0.9),
                          (RoadClass.VEHICLE,) * len(objs))  # fmt: skip


class _LiveFrames:
    """Frames as the live camera hands them to perception (``application/edge_live``'s
    ``_StridedFrames``): every k-th, at the nominal rate, ``track_by_time`` set."""

    fps = FPS
    stride = 1

    def __init__(self, strides: list[int], by_time: bool) -> None:
        self.strides, self.track_by_time = strides, by_time

    def __iter__(self) -> Iterator[Frame]:
        image = np.zeros((720, 1280, 3), np.uint8)
        f, i = 0, 0
        while f < N_FRAMES:
            yield Frame(f, f / FPS, image)
            f += self.strides[i % len(self.strides)]
            i += 1


def _perception_ids(frames: _LiveFrames) -> dict[str, set[int]]:
    cfg = PerceptionConfig(track_buffer_s=BUFFER_S)
    ids: dict[str, set[int]] = {}
    for frame, objs in run_perception(frames, _SceneDetector(), None, None, cfg, horizon=None, workers=1):
        scene = _scene(frame.index)
        for o in objs:
            name = next(n for n, b in scene.items() if np.allclose(b, o.xyxy))
            ids.setdefault(name, set()).add(o.track_id)
    return ids


def test_the_live_camera_s_frames_step_the_tracker_by_their_times() -> None:
    """``run_perception`` steps its ByteTracker by the frames' times where the frames say so
    (the live camera's): the parked car's 1.4 s away forgets it at stride 2 as at stride 1; the
    same frames without ``track_by_time`` (a replay's, one step a frame) keep it."""
    live = _perception_ids(_LiveFrames([2], by_time=True))
    assert live == _perception_ids(_LiveFrames([1], by_time=True)) and len(live["parked"]) == 2, live
    assert len(_perception_ids(_LiveFrames([2], by_time=False))["parked"]) == 1
