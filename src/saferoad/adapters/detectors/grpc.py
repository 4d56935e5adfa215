"""``perception.detector = "grpc"``: the same card-driven ``ModelDetector`` as ``onnx``, its
tensors run by a KServe v2 model server (``detector.url``, else ``inference.url``), so pre-
and post-processing stay identical to local runs.

One module is the whole detector (issue 16, Frigate's plugin pattern): its config model
(``[perception.detector]`` ``type = "grpc"`` and its keys), its inference backend and its
factory, registered on import; no table or union elsewhere lists it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from saferoad.adapters.detectors.onnx import build_model_detector
from saferoad.adapters.detectors.registry import BACKENDS, register
from saferoad.config import SaferoadConfig
from saferoad.config.detectors import DetectorConfig
from saferoad.domain.recording import Recording
from saferoad.ports.detector import Detector, InferenceBackend

if TYPE_CHECKING:
    from saferoad.adapters.onnx.card import ModelCard


class GrpcDetectorConfig(DetectorConfig):
    """``perception.model``'s card, inference on a KServe v2 gRPC model server (pre- and
    post-processing stay local, identical to ``onnx``)."""

    type: Literal["grpc"] = Field("grpc", description="A KServe v2 gRPC model server.")
    url: str | None = Field(
        None,
        description="Model server `grpc://host:port/model[/version]` for this detector; unset = inference.url.",
    )


CONFIG = GrpcDetectorConfig


def grpc_backend(cfg: SaferoadConfig, card: ModelCard) -> InferenceBackend:
    """The remote backend of ``saferoad.adapters.grpc.client`` (TLS, token, retries from
    ``inference``) on ``detector.url`` when set, else ``inference.url``."""
    # Deferred on purpose: local runs and config loads never import gRPC.
    from saferoad.adapters.grpc import client as grpc_client

    det = cfg.perception.detector
    url = det.url if isinstance(det, GrpcDetectorConfig) else None
    if url:
        cfg = cfg.model_copy(update={"inference": cfg.inference.model_copy(update={"url": url})})
    backend: InferenceBackend = grpc_client.backend_from_config(cfg)
    return backend


def build(cfg: SaferoadConfig, recording: Recording | None = None) -> Detector:
    return build_model_detector(cfg)


BACKENDS["grpc"] = grpc_backend
register(CONFIG, build)
