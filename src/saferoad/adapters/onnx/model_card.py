"""The validated model card and its error, apart from the TOML reader (``card.py``): the
Ultralytics metadata reader (``ultralytics.py``) builds a :class:`ModelCard` and ``card.py``'s
``load_card`` calls that reader for a bare ``.onnx``, so both import this module and neither
imports the other back (no import cycle). ``card.py`` re-exports every name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

Decoder = Literal["yolox", "fastestdet", "ultralytics"]
"""How a model's output is read (one decoder each in ``detector.py``)."""


class ModelCardError(ValueError):
    """A card that cannot be read, or that disagrees with its model."""


def default_models_root() -> Path:
    """``$SAFEROAD_SHARED/models``, else ``../shared/models`` beside the repository."""
    env = os.environ.get("SAFEROAD_SHARED")
    if env:
        return Path(env).resolve() / "models"
    repo = Path(__file__).resolve().parents[4]
    return (repo.parent / "shared" / "models").resolve()


ULTRALYTICS_STRIDES = (8, 16, 32)
ULTRALYTICS_SCORE = 0.25
ULTRALYTICS_NMS_IOU = 0.7
ULTRALYTICS_MAX_DETECTIONS = 300
"""Ultralytics' own predict defaults (``conf``, ``iou``, ``max_det``), used by its exports' cards."""


class ModelCard(BaseModel):
    """A validated model card (``card.py``'s docstring shows the TOML layout)."""

    model_config = ConfigDict(frozen=True)

    path: Path
    name: str
    model_file: str
    input_name: str
    input_shape: tuple[int, int, int, int]
    layout: str
    colour: Literal["BGR", "RGB"]
    resize: Literal["letterbox", "stretch"]
    pad_value: int
    align: Literal["top-left", "centre"]
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_dtype: str
    output_name: str
    output_shape: tuple[int, ...]
    decoder: Decoder
    strides: tuple[int, ...]
    class_names: tuple[str, ...]
    score_threshold: float
    nms_iou: float
    max_detections: int
    horizon_band: bool = False
    """``[passes] horizon_band``: run the horizon-band pass by default with this model."""

    @property
    def input_width(self) -> int:
        return self.input_shape[3]

    @property
    def input_height(self) -> int:
        return self.input_shape[2]

    @property
    def raw_pixels(self) -> bool:
        """True when the model's float input is the letterboxed 8-bit image itself (scale 1,
        mean 0, std 1): every value is an integer 0-255, so the tensor can travel as UINT8
        and be cast to float at the model without changing a bit (see docs/inference.md)."""
        return (
            self.input_dtype in ("float32", "float16", "float64")
            and self.scale == 1.0
            and not any(self.mean)
            and all(s == 1.0 for s in self.std)
        )

    def model_path(self, models_root: Path | None = None) -> Path:
        """The model file: absolute as written, else relative to ``models_root``
        (default :func:`default_models_root`)."""
        p = Path(self.model_file)
        if p.is_absolute():
            return p
        return (models_root or default_models_root()) / p
