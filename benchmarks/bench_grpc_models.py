"""A no-op model with YOLOX-nano's tensor sizes, for measuring the protocol's own cost:
``saferoad serve-model --model bench_grpc_models:NoOp`` (run from this folder)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np


class NoOp:
    """Takes a [1, 3, 416, 416] FP32 frame, returns a [1, 3549, 85] FP32 tensor (YOLOX-nano's
    output size) without computing anything."""

    name = "noop"
    inputs: ClassVar[list[dict[str, Any]]] = [{"name": "images", "datatype": "FP32", "shape": [1, 3, 416, 416]}]
    outputs: ClassVar[list[dict[str, Any]]] = [{"name": "output", "datatype": "FP32", "shape": [1, 3549, 85]}]

    def __init__(self) -> None:
        self._out = np.zeros((1, 3549, 85), np.float32)

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"output": self._out}


class NoOpU8(NoOp):
    """:class:`NoOp` taking the frame as UINT8 (``serve-model --transport-dtype``'s wire size)."""

    name = "noop-u8"
    inputs: ClassVar[list[dict[str, Any]]] = [{"name": "images", "datatype": "UINT8", "shape": [1, 3, 416, 416]}]
