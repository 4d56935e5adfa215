"""The remote detector: the model card's pre- and post-processing over a KServe v2 server.

``perception.detector = "grpc"`` with ``inference.url = "grpc://host:port/model"`` runs the
same :class:`~saferoad.adapters.onnx.detector.ModelDetector` as a local ONNX run — letterbox,
decode, NMS from ``perception.model``'s card — with :class:`RemoteBackend` in place of ONNX
Runtime. The card is checked against the server's ModelMetadata before the first frame.
"""

from __future__ import annotations

from typing import Any

from saferoad.adapters.grpc.client import RemoteBackend, backend_from_config
from saferoad.config import SaferoadConfig


def remote_backend(cfg: SaferoadConfig) -> RemoteBackend:
    """A :class:`RemoteBackend` for ``cfg.inference`` (URL, deadlines, retries, TLS, token)."""
    return backend_from_config(cfg)


def remote_detector(cfg: SaferoadConfig, card: Any = None, **detector_kwargs: Any) -> Any:
    """A ``ModelDetector`` for ``card`` (default: ``perception.model``) on the model server.
    (``saferoad.adapters.detectors.build_detector`` does the same from the config alone.)"""
    from saferoad.adapters.onnx.card import load_card
    from saferoad.adapters.onnx.detector import ModelDetector

    card = card if card is not None else load_card(cfg.perception.model)
    backend = remote_backend(cfg)
    try:
        det = ModelDetector(card, backend, **detector_kwargs)
    except BaseException:
        backend.close()
        raise
    det.name = f"grpc:{card.name}@{backend.client.target}"
    return det
