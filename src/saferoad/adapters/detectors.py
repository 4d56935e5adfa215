"""Build the configured :class:`~saferoad.ports.detector.Detector`.

``cfg.perception.detector`` picks it — configuration, not code:

* ``"onnx"``: :class:`~saferoad.adapters.onnx.detector.ModelDetector` on a local
  :class:`~saferoad.adapters.onnx.backend.OnnxBackend` (card ``cfg.perception.model``).
* ``"grpc"``: the same ``ModelDetector`` and card, with the backend swapped for a remote
  KServe v2 one — registered in :data:`BACKENDS` under ``"grpc"`` by the gRPC adapter
  (``saferoad.adapters.grpc``), so pre/post-processing stays identical to local runs.
* ``"replay"``: :class:`~saferoad.adapters.replay.detector.ReplayDetector` on
  ``cfg.perception.replay_path`` or the recording's ``detections`` file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from saferoad.adapters.onnx.backend import OnnxBackend
from saferoad.adapters.onnx.card import ModelCard, load_card
from saferoad.adapters.onnx.detector import ModelDetector
from saferoad.config import SaferoadConfig
from saferoad.domain.recording import Recording
from saferoad.ports.detector import Detector, InferenceBackend

if TYPE_CHECKING:
    from saferoad.adapters.replay.detector import ReplayDetector

BackendFactory = Callable[[SaferoadConfig, ModelCard], InferenceBackend]


def _onnx_backend(cfg: SaferoadConfig, card: ModelCard) -> InferenceBackend:
    p = cfg.perception
    root = Path(p.models_root) if p.models_root else None
    return OnnxBackend(
        card.model_path(root), intra_op_threads=p.intra_op_threads, spinning=p.spinning, warmup=1
    )


def _grpc_backend(cfg: SaferoadConfig, card: ModelCard) -> InferenceBackend:
    # The gRPC adapter owns the client options (TLS, token, retries); import it lazily so
    # local runs never load grpc.
    from saferoad.adapters.grpc import client as grpc_client

    factory = getattr(grpc_client, "backend_from_config", None)
    if factory is None:
        raise ValueError(
            'perception.detector = "grpc": saferoad.adapters.grpc.client.backend_from_config '
            "is not available in this build"
        )
    backend: InferenceBackend = factory(cfg)
    return backend


BACKENDS: dict[str, BackendFactory] = {"onnx": _onnx_backend, "grpc": _grpc_backend}
"""Inference backends by ``perception.detector`` name; a backend only runs tensors."""


def build_model_detector(cfg: SaferoadConfig, backend: InferenceBackend | None = None) -> ModelDetector:
    """``ModelDetector`` for ``cfg.perception.model`` on ``backend`` (default: the one
    ``cfg.perception.detector`` names)."""
    p = cfg.perception
    card = load_card(p.model)
    if backend is None:
        kind = p.detector if p.detector in BACKENDS else "onnx"
        backend = BACKENDS[kind](cfg, card)
    return ModelDetector(
        card, backend, score_threshold=p.score_threshold, nms_iou=p.nms_iou, tiles=p.tiles,
        horizon_band=p.horizon_band,
    )


def replay_detector(cfg: SaferoadConfig, recording: Recording | None = None) -> ReplayDetector:
    """A :class:`ReplayDetector` on ``perception.replay_path`` or the recording's detections
    file (the one place that chooses which file a replay reads)."""
    # Deferred on purpose: the replay reader pulls in the recording adapters (0.3 s of
    # imports) that a model detector never needs; `saferoad detect` pays them only for
    # ``perception.detector = "replay"`` (start-up, docs/perception.md "Start-up").
    from saferoad.adapters.replay.detector import ReplayDetector

    path = cfg.perception.replay_path or (
        str(recording.detections) if recording is not None and recording.detections else None
    )
    if path is None:
        raise ValueError(
            'perception.detector = "replay" needs perception.replay_path or a recording '
            "with a detections file (detections.json)"
        )
    return ReplayDetector(path)


DetectorFactory = Callable[[SaferoadConfig, "Recording | None"], Detector]

DETECTORS: dict[str, DetectorFactory] = {
    "replay": replay_detector,
    **{name: (lambda cfg, _rec: build_model_detector(cfg)) for name in BACKENDS},
}
"""Detectors by ``perception.detector`` name: the one table :func:`build_detector` reads.
Every name the config accepts has an entry (tested), so a detector added to the config but
not here, or here but not to the config, fails ``tests/perception/test_perception_replay.py``."""


def build_detector(cfg: SaferoadConfig, recording: Recording | None = None) -> Detector:
    """The detector ``cfg.perception.detector`` names (see the module docstring)."""
    kind = cfg.perception.detector
    factory = DETECTORS.get(kind)
    if factory is None:
        raise ValueError(f"perception.detector: unknown detector {kind!r}")
    return factory(cfg, recording)
