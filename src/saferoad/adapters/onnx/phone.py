"""Phone detector (``PhoneDetector`` port): COCO "cell phone" of a carded COCO model (the
shipped YOLOX-nano) on the cabin frame, the best-scoring phone placed against the driver's
face (``saferoad.domain.cabin.phone.phone_position``).

Only the "cell phone" class is decoded (the road detector keeps road classes only); the
frame is letterboxed to the model's input as for road frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from saferoad.adapters.onnx.backend import OnnxBackend
from saferoad.adapters.onnx.card import ModelCard, load_card
from saferoad.adapters.onnx.detector import _yolox_grid, decode_yolox, preprocess_image
from saferoad.domain.cabin.phone import Box, PhoneObservation, phone_position
from saferoad.domain.types import Frame

PHONE_CLASS = "cell phone"


class YoloxPhoneDetector:
    """The best "cell phone" box of a frame and where the driver holds it."""

    def __init__(
        self,
        card: ModelCard | None = None,
        backend: OnnxBackend | None = None,
        *,
        models_root: Path | None = None,
        score_threshold: float = 0.2,
        near_face: float = 1.0,
        hand_zone: float = 2.0,
        threads: int = 1,
    ) -> None:
        self.card = card or load_card("yolox-nano")
        if self.card.decoder != "yolox" or PHONE_CLASS not in self.card.class_names:
            raise ValueError(f"{self.card.path}: a YOLOX model with a {PHONE_CLASS!r} class is needed for phones")
        self.backend = backend or OnnxBackend(self.card.model_path(models_root), intra_op_threads=threads)
        self.name = f"onnx:{self.card.name}:{PHONE_CLASS}"
        self.score_threshold = score_threshold
        self.near_face, self.hand_zone = near_face, hand_zone
        self._keep = np.array([n == PHONE_CLASS for n in self.card.class_names], dtype=np.float32)
        self._grid = _yolox_grid(self.card)

    def detect(self, frame: Frame, face: Box | None) -> PhoneObservation:
        blob, info = preprocess_image(frame.image, self.card)
        out = self.backend.infer({self.card.input_name: blob})[self.card.output_name]
        boxes, scores, _ = decode_yolox(np.asarray(out, dtype=np.float32), self.card, self._keep,
                                        self.score_threshold, self._grid)
        if len(scores) == 0:
            return PhoneObservation(frame.index, frame.t_s)
        i = int(np.argmax(scores))
        b = boxes[i].astype(np.float64)
        x1 = (b[0] - info.pad_x) / info.scale_x + info.offset_x
        x2 = (b[2] - info.pad_x) / info.scale_x + info.offset_x
        y1 = (b[1] - info.pad_y) / info.scale_y + info.offset_y
        y2 = (b[3] - info.pad_y) / info.scale_y + info.offset_y
        box = (float(x1), float(y1), float(x2), float(y2))
        where = phone_position(box, face, frame.width, near_face=self.near_face, hand_zone=self.hand_zone)
        return PhoneObservation(frame.index, frame.t_s, float(scores[i]), where, box)

    def close(self) -> None:
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()
