"""``perception.detector = "onnx"``: ``perception.model``'s card on local ONNX Runtime."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from saferoad.adapters.detectors.registry import BACKENDS, register
from saferoad.config import SaferoadConfig
from saferoad.config.detectors import OnnxDetectorConfig
from saferoad.domain.recording import Recording
from saferoad.ports.detector import Detector, InferenceBackend

if TYPE_CHECKING:
    from saferoad.adapters.onnx.card import ModelCard
    from saferoad.adapters.onnx.detector import ModelDetector

CONFIG = OnnxDetectorConfig


def onnx_backend(cfg: SaferoadConfig, card: ModelCard) -> InferenceBackend:
    """A local ONNX Runtime session on the card's model file."""
    # Deferred on purpose: ONNX Runtime loads only when a model detector is built, never
    # with the config (every command loads it; tests/test_cli_startup.py).
    from saferoad.adapters.onnx.backend import OnnxBackend

    p = cfg.perception
    root = Path(p.models_root) if p.models_root else None
    return OnnxBackend(
        card.model_path(root), intra_op_threads=p.intra_op_threads, spinning=p.spinning, warmup=1
    )


def build_model_detector(cfg: SaferoadConfig, backend: InferenceBackend | None = None) -> ModelDetector:
    """``ModelDetector`` for ``cfg.perception.model`` on ``backend`` (default: the one
    ``cfg.perception.detector`` names in ``BACKENDS``, else local ONNX Runtime)."""
    # Deferred on purpose: the card and decoders pull in NumPy/cv2 work a config load or a
    # replay never needs (same reason as above).
    from saferoad.adapters.onnx.card import load_card
    from saferoad.adapters.onnx.detector import ModelDetector

    p = cfg.perception
    card = load_card(p.model)
    if backend is None:
        backend = BACKENDS.get(p.detector.type, onnx_backend)(cfg, card)
    return ModelDetector(
        card, backend, score_threshold=p.score_threshold, nms_iou=p.nms_iou, tiles=p.tiles,
        horizon_band=p.horizon_band,
    )


def build(cfg: SaferoadConfig, recording: Recording | None = None) -> Detector:
    return build_model_detector(cfg)


BACKENDS["onnx"] = onnx_backend
register(CONFIG, build)
