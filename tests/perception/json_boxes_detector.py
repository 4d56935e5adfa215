"""A detector plugin written the way docs/architecture.md ("Add a detector") says: one
module holding its config model (``type`` narrowed to a ``Literal``) and its factory. It
returns the same boxes on every frame, read from a JSON file:
``{"boxes": [[x1, y1, x2, y2, score, "vehicle"], ...]}``. ``test_detector_plugins.py``
registers it (``adapters.detectors.register(CONFIG, build)``) and drops it when done; a module
under ``src/saferoad/adapters/detectors/`` makes the same call at its end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from saferoad.config import SaferoadConfig
from saferoad.config.detectors import DetectorConfig
from saferoad.domain.recording import Recording
from saferoad.domain.types import Detections, Frame, RoadClass


class JsonBoxesConfig(DetectorConfig):
    """The same boxes on every frame, from a JSON file."""

    type: Literal["json-boxes"] = Field("json-boxes", description="Fixed boxes from a JSON file.")
    path: str = Field(description="The JSON file: {\"boxes\": [[x1, y1, x2, y2, score, class], ...]}.")


class JsonBoxesDetector:
    name = "json-boxes"

    def __init__(self, path: Path) -> None:
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))["boxes"]
            self._dets = Detections(
                np.array([r[:4] for r in rows], dtype=np.float64).reshape(-1, 4),
                np.array([r[4] for r in rows], dtype=np.float64),
                tuple(RoadClass(r[5]) for r in rows),
            )
        except (OSError, KeyError, IndexError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: perception.detector.path: not a boxes file ({err})") from None

    def detect(self, frame: Frame) -> Detections:
        return self._dets


CONFIG = JsonBoxesConfig


def build(cfg: SaferoadConfig, recording: Recording | None = None) -> JsonBoxesDetector:
    det = cfg.perception.detector
    assert isinstance(det, JsonBoxesConfig)
    return JsonBoxesDetector(Path(det.path))
