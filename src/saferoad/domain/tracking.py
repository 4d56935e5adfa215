"""Multi-object tracking, ByteTrack-style (Zhang et al., "ByteTrack: Multi-Object Tracking
by Associating Every Detection Box", ECCV 2022), on SciPy's assignment solver.

Why not a library: the maintained Python implementations either need torch (BoxMOT),
pull ``opencv-python`` beside our ``opencv-python-headless`` (roboflow ``trackers`` 2.6),
or no longer ship a tracker (``supervision`` 0.31). The algorithm is short; this is a
clean re-implementation of the paper's association:

1. Predict every track with a constant-velocity Kalman filter on (cx, cy, aspect, h).
2. Match *high*-score detections (``>= high_score``) to confirmed and lost tracks by IoU
   (Hungarian, ``linear_sum_assignment``), cost 1 − IoU, gated at ``match_iou``.
3. Match the *low*-score detections (``low_score`` .. ``high_score``) to the confirmed
   tracks still unmatched — the "BYTE" step that keeps occluded objects alive.
4. Match remaining high detections to tentative (one-frame) tracks; unmatched tentative
   tracks are dropped.
5. Start a tentative track from each remaining detection scoring ``>= new_track_score``.
6. A track unseen for more than ``max_lost_frames`` frames is deleted — and forgotten:
   no removed-track list is kept, so memory stays flat on endless streams.

Frames skipped between two updates (a live camera's adaptive stride infers every k-th frame,
``domain/stride.py``): ``update(detections, steps=k)`` predicts the tracks k frames ahead (the
one-frame prediction applied k times, its uncertainty growing as it would over k frames) and
counts k frames towards ``max_lost_frames``, so the frame unit stays the source's frame and a
lost track is kept the same time whatever the stride. ``steps=1`` is the paper's tracker.

Classes never mix: a detection only matches a track of the same class. Ids start at 1 and
only grow. The reported box is the matched detection's (the Kalman state only predicts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from saferoad.domain.types import Detections, FloatArray, RoadClass, TrackedObject

_STD_POS = 1.0 / 20.0
_STD_VEL = 1.0 / 160.0


def iou_matrix(a: FloatArray, b: FloatArray) -> FloatArray:
    """Pairwise IoU of boxes ``a`` (N, 4) and ``b`` (M, 4), xyxy."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out: FloatArray = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return out


def _xyxy_to_xyah(b: FloatArray) -> FloatArray:
    w, h = b[2] - b[0], b[3] - b[1]
    return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, w / max(h, 1e-6), h])


def _xyah_to_xyxy(m: FloatArray) -> FloatArray:
    cx, cy, a, h = m[:4]
    w = a * h
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


_F = np.eye(8)
for _i in range(4):
    _F[_i, 4 + _i] = 1.0
_H = np.eye(4, 8)


@dataclass(slots=True)
class _Track:
    track_id: int
    cls: RoadClass
    mean: FloatArray
    cov: FloatArray
    score: float
    box: FloatArray
    confirmed: bool
    last_frame: int
    hits: int = 1
    label: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    distance_m: float | None = None

    @classmethod
    def start(cls, tid: int, box: FloatArray, c: RoadClass, score: float, frame: int) -> _Track:
        m = _xyxy_to_xyah(box)
        h = m[3]
        std = np.array(
            [2 * _STD_POS * h, 2 * _STD_POS * h, 1e-2, 2 * _STD_POS * h,
             10 * _STD_VEL * h, 10 * _STD_VEL * h, 1e-5, 10 * _STD_VEL * h]
        )
        return cls(
            tid, c, np.concatenate([m, np.zeros(4)]), np.diag(std**2), score, box.copy(),
            False, frame,
        )

    def predict(self) -> None:
        h = self.mean[3]
        std = np.array(
            [_STD_POS * h, _STD_POS * h, 1e-2, _STD_POS * h,
             _STD_VEL * h, _STD_VEL * h, 1e-5, _STD_VEL * h]
        )
        self.mean = _F @ self.mean
        self.cov = _F @ self.cov @ _F.T + np.diag(std**2)

    def predicted_box(self) -> FloatArray:
        return _xyah_to_xyxy(self.mean)

    def update(self, box: FloatArray, score: float, frame: int) -> None:
        z = _xyxy_to_xyah(box)
        h = self.mean[3]
        r = np.diag(np.array([_STD_POS * h, _STD_POS * h, 1e-1, _STD_POS * h]) ** 2)
        s = _H @ self.cov @ _H.T + r
        k = np.linalg.solve(s, _H @ self.cov).T
        self.mean = self.mean + k @ (z - _H @ self.mean)
        self.cov = self.cov - k @ s @ k.T
        self.box = box.copy()
        self.score = score
        self.last_frame = frame
        self.hits += 1


@dataclass(frozen=True, slots=True)
class TrackerParams:
    """ByteTrack's thresholds; defaults are the reference implementation's (track_thresh
    0.5, match_thresh 0.8, new track 0.6, buffer 30 frames at 30 fps); saferoad's config
    lowers the score splits for YOLOX-nano (docs/perception.md)."""

    high_score: float = 0.5
    low_score: float = 0.1
    new_track_score: float = 0.6
    match_iou: float = 0.2
    """Minimum IoU for the first association (reference: cost 1 − IoU ≤ 0.8)."""
    low_match_iou: float = 0.5
    tentative_match_iou: float = 0.3
    max_lost_frames: int = 30


def _assign(cost: FloatArray, max_cost: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    n, m = cost.shape
    if n == 0 or m == 0:
        return [], list(range(n)), list(range(m))
    c = np.where(np.isfinite(cost), cost, 1e6)
    rows, cols = linear_sum_assignment(c)
    pairs = [(int(r), int(k)) for r, k in zip(rows, cols, strict=True) if c[r, k] <= max_cost]
    mr = {p[0] for p in pairs}
    mc = {p[1] for p in pairs}
    return pairs, [i for i in range(n) if i not in mr], [j for j in range(m) if j not in mc]


class ByteTracker:
    """Streaming ByteTrack: call :meth:`update` once per frame, in order."""

    def __init__(self, params: TrackerParams | None = None) -> None:
        self.params = params or TrackerParams()
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._frame = -1
        """The source frame of the last update (frames skipped between updates counted)."""

    def __len__(self) -> int:
        """Tracks held in memory (confirmed, lost and tentative)."""
        return len(self._tracks)

    @property
    def active_ids(self) -> frozenset[int]:
        return frozenset(t.track_id for t in self._tracks if t.confirmed)

    def _cost(self, tracks: Sequence[_Track], boxes: FloatArray, classes: Sequence[RoadClass]) -> FloatArray:
        if not tracks or len(boxes) == 0:
            return np.zeros((len(tracks), len(boxes)))
        pred = np.stack([t.predicted_box() for t in tracks])
        cost = 1.0 - iou_matrix(pred, boxes)
        tc = np.array([t.cls.value for t in tracks])[:, None]
        dc = np.array([c.value for c in classes])[None, :]
        out: FloatArray = np.where(tc == dc, cost, np.inf)
        return out

    def update(self, detections: Detections, steps: int = 1) -> list[TrackedObject]:
        """Associate one frame's detections; returns the confirmed tracks seen in it.
        ``steps``: source frames since the previous update (1: none skipped)."""
        if steps < 1:
            raise ValueError(f"tracker: steps {steps} must be >= 1")
        p = self.params
        first_frame = self._frame < 0
        prev = self._frame
        self._frame = 0 if first_frame else self._frame + steps
        f = self._frame
        boxes = np.asarray(detections.xyxy, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(detections.scores, dtype=np.float64)
        classes = detections.classes
        # a track lost longer than the buffer is forgotten below: no need to predict further
        for _ in range(1 if first_frame else min(steps, p.max_lost_frames + 1)):
            for t in self._tracks:
                t.predict()

        high = np.flatnonzero(scores >= p.high_score)
        low = np.flatnonzero((scores >= p.low_score) & (scores < p.high_score))
        pool = [t for t in self._tracks if t.confirmed]
        tentative = [t for t in self._tracks if not t.confirmed]
        matched: list[tuple[_Track, int]] = []

        cost = self._cost(pool, boxes[high], [classes[i] for i in high])
        pairs, un_t, un_d = _assign(cost, 1.0 - p.match_iou)
        matched += [(pool[a], int(high[b])) for a, b in pairs]
        rest_high = [int(high[j]) for j in un_d]

        # BYTE: low-score boxes rescue tracks that were seen at the last update
        remaining = [pool[i] for i in un_t if pool[i].last_frame == prev]
        cost = self._cost(remaining, boxes[low], [classes[i] for i in low])
        pairs, _, _ = _assign(cost, 1.0 - p.low_match_iou)
        matched += [(remaining[a], int(low[b])) for a, b in pairs]

        cost = self._cost(tentative, boxes[rest_high], [classes[i] for i in rest_high])
        pairs, _, un_d2 = _assign(cost, 1.0 - p.tentative_match_iou)
        for a, _ in pairs:
            tentative[a].confirmed = True
        matched += [(tentative[a], rest_high[b]) for a, b in pairs]
        new_dets = [rest_high[j] for j in un_d2]

        for t, j in matched:
            t.update(boxes[j], float(scores[j]), f)
            t.cls = classes[j]
            t.label = detections.labels[j] if detections.labels is not None else None
            t.attributes = dict(detections.attributes[j]) if detections.attributes is not None else {}
            d = detections.distance_m[j] if detections.distance_m is not None else math.nan
            t.distance_m = float(d) if math.isfinite(d) else None

        # forget: tentative tracks unmatched this frame, lost tracks past the buffer
        self._tracks = [
            t for t in self._tracks
            if (t.confirmed and f - t.last_frame <= p.max_lost_frames)
            or (not t.confirmed and t.last_frame == f)
        ]
        for j in new_dets:
            if scores[j] < p.new_track_score:
                continue
            t = _Track.start(self._next_id, boxes[j], classes[j], float(scores[j]), f)
            t.confirmed = first_frame  # as in ByteTrack: frame-1 tracks start confirmed
            t.label = detections.labels[j] if detections.labels is not None else None
            t.attributes = dict(detections.attributes[j]) if detections.attributes is not None else {}
            d = detections.distance_m[j] if detections.distance_m is not None else math.nan
            t.distance_m = float(d) if math.isfinite(d) else None
            self._next_id += 1
            self._tracks.append(t)

        out = []
        for t in self._tracks:
            if t.confirmed and t.last_frame == f:
                attrs = dict(t.attributes)
                if t.label is not None:
                    attrs.setdefault("label", t.label)
                out.append(
                    TrackedObject(
                        track_id=t.track_id,
                        cls=t.cls,
                        score=t.score,
                        xyxy=(float(t.box[0]), float(t.box[1]), float(t.box[2]), float(t.box[3])),
                        distance_m=t.distance_m,
                        attributes=attrs,
                    )
                )
        out.sort(key=lambda o: o.track_id)
        return out


class PerFrameIds:
    """No tracking: every detection of every frame gets a new id (still images that are
    separate scenes). Same interface as :class:`ByteTracker`."""

    def __init__(self) -> None:
        self._next_id = 1

    def __len__(self) -> int:
        return 0

    @property
    def active_ids(self) -> frozenset[int]:
        return frozenset()

    def update(self, detections: Detections) -> list[TrackedObject]:
        out = []
        for j in range(len(detections)):
            attrs = dict(detections.attributes[j]) if detections.attributes is not None else {}
            if detections.labels is not None:
                attrs.setdefault("label", detections.labels[j])
            d = float(detections.distance_m[j]) if detections.distance_m is not None else math.nan
            b = detections.xyxy[j]
            out.append(
                TrackedObject(
                    track_id=self._next_id,
                    cls=detections.classes[j],
                    score=float(detections.scores[j]),
                    xyxy=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                    distance_m=d if math.isfinite(d) else None,
                    attributes=attrs,
                )
            )
            self._next_id += 1
        return out
