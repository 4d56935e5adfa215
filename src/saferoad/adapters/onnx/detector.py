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
from saferoad.adapters.process_settings import SharedSetting
from saferoad.domain.types import Detections, Frame, RoadClass
from saferoad.ports.detector import InferenceBackend

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
    if card.colour == "RGB":
        canvas = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    if as_uint8:
        if not card.raw_pixels:
            raise ValueError(f"{card.path}: the input is normalised, it cannot be sent as uint8")
        return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None]), info
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
    return blob, info


_OPENCV_THREADS = SharedSetting(cv2.getNumThreads, cv2.setNumThreads)


def opencv_threads(n: int) -> AbstractContextManager[None]:
    """OpenCV's own thread pool limited to ``n`` threads while the block runs (the
    setting is global to the process; the previous value is restored when the last of
    several overlapping blocks ends: :class:`~saferoad.adapters.process_settings.SharedSetting`).

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
        boxes = boxes.astype(np.float32, copy=True)
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - info.pad_x) / info.scale_x + info.offset_x
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - info.pad_y) / info.scale_y + info.offset_y
        return boxes, scores, cids

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
        return self.finish(boxes, scores, cids, w, h, image)

    def finish(
        self,
        boxes: F32,
        scores: F32,
        cids: NDArray[np.int64],
        width: int,
        height: int,
        image: NDArray[np.uint8] | None = None,
    ) -> Detections:
        """Clip, drop degenerate boxes, class-wise NMS, top-k, lamp colour."""
        if len(boxes) == 0:
            return Detections.empty()
        boxes = boxes.copy()
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
        wh = boxes[:, 2:] - boxes[:, :2]
        valid = (wh[:, 0] > 1) & (wh[:, 1] > 1)
        boxes, scores, cids, wh = boxes[valid], scores[valid], cids[valid], wh[valid]
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

    def detect_tiled(self, frame: Frame) -> Detections:
        """Whole frame plus the tile windows, merged by NMS (SAHI-style slicing)."""
        inputs, info = self.preprocess(frame)
        parts = [self.candidates(self.infer(inputs), info)]
        for x0, y0, x1, y1 in self.tile_windows(frame.width, frame.height):
            crop = np.ascontiguousarray(frame.image[y0:y1, x0:x1])
            blob, tinfo = preprocess_image(crop, self.card, as_uint8=self._uint8_input)
            tinfo = LetterboxInfo(
                tinfo.scale_x, tinfo.scale_y, tinfo.pad_x, tinfo.pad_y,
                frame.width, frame.height, float(x0), float(y0),
            )
            parts.append(self.candidates(self.infer({self.card.input_name: blob}), tinfo))
        boxes = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        cids = np.concatenate([p[2] for p in parts])
        return self.finish(boxes, scores, cids, frame.width, frame.height, frame.image)

    def frame_parallel(self) -> AbstractContextManager[None]:
        """Context for running :meth:`detect` on several frames at once, one thread each
        (``run_perception`` enters it around its thread pool): OpenCV single-threaded."""
        return opencv_threads(1)

    def detect(self, frame: Frame) -> Detections:
        if self.tiles > 0:
            return self.detect_tiled(frame)
        inputs, info = self.preprocess(frame)
        return self.postprocess(self.infer(inputs), info, frame.image)

    def close(self) -> None:
        self.backend.close()
