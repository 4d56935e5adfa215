"""Model-based detector: a card's pre-processing, an inference backend, a decoder, NMS.

:class:`ModelDetector` works with any :class:`~saferoad.ports.detector.InferenceBackend`
(local :class:`~saferoad.adapters.onnx.backend.OnnxBackend`, or a remote KServe v2 gRPC
backend): the card says how to prepare the tensor and how to read the output, the backend
only runs it. The card is checked against the backend's real tensors at construction.

The work is split in :meth:`ModelDetector.preprocess` and :meth:`ModelDetector.postprocess`
so a pipeline can run several frames' inference in parallel (see
``application/perception.py``); :meth:`ModelDetector.detect` does all three in a row.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from saferoad.adapters.onnx.card import ModelCard, check_card
from saferoad.adapters.onnx.classes import ROAD_ORDER, road_class_table
from saferoad.adapters.onnx.lamp import lamp_colour
from saferoad.domain.geometry import CameraModel, horizon_band
from saferoad.domain.types import CameraIntrinsics, CameraMount, Detections, Frame, RoadClass
from saferoad.ports.detector import InferenceBackend
from saferoad.process_settings import SharedSetting

F32 = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class LetterboxInfo:
    """How an input pixel maps back: ``source = (input - pad) / scale`` per axis."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    src_w: int
    src_h: int
    offset_x: float = 0.0
    """Where the image given to :func:`preprocess_image` sits in the frame (tiles)."""
    offset_y: float = 0.0


def preprocess_image(
    image: NDArray[np.uint8], card: ModelCard, *, as_uint8: bool = False
) -> tuple[NDArray[Any], LetterboxInfo]:
    """Resize (letterbox or stretch), reorder colour, normalise and lay out as NCHW.

    ``as_uint8``: return the uint8 NCHW image before the float conversion — the same values
    the float tensor would hold, for a model served with a UINT8 input (cards whose input is
    raw 0-255 pixels only, :attr:`ModelCard.raw_pixels`)."""
    h, w = image.shape[:2]
    in_w, in_h = card.input_width, card.input_height
    if card.resize == "letterbox":
        r = min(in_w / w, in_h / h)
        nw, nh = max(1, round(w * r)), max(1, round(h * r))
        canvas: NDArray[Any] = np.full((in_h, in_w, 3), card.pad_value, dtype=np.uint8)
        if card.align == "centre":
            px, py = (in_w - nw) // 2, (in_h - nh) // 2
        else:
            px, py = 0, 0
        # resize straight into the canvas (no temporary image, no second copy)
        cv2.resize(image, (nw, nh), dst=canvas[py : py + nh, px : px + nw], interpolation=cv2.INTER_LINEAR)
        info = LetterboxInfo(nw / w, nh / h, float(px), float(py), w, h)
    else:
        canvas = cv2.resize(image, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
        info = LetterboxInfo(in_w / w, in_h / h, 0.0, 0.0, w, h)
    return canvas_to_blob(canvas, card, as_uint8=as_uint8), info


def canvas_to_blob(canvas: NDArray[Any], card: ModelCard, *, as_uint8: bool = False) -> NDArray[Any]:
    """A BGR uint8 image of the model's input size as the model's input tensor (colour
    order, normalisation, NCHW); ``as_uint8`` as in :func:`preprocess_image`."""
    if card.colour == "RGB":
        canvas = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    in_h, in_w = canvas.shape[:2]
    if as_uint8:
        if not card.raw_pixels:
            raise ValueError(f"{card.path}: the input is normalised, it cannot be sent as uint8")
        return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None])
    # HWC uint8 -> NCHW float32 in one pass: one plane at a time (cv2.split), each cast
    # while copied into the output. ``canvas.transpose(2, 0, 1).astype(np.float32)`` keeps
    # the HWC memory order, so it needed a second full copy to become contiguous.
    blob: NDArray[np.float32] = np.empty((1, 3, in_h, in_w), dtype=np.float32)
    for ch, plane in enumerate(cv2.split(canvas)):
        blob[0, ch] = plane
    if card.scale != 1.0:
        blob *= np.float32(card.scale)
    if any(card.mean) or any(s != 1.0 for s in card.std):
        mean = np.asarray(card.mean, dtype=np.float32).reshape(1, 3, 1, 1)
        std = np.asarray(card.std, dtype=np.float32).reshape(1, 3, 1, 1)
        blob = (blob - mean) / std
    return blob


@dataclass(frozen=True, slots=True)
class Window:
    """A rectangle of the frame (``x0, y0, x1, y1``, source pixels) laid into a model input
    at ``(in_x, in_y)`` and resized by ``scale`` (the same on both axes)."""

    x0: int
    y0: int
    x1: int
    y1: int
    in_x: float
    in_y: float
    scale: float

    @property
    def in_w(self) -> float:
        return (self.x1 - self.x0) * self.scale

    @property
    def in_h(self) -> float:
        return (self.y1 - self.y0) * self.scale


CUT_TOLERANCE_PX = 6.0
"""Model-input pixels: a box edge this close to a window edge that lies inside the frame
counts as cut there (a truncated object's box ends at or a few pixels short of the edge;
less than one cell of the finest stride, 8)."""

MIN_BAND_GAIN = 1.5
"""The horizon-band pass runs only where it shows the band at this many times the full
frame's scale (a small or square frame gains nothing from a second look)."""

BOX_EDGE_SIGMA_INPUT_PX = 2.0
"""One sigma of a box edge in model-input pixels. Measured without labels by
``scripts/box_edge_noise.py``, from the same vehicles seen at two scales (each whole box of
the full-frame and band passes looked at again through a window at twice its scale, 257
pairs on the shared clips and frames; the edge differences' variance is
sigma²·(1/s1² + 1/s2²)): YOLOX-nano's edges agree to 1.1 model px (robust sd) with heavy
tails, 2.1 px RMS; the band's far boxes alone (23 pairs) 2.2-3.3 robust, 2.4-4.3 RMS. 2 px
is used (a lower bound: errors common to both looks do not show). A box found at scale ``s`` thus has edges ±2/s frame pixels: 6 px in the full-frame
pass of a 1242-px frame (s = 0.335), 2.9 px in the band (0.70). It travels with each box as
``attributes["edge_sigma_px"]`` (across, down) to the distance estimate."""

CROSS_PASS_IOS = 0.7
"""Two boxes of one road class from different passes, the smaller lying this much inside
the other (intersection over the smaller area, SAHI's IOS), are one object: the lower
score goes. Catches what IoU-based NMS cannot: a part of a near car the band saw whole
in its rows, or a far car whose full-frame box is loose."""


def suppress_across_passes(
    boxes: F32, scores: F32, classes: NDArray[np.int64], passes: NDArray[np.int64], ios: float = CROSS_PASS_IOS
) -> NDArray[np.bool_]:
    """Which boxes to keep: of two boxes from different ``passes`` with the same
    ``classes`` and an intersection over the smaller area >= ``ios`` (in (0, 1]), the
    lower-scoring one goes (greedy, highest score first, as NMS; on equal scores the
    earlier box stays). Boxes of one pass are left to NMS.

    O(n log n + k) for k pairs of boxes whose columns overlap: the pairs come from a sweep
    over the boxes sorted by their left edge (no n × n matrix), their overlap is computed
    for those pairs only, and the greedy pass visits only the boxes that have a partner."""
    if not 0.0 < ios <= 1.0:
        raise ValueError(f"suppress_across_passes: ios must be in (0, 1], got {ios}")
    n = len(boxes)
    keep = np.ones(n, dtype=bool)
    if n < 2 or len(np.unique(passes)) < 2:
        return keep
    b = boxes
    ok = np.flatnonzero(np.isfinite(b).all(axis=1) & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1]))
    # candidate pairs (a, c): c starts at or right of a's left edge and before its right edge
    idx = ok[np.argsort(b[ok, 0], kind="stable")]
    x0 = b[idx, 0]
    end = np.searchsorted(x0, b[idx, 2], side="left")
    count = np.maximum(end - np.arange(len(idx)) - 1, 0)
    if not count.any():
        return keep
    first = np.repeat(np.arange(len(idx)), count)
    offset = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    a, c = idx[first], idx[first + 1 + offset]
    pair = (classes[a] == classes[c]) & (passes[a] != passes[c])
    a, c = a[pair], c[pair]
    # the same arithmetic as the n × n formulation, so the decisions are identical
    iw = np.clip(np.minimum(b[a, 2], b[c, 2]) - np.maximum(b[a, 0], b[c, 0]), 0, None)
    ih = np.clip(np.minimum(b[a, 3], b[c, 3]) - np.maximum(b[a, 1], b[c, 1]), 0, None)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    hit = (iw * ih) / np.minimum(area[a], area[c]) >= ios
    a, c = a[hit], c[hit]
    if len(a) == 0:
        return keep
    # greedy in score order: direct each pair from the earlier-ranked box to the later one
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(-scores, kind="stable")] = np.arange(n)
    src = np.where(rank[a] < rank[c], a, c)
    dst = np.where(rank[a] < rank[c], c, a)
    order = np.argsort(rank[src], kind="stable")
    src, dst = src[order], dst[order]
    starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
    for s, e in zip(starts, np.r_[starts[1:], len(src)], strict=True):
        if keep[src[s]]:
            keep[dst[s:e]] = False
    return keep


def _scales(n: int, sx: float, sy: float) -> F32:
    """(n, 2) rows of one pass's model-input pixels per frame pixel (across, down)."""
    return np.tile(np.array([sx, sy], dtype=np.float32), (n, 1))


def pack_band(
    width: int,
    height: int,
    rows: tuple[float, float],
    in_w: int,
    in_h: int,
    *,
    overlap_px: int,
    gap_px: int = 16,
    max_strips: int = 4,
    max_scale: float = 2.0,
) -> list[Window]:
    """Lay the band of frame rows ``rows`` (top, bottom) into one ``in_w × in_h`` model
    input as ``k`` side-by-side strips stacked top to bottom, ``gap_px`` input pixels
    apart, neighbouring strips overlapping by ``overlap_px`` source pixels; ``k`` (1 to
    ``max_strips``) is the one giving the largest scale (fewest strips on a tie). A wide,
    low band (the road near the horizon) thus reaches the model at 2-3x the full frame's
    scale for one inference. ``[]`` when the band is empty."""
    y0 = max(0, int(np.floor(rows[0])))
    y1 = min(height, int(np.ceil(rows[1])))
    hb = y1 - y0
    if hb < 2 or width < 2:
        return []
    best: tuple[float, int, int] | None = None
    for k in range(1, max_strips + 1):
        sw = min(width, int(np.ceil((width + (k - 1) * overlap_px) / k)))
        s = min(in_w / sw, (in_h - (k - 1) * gap_px) / (k * hb), max_scale)
        if s > 0 and (best is None or s > best[0] * 1.0001):
            best = (s, k, sw)
    if best is None:
        return []
    s, k, sw = best
    xs = [0] if k == 1 else [round(i * (width - sw) / (k - 1)) for i in range(k)]
    step = np.floor(hb * s) + gap_px
    return [Window(x, y0, x + sw, y1, 0.0, float(i * step), s) for i, x in enumerate(xs)]


def pack_band_at(
    width: int,
    height: int,
    rows: tuple[float, float],
    in_w: int,
    in_h: int,
    scale: float,
    *,
    overlap_px: int,
    gap_px: int = 16,
) -> list[list[Window]]:
    """The band of frame rows ``rows`` at a chosen ``scale`` (model pixels per frame pixel;
    lowered to what fits when the band's height would not fit one input): side-by-side
    strips as wide as an ``in_w`` input shows at that scale, neighbouring ones overlapping
    by ``overlap_px`` source pixels, stacked top to bottom ``gap_px`` apart, as many in one
    input as fit; one list of windows per model input (``[]`` when the band is empty).
    A larger scale means more strips and inputs over the same rows: the cost of seeing far
    objects bigger (issue 22; :func:`pack_band` is the one-input packing)."""
    if not scale > 0:
        raise ValueError(f"pack_band_at: scale must be > 0, got {scale}")
    y0 = max(0, int(np.floor(rows[0])))
    y1 = min(height, int(np.ceil(rows[1])))
    hb = y1 - y0
    if hb < 2 or width < 2:
        return []
    s = min(scale, in_h / hb)
    sw = min(width, int(np.floor(in_w / s + 1e-6)))  # a scale from in_w / sw gives sw back
    if sw < width and sw <= overlap_px:
        raise ValueError(
            f"pack_band_at: at scale {s:.3f} a strip shows {sw} px, not more than the {overlap_px} px overlap"
        )
    n = 1 if sw >= width else int(np.ceil((width - overlap_px) / (sw - overlap_px)))
    xs = [0] if n == 1 else [round(i * (width - sw) / (n - 1)) for i in range(n)]
    sh = np.floor(hb * s)
    per_input = max(1, int((in_h + gap_px) // (sh + gap_px)))
    return [
        [Window(x, y0, x + sw, y1, 0.0, float(j * (sh + gap_px)), s) for j, x in enumerate(xs[i : i + per_input])]
        for i in range(0, n, per_input)
    ]


def render_windows(image: NDArray[np.uint8], windows: list[Window], in_w: int, in_h: int, pad: int) -> NDArray[np.uint8]:
    """The model input holding ``windows`` of ``image`` (the rest filled with ``pad``)."""
    canvas: NDArray[np.uint8] = np.full((in_h, in_w, 3), pad, dtype=np.uint8)
    for w in windows:
        tw = min(in_w - int(w.in_x), max(1, int(np.floor(w.in_w))))
        th = min(in_h - int(w.in_y), max(1, int(np.floor(w.in_h))))
        x, y = int(w.in_x), int(w.in_y)
        cv2.resize(
            image[w.y0 : w.y1, w.x0 : w.x1], (tw, th), dst=canvas[y : y + th, x : x + tw],
            interpolation=cv2.INTER_LINEAR,
        )
    return canvas


def boxes_from_windows(
    boxes: F32, windows: list[Window], width: int, height: int
) -> tuple[F32, NDArray[np.bool_]]:
    """Model-input boxes (xyxy) of an input holding ``windows`` → frame boxes, and which
    are whole. Each box belongs to the window holding its centre (a box centred outside
    every window is dropped: its row is set to NaN and counted as not whole) and is clipped
    to it; a box reaching a window edge that lies inside the frame is cut there — the
    object goes on beyond the window, so the box is a fragment, not the object."""
    n = len(boxes)
    out = np.full((n, 4), np.nan, dtype=np.float32)
    whole = np.zeros(n, dtype=bool)
    if n == 0:
        return out, whole
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    t = CUT_TOLERANCE_PX
    for w in windows:
        ex, ey = w.in_x + w.in_w, w.in_y + w.in_h
        inside = (cx >= w.in_x) & (cx < ex) & (cy >= w.in_y) & (cy < ey) & np.isnan(out[:, 0])
        if not inside.any():
            continue
        b = boxes[inside].copy()
        b[:, [0, 2]] = np.clip(b[:, [0, 2]], w.in_x, ex)
        b[:, [1, 3]] = np.clip(b[:, [1, 3]], w.in_y, ey)
        cut = np.zeros(len(b), dtype=bool)
        if w.x0 > 0:
            cut |= b[:, 0] <= w.in_x + t
        if w.x1 < width:
            cut |= b[:, 2] >= ex - t
        if w.y0 > 0:
            cut |= b[:, 1] <= w.in_y + t
        if w.y1 < height:
            cut |= b[:, 3] >= ey - t
        b[:, [0, 2]] = (b[:, [0, 2]] - w.in_x) / w.scale + w.x0
        b[:, [1, 3]] = (b[:, [1, 3]] - w.in_y) / w.scale + w.y0
        out[inside] = b
        whole[inside] = ~cut
    return out, whole


_OPENCV_THREADS = SharedSetting(cv2.getNumThreads, cv2.setNumThreads)


def opencv_threads(n: int) -> AbstractContextManager[None]:
    """OpenCV's own thread pool limited to ``n`` threads while the block runs (the
    setting is global to the process; the previous value is restored when the last of
    several overlapping blocks ends: :class:`~saferoad.process_settings.SharedSetting`).

    A pipeline that runs frames in parallel on one thread per core already keeps the cores
    busy; OpenCV splitting each resize across its pool on top of that only adds hand-offs
    and busy-waiting pool threads (measured: docs/perception.md, "Speed"). The results do
    not depend on the thread count."""
    return _OPENCV_THREADS.held(lambda _: n)


# --- decoders: model output → (boxes xyxy in input pixels, score, class id) -------------


def _yolox_grid(card: ModelCard) -> tuple[F32, F32]:
    grids, strides = [], []
    for s in card.strides:
        gh, gw = card.input_height // s, card.input_width // s
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        grids.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
        strides.append(np.full((gh * gw, 1), s))
    return (
        np.concatenate(grids).astype(np.float32),
        np.concatenate(strides).astype(np.float32),
    )


def decode_yolox(
    out: F32, card: ModelCard, keep: F32, thr: float, grid: tuple[F32, F32]
) -> tuple[F32, F32, NDArray[np.int64]]:
    """YOLOX head: [cx, cy, w, h, obj, cls...] per anchor; obj and cls already sigmoid;
    xy = (p + grid)·stride, wh = exp(p)·stride; score = obj·cls."""
    p = out.reshape(-1, out.shape[-1])
    obj = p[:, 4]
    cand = np.flatnonzero(obj >= thr)
    p = p[cand]
    cls = p[:, 5:] * keep  # zero the classes that are not road classes
    cid = cls.argmax(axis=1)
    score = p[:, 4] * cls[np.arange(len(cid)), cid]
    ok = score >= thr
    p, cid, score, cand = p[ok], cid[ok], score[ok], cand[ok]
    g, s = grid[0][cand], grid[1][cand]
    xy = (p[:, :2] + g) * s
    wh = np.exp(p[:, 2:4]) * s
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1)
    return boxes, score.astype(np.float32), cid.astype(np.int64)


def decode_ultralytics(
    out: F32, card: ModelCard, keep: F32, thr: float
) -> tuple[F32, F32, NDArray[np.int64]]:
    """Ultralytics YOLOv8/YOLO11 export: [1, 4+nc, N] of cx, cy, w, h (input pixels) and
    per-class sigmoid scores."""
    p = out.reshape(out.shape[-2], out.shape[-1]).T
    cls = p[:, 4:] * keep
    cid = cls.argmax(axis=1)
    score = cls[np.arange(len(cid)), cid]
    ok = score >= thr
    p, cid, score = p[ok], cid[ok], score[ok]
    xy, wh = p[:, :2], p[:, 2:4]
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1)
    return boxes, score.astype(np.float32), cid.astype(np.int64)


def decode_fastestdet(
    out: F32, card: ModelCard, keep: F32, thr: float
) -> tuple[F32, F32, NDArray[np.int64]]:
    """FastestDet: [1, 5+nc, H, W]; per cell obj (sigmoid), dx, dy (tanh offsets in cells),
    w, h (sigmoid, fraction of the input), cls (softmax); score = obj^0.6 · cls^0.4."""
    c, gh, gw = out.shape[-3:]
    p = out.reshape(c, gh * gw).T
    cls = p[:, 5:] * keep
    cid = cls.argmax(axis=1)
    cmax = cls[np.arange(len(cid)), cid]
    score = np.power(np.clip(p[:, 0], 0, 1), 0.6) * np.power(np.clip(cmax, 0, 1), 0.4)
    ok = score >= thr
    idx = np.flatnonzero(ok)
    p, cid, score = p[ok], cid[ok], score[ok]
    gy, gx = np.divmod(idx, gw)
    cx = (gx + np.tanh(p[:, 1])) / gw * card.input_width
    cy = (gy + np.tanh(p[:, 2])) / gh * card.input_height
    bw = 1.0 / (1.0 + np.exp(-p[:, 3])) * card.input_width
    bh = 1.0 / (1.0 + np.exp(-p[:, 4])) * card.input_height
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    return boxes.astype(np.float32), score.astype(np.float32), cid.astype(np.int64)


class ModelDetector:
    """A :class:`~saferoad.ports.detector.Detector` running a carded model on a backend.

    ``score_threshold``/``nms_iou`` override the card's. NMS is per road class (a car and
    a truck box on the same vehicle collapse into one ``vehicle``). ``lamp``: read the lamp
    colour of traffic lights from the box (``attributes["lamp"]``). ``tiles``: when > 0,
    also run the model on that many overlapping half-width windows over the top
    ``tile_band`` of the frame and merge (small signs and lights at a cost of
    ``1 + tiles`` inferences per frame; see docs/perception.md).

    ``horizon_band`` (default: the card's ``passes.horizon_band``): a second inference a
    frame on the band of rows around the horizon where far road users are
    (``Frame.horizon_band``, which ``run_perception`` sets from the camera geometry; where
    unset, the band of a level 90° camera 1.3 m high), laid into one model input as overlapping strips by
    :func:`pack_band`; skipped where the band cannot reach the model at
    :data:`MIN_BAND_GAIN` times the full frame's scale. Boxes of the band and tile passes
    that a window edge inside the frame cuts are fragments and never become objects
    (:func:`boxes_from_windows`); the whole boxes of all passes are merged by
    :func:`suppress_across_passes` and class-wise NMS.
    """

    def __init__(
        self,
        card: ModelCard,
        backend: InferenceBackend,
        *,
        score_threshold: float | None = None,
        nms_iou: float | None = None,
        max_detections: int | None = None,
        lamp: bool = True,
        tiles: int = 0,
        tile_band: float = 2.0 / 3.0,
        horizon_band: bool | None = None,
        band_overlap_px: int = 32,
        band_scale: float | None = None,
    ) -> None:
        check_card(card, backend)
        self.card = card
        self.backend = backend
        self.name = f"onnx:{card.name}"
        self.score_threshold = card.score_threshold if score_threshold is None else score_threshold
        self.nms_iou = card.nms_iou if nms_iou is None else nms_iou
        self.max_detections = card.max_detections if max_detections is None else max_detections
        self.lamp = lamp
        if tiles < 0 or not 0.0 < tile_band <= 1.0:
            raise ValueError("tiles must be >= 0 and tile_band in (0, 1]")
        self.tiles = tiles
        self.tile_band = tile_band
        self.horizon_band = card.horizon_band if horizon_band is None else horizon_band
        self.band_overlap_px = band_overlap_px
        """Model-input pixels: neighbouring band strips overlap by what this many pixels
        of the full-frame pass are in the frame, so an object too small for the full frame
        lies whole in at least one strip."""
        if band_scale is not None and not band_scale > 0:
            raise ValueError(f"band_scale must be > 0, got {band_scale}")
        self.band_scale = band_scale
        """Model pixels per frame pixel of the horizon band, laid over as many inputs as
        that takes (:func:`pack_band_at`); ``None``: one input, the largest scale it allows
        (:func:`pack_band`: 0.70 on KITTI, 0.80 on 720p)."""
        table = road_class_table(card.class_names)
        self._road = table
        self._keep = np.array([t is not None for t in table], dtype=np.float32)
        self._road_index = np.array(
            [ROAD_ORDER.index(t) if t is not None else -1 for t in table], dtype=np.int64
        )
        self._grid = _yolox_grid(card) if card.decoder == "yolox" else None
        # A model server that takes the raw pixels as UINT8 (and casts them to the model's
        # float itself) gets the uint8 image: a quarter of the bytes, the same numbers.
        spec = {s.name: s for s in backend.input_specs()}[card.input_name]
        self._uint8_input = spec.dtype == "uint8" and card.input_dtype != "uint8"

    def preprocess(self, frame: Frame) -> tuple[dict[str, NDArray[np.generic]], LetterboxInfo]:
        blob, info = preprocess_image(frame.image, self.card, as_uint8=self._uint8_input)
        return {self.card.input_name: blob}, info

    def infer(self, inputs: dict[str, NDArray[np.generic]]) -> dict[str, NDArray[np.generic]]:
        return self.backend.infer(inputs)

    def candidates(
        self, outputs: dict[str, NDArray[np.generic]], info: LetterboxInfo
    ) -> tuple[F32, F32, NDArray[np.int64]]:
        """Decoded boxes (frame pixels, xyxy), scores and model class ids above the score
        threshold, road classes only, before NMS."""
        boxes, scores, cids = self.decode(outputs)
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - info.pad_x) / info.scale_x + info.offset_x
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - info.pad_y) / info.scale_y + info.offset_y
        return boxes, scores, cids

    def decode(self, outputs: dict[str, NDArray[np.generic]]) -> tuple[F32, F32, NDArray[np.int64]]:
        """Decoded boxes in model-input pixels (xyxy, a new array), scores and model class
        ids above the score threshold, road classes only."""
        if self.card.output_name not in outputs:
            raise ValueError(
                f"{self.card.path}: backend returned {sorted(outputs)}, not output "
                f"{self.card.output_name!r}"
            )
        out = np.asarray(outputs[self.card.output_name], dtype=np.float32)
        expect = self.card.output_shape
        if len(out.shape) != len(expect) or any(
            e != -1 and e != r for e, r in zip(expect, out.shape, strict=True)
        ):
            raise ValueError(
                f"{self.card.path}: output {self.card.output_name!r} has shape "
                f"{list(out.shape)}, card says {list(expect)}"
            )
        thr = self.score_threshold
        if self.card.decoder == "yolox":
            assert self._grid is not None
            boxes, scores, cids = decode_yolox(out, self.card, self._keep, thr, self._grid)
        elif self.card.decoder == "ultralytics":
            boxes, scores, cids = decode_ultralytics(out, self.card, self._keep, thr)
        else:
            boxes, scores, cids = decode_fastestdet(out, self.card, self._keep, thr)
        # Scores are probabilities and boxes pixels: an output outside that (a model emitting
        # huge values, or one that does not fit its card) is an error, not a whole-frame box.
        if not (np.isfinite(boxes).all() and np.isfinite(scores).all()) or (scores > 1.0 + 1e-3).any():
            raise ValueError(
                f"{self.card.path}: output {self.card.output_name!r} decodes to non-finite boxes or "
                f"scores outside 0-1 (max score {float(np.max(scores, initial=0.0)):g}): the model is "
                "broken or does not fit its card"
            )
        return boxes.astype(np.float32, copy=True), scores, cids

    def postprocess(
        self,
        outputs: dict[str, NDArray[np.generic]],
        info: LetterboxInfo,
        image: NDArray[np.uint8] | None = None,
    ) -> Detections:
        """Decode one frame's model output into :class:`Detections` (frame pixels)."""
        boxes, scores, cids = self.candidates(outputs, info)
        w = image.shape[1] if image is not None else info.src_w
        h = image.shape[0] if image is not None else info.src_h
        return self.finish(boxes, scores, cids, w, h, image, _scales(len(boxes), info.scale_x, info.scale_y))

    def finish(
        self,
        boxes: F32,
        scores: F32,
        cids: NDArray[np.int64],
        width: int,
        height: int,
        image: NDArray[np.uint8] | None = None,
        scales: F32 | None = None,
    ) -> Detections:
        """Clip, drop degenerate boxes, class-wise NMS, top-k, lamp colour. ``scales``
        (N, 2): the model-input pixels per frame pixel (across, down) of the pass that found
        each box; with them each box gets ``attributes["edge_sigma_px"]``
        (:data:`BOX_EDGE_SIGMA_INPUT_PX` over its scale)."""
        if len(boxes) == 0:
            return Detections.empty()
        boxes = boxes.copy()
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
        wh = boxes[:, 2:] - boxes[:, :2]
        valid = (wh[:, 0] > 1) & (wh[:, 1] > 1)
        boxes, scores, cids, wh = boxes[valid], scores[valid], cids[valid], wh[valid]
        if scales is not None:
            scales = scales[valid]
        if len(boxes) == 0:
            return Detections.empty()
        road_ids = self._road_index[cids]
        xywh = np.concatenate([boxes[:, :2], wh], axis=1)
        kept = cv2.dnn.NMSBoxesBatched(
            xywh.tolist(), scores.tolist(), road_ids.tolist(), self.score_threshold, self.nms_iou
        )
        idx = np.asarray(kept, dtype=np.int64).reshape(-1)
        if len(idx) == 0:
            return Detections.empty()
        idx = idx[np.argsort(-scores[idx], kind="stable")][: self.max_detections]
        classes: list[RoadClass] = []
        labels: list[str] = []
        attrs: list[dict[str, Any]] = []
        for i in idx:
            rc = self._road[int(cids[i])]
            assert rc is not None
            classes.append(rc)
            labels.append(self.card.class_names[int(cids[i])])
            a: dict[str, Any] = {}
            if scales is not None:
                sx, sy = float(scales[i, 0]), float(scales[i, 1])
                a["edge_sigma_px"] = (BOX_EDGE_SIGMA_INPUT_PX / sx, BOX_EDGE_SIGMA_INPUT_PX / sy)
            if rc is RoadClass.TRAFFIC_LIGHT and self.lamp and image is not None:
                a["lamp"] = lamp_colour(image, boxes[i])
            attrs.append(a)
        return Detections(
            xyxy=boxes[idx].astype(np.float64),
            scores=scores[idx].astype(np.float64),
            classes=tuple(classes),
            distance_m=None,
            labels=tuple(labels),
            attributes=tuple(attrs),
        )

    def tile_windows(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        """Crops (x0, y0, x1, y1) for the small-object pass: ``tiles`` windows of half the
        frame's width, overlapping evenly, over the top ``tile_band`` of the frame."""
        if self.tiles <= 0:
            return []
        tw = width // 2
        th = max(1, round(height * self.tile_band))
        n = max(2, self.tiles)
        xs = np.linspace(0, width - tw, n).round().astype(int)
        return [(int(x), 0, int(x) + tw, th) for x in xs]

    def band_windows(self, frame: Frame) -> list[Window]:
        """The strips of the frame's horizon band in one model input (see
        :func:`pack_band`), ``[]`` when they would not magnify it by :data:`MIN_BAND_GAIN`;
        without ``frame.horizon_band``, the band of a level 90° camera 1.3 m high (the
        defaults of ``perception.hfov_deg`` and of the camera mount)."""
        width, height = frame.width, frame.height
        rows = frame.horizon_band or horizon_band(
            CameraModel(CameraIntrinsics.from_fov(width, height, 90.0), CameraMount())
        )
        full = min(self.card.input_width / width, self.card.input_height / height)
        windows = pack_band(
            width, height, rows, self.card.input_width,
            self.card.input_height, overlap_px=int(np.ceil(self.band_overlap_px / full)),
        )
        if not windows or windows[0].scale < MIN_BAND_GAIN * full:
            return []
        return windows

    def band_inputs(self, frame: Frame) -> list[list[Window]]:
        """The horizon-band pass's model inputs, each a list of strips: one input
        (:meth:`band_windows`) or, with :attr:`band_scale`, as many as that scale takes
        (:func:`pack_band_at`); ``[]`` when it would not magnify the band by
        :data:`MIN_BAND_GAIN`."""
        if self.band_scale is None:
            one = self.band_windows(frame)
            return [one] if one else []
        width, height = frame.width, frame.height
        rows = frame.horizon_band or horizon_band(
            CameraModel(CameraIntrinsics.from_fov(width, height, 90.0), CameraMount())
        )
        full = min(self.card.input_width / width, self.card.input_height / height)
        inputs = pack_band_at(
            width, height, rows, self.card.input_width, self.card.input_height, self.band_scale,
            overlap_px=int(np.ceil(self.band_overlap_px / full)),
        )
        if not inputs or inputs[0][0].scale < MIN_BAND_GAIN * full:
            return []
        return inputs

    def _window_pass(self, image: NDArray[np.uint8], windows: list[Window]) -> tuple[F32, F32, NDArray[np.int64]]:
        """Infer one model input holding ``windows``; the whole boxes in frame pixels."""
        h, w = image.shape[:2]
        canvas = render_windows(image, windows, self.card.input_width, self.card.input_height, self.card.pad_value)
        blob = canvas_to_blob(canvas, self.card, as_uint8=self._uint8_input)
        boxes, scores, cids = self.decode(self.infer({self.card.input_name: blob}))
        frame_boxes, whole = boxes_from_windows(boxes, windows, w, h)
        return frame_boxes[whole], scores[whole], cids[whole]

    def _tile_window(self, x0: int, y0: int, x1: int, y1: int) -> Window:
        # preprocess_image's letterbox of the crop, as a window
        in_w, in_h = self.card.input_width, self.card.input_height
        cw, ch = x1 - x0, y1 - y0
        r = min(in_w / cw, in_h / ch)
        nw, nh = max(1, round(cw * r)), max(1, round(ch * r))
        px, py = ((in_w - nw) // 2, (in_h - nh) // 2) if self.card.align == "centre" else (0, 0)
        return Window(x0, y0, x1, y1, float(px), float(py), r)

    def detect_passes(self, frame: Frame) -> Detections:
        """The whole frame, then the horizon band (:attr:`horizon_band`) and the tile
        windows (:attr:`tiles`); fragments dropped, whole boxes merged by NMS."""
        inputs, info = self.preprocess(frame)
        parts = [self.candidates(self.infer(inputs), info)]
        scale = [(info.scale_x, info.scale_y)]
        if self.horizon_band:
            for windows in self.band_inputs(frame):  # all strips at one scale
                parts.append(self._window_pass(frame.image, windows))
                scale.append((windows[0].scale, windows[0].scale))
        for x0, y0, x1, y1 in self.tile_windows(frame.width, frame.height):
            if self.card.resize == "letterbox":
                win = self._tile_window(x0, y0, x1, y1)
                parts.append(self._window_pass(frame.image, [win]))
                scale.append((win.scale, win.scale))
            else:  # a stretched input has two scales: the crop on its own, no fragment test
                crop = np.ascontiguousarray(frame.image[y0:y1, x0:x1])
                blob, tinfo = preprocess_image(crop, self.card, as_uint8=self._uint8_input)
                tinfo = LetterboxInfo(
                    tinfo.scale_x, tinfo.scale_y, tinfo.pad_x, tinfo.pad_y,
                    frame.width, frame.height, float(x0), float(y0),
                )
                parts.append(self.candidates(self.infer({self.card.input_name: blob}), tinfo))
                scale.append((tinfo.scale_x, tinfo.scale_y))
        boxes = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        cids = np.concatenate([p[2] for p in parts])
        passes = np.concatenate([np.full(len(p[0]), k, dtype=np.int64) for k, p in enumerate(parts)])
        scales = np.concatenate([_scales(len(p[0]), *s) for p, s in zip(parts, scale, strict=True)])
        keep = suppress_across_passes(boxes, scores, self._road_index[cids], passes)
        return self.finish(
            boxes[keep], scores[keep], cids[keep], frame.width, frame.height, frame.image, scales[keep]
        )

    def frame_parallel(self) -> AbstractContextManager[None]:
        """Context for running :meth:`detect` on several frames at once, one thread each
        (``run_perception`` enters it around its thread pool): OpenCV single-threaded."""
        return opencv_threads(1)

    def detect(self, frame: Frame) -> Detections:
        if self.tiles > 0 or self.horizon_band:
            return self.detect_passes(frame)
        inputs, info = self.preprocess(frame)
        return self.postprocess(self.infer(inputs), info, frame.image)

    def close(self) -> None:
        self.backend.close()
