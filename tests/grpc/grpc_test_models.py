"""Python models for the gRPC tests, served as ``grpc_test_models:NAME`` (module:attr)."""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import numpy as np


class Doubler:
    """y = 2 x + 1 on [batch, 4] FP32, with a batch dimension the server may join requests on.
    ``batch_sizes`` records the rows of every run (to see the dynamic batcher work)."""

    name = "doubler"
    max_batch_size = 16
    inputs: ClassVar[list[dict[str, Any]]] = [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    outputs: ClassVar[list[dict[str, Any]]] = [{"name": "y", "datatype": "FP32", "shape": [-1, 4]}]

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.batch_sizes: list[int] = []
        self._lock = threading.Lock()

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = inputs["x"]
        with self._lock:
            self.batch_sizes.append(int(x.shape[0]))
        if self.delay_s:
            time.sleep(self.delay_s)
        return {"y": (x * 2 + 1).astype(np.float32)}


class Echo:
    """Returns every input unchanged (any datatype), under the name ``out_<input>``."""

    name = "echo"

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {f"out_{k}": np.array(v) for k, v in inputs.items()}


class Broken:
    """A model whose predict raises: the server must answer INTERNAL and stay up."""

    name = "broken"

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise ZeroDivisionError("the research model divided by zero")


class Slow:
    """Sleeps 0.6 s per call (graceful shutdown and mid-stream tests)."""

    name = "slow"
    inputs: ClassVar[list[dict[str, Any]]] = [{"name": "x", "datatype": "FP32", "shape": [1]}]
    outputs: ClassVar[list[dict[str, Any]]] = [{"name": "y", "datatype": "FP32", "shape": [1]}]

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        time.sleep(0.6)
        return {"y": inputs["x"] + 1}


doubler = Doubler()
