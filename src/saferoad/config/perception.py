"""Road-camera perception: detector choice, model, tracking and camera geometry."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from saferoad.config.base import Section


class PerceptionConfig(Section):
    """Road-camera perception: detector choice, model, tracking and camera geometry."""

    detector: Literal["onnx", "grpc", "replay"] = Field(
        "onnx", description="Which detector runs: local ONNX Runtime, a KServe v2 gRPC server, or replay of a labels file."
    )
