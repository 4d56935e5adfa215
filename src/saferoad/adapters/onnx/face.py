"""Face models on ONNX Runtime: detectors (BlazeFace short range, UltraFace) and landmark
models (MediaPipe FaceMesh 468 points, PFLD 68 points), each described by a face model card
(``cards/face-*.toml``).

A face card is a small TOML file like the road detectors' cards, with several outputs::

    [model]                  name, file (relative to the models root), licence,
                             task = "face_detection" | "face_landmarks", decoder
    [input]                  name, shape [1, 3, H, W], colour RGB|BGR,
                             resize = "letterbox" | "stretch" | "crop", scale, mean, std
    [[outputs]]              name, shape (one table per output, in the order the decoder uses)
    [decoder]                decoder parameters (anchors, thresholds, crop scale ...)

:func:`check_face_card` compares a card with the model's real inputs and outputs.
Anchor generation and box decoding are vectorised with NumPy; crops use ``cv2.warpAffine``.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from saferoad.adapters.onnx.backend import OnnxBackend
from saferoad.adapters.onnx.card import CARDS_DIR, ModelCardError, default_models_root
from saferoad.domain.types import FloatArray, ImageArray
from saferoad.ports.detector import InferenceBackend

F32 = NDArray[np.float32]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _FaceModel(_Strict):
    name: str
    file: str
    licence: str = ""
    description: str = ""
    task: Literal["face_detection", "face_landmarks"]
    decoder: Literal["blazeface", "ultraface", "facemesh", "pfld68"]


class _FaceInput(_Strict):
    name: str
    shape: tuple[int, int, int, int]
    colour: Literal["RGB", "BGR"]
    resize: Literal["letterbox", "stretch", "crop"]
    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


class _FaceOutput(_Strict):
    name: str
    shape: tuple[int, ...]


class _FaceDecoder(_Strict):
    strides: tuple[int, ...] = ()
    anchors_per_cell: tuple[int, ...] = ()
    score: float = Field(0.5, ge=0.0, le=1.0)
    nms_iou: float = Field(0.3, ge=0.0, le=1.0)
    points: int = 0
    crop_scale: float = Field(1.5, gt=0.0)


class FaceCard(_Strict):
    """A validated face model card."""

    path: Path
    model: _FaceModel
    input: _FaceInput
    outputs: tuple[_FaceOutput, ...]
    decoder: _FaceDecoder

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def input_hw(self) -> tuple[int, int]:
        return self.input.shape[2], self.input.shape[3]

    def model_path(self, models_root: Path | None = None) -> Path:
        p = Path(self.model.file)
        return p if p.is_absolute() else (models_root or default_models_root()) / p


def load_face_card(name_or_path: str | Path) -> FaceCard:
    """Read a face card: a path to a ``.toml`` file or the name of a shipped card
    (``"face-blazeface-short-range"``)."""
    p = Path(name_or_path)
    if p.suffix != ".toml" and not p.exists():
        p = CARDS_DIR / f"{p.name}.toml"
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelCardError(f"{p}: face model card not found") from None
    except tomllib.TOMLDecodeError as err:
        raise ModelCardError(f"{p}: not valid TOML: {err}") from None
    try:
        card = FaceCard.model_validate({"path": p, **raw})
    except ValidationError as err:
        lines = [f"{p}: invalid face model card"]
        for e in err.errors():
            key = ".".join(str(x) for x in e["loc"]) or "(root)"
            lines.append(
                f"  {key}: {'unknown key' if e['type'] == 'extra_forbidden' else e['msg']}"
            )
        raise ModelCardError("\n".join(lines)) from None
    if any(s == 0 for s in card.input.std):
        raise ModelCardError(f"{p}: input.std must not contain 0")
    dec = card.model.decoder
    if dec == "blazeface" and len(card.decoder.strides) != len(card.decoder.anchors_per_cell):
        raise ModelCardError(f"{p}: decoder.strides and decoder.anchors_per_cell differ in length")
    if dec in ("facemesh", "pfld68") and card.decoder.points <= 0:
        raise ModelCardError(f"{p}: decoder.points is required by the {dec} decoder")
    return card


def check_face_card(card: FaceCard, backend: InferenceBackend) -> None:
    """Raise :class:`ModelCardError` unless the model's inputs and outputs match the card."""
    where = f"{card.path} (model {card.name})"
    ins = {s.name: s for s in backend.input_specs()}
    outs = {s.name: s for s in backend.output_specs()}
    if set(ins) != {card.input.name}:
        raise ModelCardError(
            f"{where}: input.name {card.input.name!r}, the model takes {sorted(ins)}"
        )
    real_in = ins[card.input.name].shape
    if len(real_in) != 4 or any(
        r is not None and r != c for r, c in zip(real_in, card.input.shape, strict=True)
    ):
        raise ModelCardError(
            f"{where}: input.shape {list(card.input.shape)} but the model's is {list(real_in)}"
        )
    for out in card.outputs:
        if out.name not in outs:
            raise ModelCardError(
                f"{where}: output {out.name!r} not among the model's {sorted(outs)}"
            )
        real = outs[out.name].shape
        if len(real) != len(out.shape) or any(
            r is not None and c != -1 and r != c for r, c in zip(real, out.shape, strict=True)
        ):
            raise ModelCardError(
                f"{where}: output {out.name} shape {list(out.shape)} but the model's is {list(real)}"
            )


def _open(card: FaceCard, models_root: Path | None, threads: int) -> OnnxBackend:
    backend = OnnxBackend(card.model_path(models_root), intra_op_threads=threads, warmup=1)
    check_face_card(card, backend)
    return backend


def _normalise(card: FaceCard, image: ImageArray) -> F32:
    """``image`` already at the input size (H x W x 3 BGR) -> 1 x 3 x H x W float32."""
    img = cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if card.input.colour == "RGB" else image
    x: F32 = np.asarray(img, np.float32) * np.float32(card.input.scale)
    x = np.subtract(x, np.asarray(card.input.mean, np.float32), dtype=np.float32)
    x = np.divide(x, np.asarray(card.input.std, np.float32), dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A detected face in frame pixels: ``xyxy``, ``score`` and, for BlazeFace, six keypoints
    ``(6, 2)``: right eye, left eye (the person's), nose tip, mouth, right and left tragion."""

    xyxy: FloatArray
    score: float
    keypoints: FloatArray | None = None


@dataclass(frozen=True, slots=True)
class Roi:
    """A rotated square region of the frame: centre (x, y), side in pixels, rotation (rad)
    that makes the face upright (the angle of the eye line)."""

    cx: float
    cy: float
    size: float
    angle: float = 0.0


def crop_roi(image: ImageArray, roi: Roi, out: int) -> tuple[ImageArray, FloatArray]:
    """Warp ``roi`` to an ``out`` x ``out`` image; returns it and the 2x3 affine matrix
    (frame -> crop)."""
    c, s = math.cos(roi.angle), math.sin(roi.angle)
    k = out / roi.size
    m = np.array([[c * k, s * k, 0.0], [-s * k, c * k, 0.0]], np.float64)
    m[:, 2] = np.array([out / 2.0, out / 2.0]) - m[:, :2] @ np.array([roi.cx, roi.cy])
    crop = cv2.warpAffine(
        image, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return np.asarray(crop, np.uint8), m


def to_frame(m: FloatArray, pts: FloatArray) -> FloatArray:
    """Map crop points ``(N, 2)`` back to the frame through the inverse of ``m``."""
    inv = cv2.invertAffineTransform(m)
    return np.asarray(pts @ inv[:, :2].T + inv[:, 2], np.float64)


def _iou(box: FloatArray, boxes: FloatArray) -> FloatArray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-9), np.float64)


def weighted_nms(
    boxes: FloatArray, scores: FloatArray, iou: float, extra: FloatArray | None = None
) -> list[tuple[FloatArray, float, FloatArray | None]]:
    """MediaPipe's weighted non-maximum suppression: overlapping boxes (and their ``extra``
    values, e.g. keypoints) are averaged, weighted by score, into the best one."""
    order = np.argsort(-scores)
    out: list[tuple[FloatArray, float, FloatArray | None]] = []
    remaining = order
    while remaining.size:
        best = remaining[0]
        ious = _iou(boxes[best], boxes[remaining])
        group = remaining[ious > iou]
        w = scores[group][:, None]
        box = (boxes[group] * w).sum(0) / w.sum()
        ext = None if extra is None else (extra[group] * w).sum(0) / w.sum()
        out.append((box, float(scores[best]), ext))
        remaining = remaining[ious <= iou]
    return out


class BlazeFaceDetector:
    """MediaPipe BlazeFace short range: faces within about 2 m of the camera."""

    def __init__(
        self, card: FaceCard | None = None, models_root: Path | None = None, threads: int = 1
    ) -> None:
        self.card = card or load_face_card("face-blazeface-short-range")
        self.backend = _open(self.card, models_root, threads)
        h, w = self.card.input_hw
        centres = []
        for stride, n in zip(
            self.card.decoder.strides, self.card.decoder.anchors_per_cell, strict=True
        ):
            gh, gw = h // stride, w // stride
            ys, xs = np.mgrid[0:gh, 0:gw]
            c = np.stack([(xs + 0.5) / gw, (ys + 0.5) / gh], -1).reshape(-1, 2)
            centres.append(np.repeat(c, n, axis=0))
        self.anchors = np.concatenate(centres).astype(np.float64) * np.array([w, h], np.float64)

    def detect(self, image: ImageArray) -> list[FaceBox]:
        card = self.card
        ih, iw = card.input_hw
        h, w = image.shape[:2]
        s = min(iw / w, ih / h)
        nw, nh = round(w * s), round(h * s)
        px, py = (iw - nw) // 2, (ih - nh) // 2
        canvas = np.zeros((ih, iw, 3), np.uint8)
        canvas[py : py + nh, px : px + nw] = cv2.resize(
            image, (nw, nh), interpolation=cv2.INTER_AREA
        )
        res = self.backend.infer({card.input.name: _normalise(card, canvas)})
        reg = np.asarray(res[card.outputs[0].name], np.float64)[0]
        logits = np.asarray(res[card.outputs[1].name], np.float64)[0, :, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80.0, 80.0)))
        keep = scores >= card.decoder.score
        if not keep.any():
            return []
        reg, scores, anchors = reg[keep], scores[keep], self.anchors[keep]
        cx = reg[:, 0] + anchors[:, 0]
        cy = reg[:, 1] + anchors[:, 1]
        boxes = np.stack(
            [cx - reg[:, 2] / 2, cy - reg[:, 3] / 2, cx + reg[:, 2] / 2, cy + reg[:, 3] / 2], 1
        )
        kps = reg[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        offset = np.array([px, py], np.float64)
        boxes = (boxes - np.tile(offset, 2)) / s
        kps = (kps - offset) / s
        out = []
        for box, score, kp in weighted_nms(
            boxes, scores, card.decoder.nms_iou, kps.reshape(len(kps), -1)
        ):
            assert kp is not None
            out.append(FaceBox(box, score, kp.reshape(6, 2)))
        return out

    def close(self) -> None:
        self.backend.close()


class UltraFaceDetector:
    """UltraFace RFB-320: a small general face detector (finds smaller faces than BlazeFace
    short range; no keypoints)."""

    def __init__(
        self, card: FaceCard | None = None, models_root: Path | None = None, threads: int = 1
    ) -> None:
        self.card = card or load_face_card("face-ultraface-rfb320")
        self.backend = _open(self.card, models_root, threads)

    def detect(self, image: ImageArray) -> list[FaceBox]:
        card = self.card
        ih, iw = card.input_hw
        h, w = image.shape[:2]
        resized = np.asarray(cv2.resize(image, (iw, ih), interpolation=cv2.INTER_AREA), np.uint8)
        x = _normalise(card, resized)
        res = self.backend.infer({card.input.name: x})
        scores = np.asarray(res[card.outputs[0].name], np.float64)[0, :, 1]
        boxes = np.asarray(res[card.outputs[1].name], np.float64)[0]
        keep = scores >= card.decoder.score
        if not keep.any():
            return []
        boxes = boxes[keep] * np.array([w, h, w, h], np.float64)
        kept = weighted_nms(boxes, scores[keep], card.decoder.nms_iou)
        return [FaceBox(b, sc, None) for b, sc, _ in kept]

    def close(self) -> None:
        self.backend.close()


@dataclass(frozen=True, slots=True)
class FaceLandmarks:
    """Landmarks in frame pixels: ``points`` (N, 2); ``depth`` (N,) relative z where the
    model gives it (FaceMesh, crop pixel units, smaller = nearer); ``score`` face presence
    (FaceMesh) or NaN."""

    points: FloatArray
    score: float
    depth: FloatArray | None = None


class _CropLandmarker:
    """A landmark model run on a square crop around a face ROI (FaceMesh, PFLD)."""

    default_card = ""

    def __init__(
        self, card: FaceCard | None = None, models_root: Path | None = None, threads: int = 1
    ) -> None:
        self.card = card or load_face_card(self.default_card)
        self.backend = _open(self.card, models_root, threads)

    @property
    def crop_scale(self) -> float:
        return self.card.decoder.crop_scale

    def _infer(
        self, image: ImageArray, roi: Roi
    ) -> tuple[dict[str, NDArray[np.generic]], FloatArray, int]:
        """The model's outputs on the ``roi`` crop, the crop-to-frame transform and the crop size."""
        size = self.card.input_hw[0]
        crop, m = crop_roi(image, roi, size)
        return self.backend.infer({self.card.input.name: _normalise(self.card, crop)}), m, size

    def close(self) -> None:
        self.backend.close()


class FaceMeshLandmarker(_CropLandmarker):
    """MediaPipe FaceMesh: 468 points and a face-presence score on an upright face crop."""

    default_card = "face-facemesh"

    def run(self, image: ImageArray, roi: Roi) -> FaceLandmarks:
        res, m, size = self._infer(image, roi)
        pts = np.asarray(res[self.card.outputs[0].name], np.float64).reshape(-1, 3)
        logit = float(np.asarray(res[self.card.outputs[1].name]).ravel()[0])
        score = 1.0 / (1.0 + math.exp(-max(-80.0, min(80.0, logit))))
        return FaceLandmarks(to_frame(m, pts[:, :2]), score, pts[:, 2] * roi.size / size)


class Pfld68Landmarker(_CropLandmarker):
    """PFLD: 68 iBUG points on a face crop (no face score)."""

    default_card = "face-pfld68"

    def run(self, image: ImageArray, roi: Roi) -> FaceLandmarks:
        res, m, size = self._infer(image, roi)
        pts = np.asarray(res[self.card.outputs[0].name], np.float64).reshape(-1, 2) * size
        return FaceLandmarks(to_frame(m, pts), math.nan, None)
