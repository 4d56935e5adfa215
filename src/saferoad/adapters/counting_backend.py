"""An :class:`~saferoad.ports.detector.InferenceBackend` that counts the inferences of another.

Measurements of how many model inputs a detector setting costs per frame (the horizon band's
scale: ``benchmarks/bench_far_band_scale.py``, ``scripts/far_band_scale.py``,
``tests/perception/test_far_band_scale.py``) wrap the real backend in it: one call of ``infer``
is one model input. It lives here, not in ``adapters/detectors/`` (each module there is a
detector plugin) nor beside ``adapters/onnx/backend.py`` (it wraps any backend: ONNX Runtime or
gRPC), and in ``src/`` because a benchmark, a script and a test all import it.
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import NDArray

from saferoad.ports.detector import InferenceBackend, TensorSpec


class CountingBackend:
    """``inner``, its ``infer`` calls counted in ``calls`` (safe under the perception workers'
    threads; set ``calls = 0`` to start a new count). Specs and ``close`` are ``inner``'s."""

    def __init__(self, inner: InferenceBackend) -> None:
        self.inner = inner
        self.calls = 0
        self._lock = threading.Lock()

    def infer(self, inputs: dict[str, NDArray[np.generic]]) -> dict[str, NDArray[np.generic]]:
        with self._lock:
            self.calls += 1
        return self.inner.infer(inputs)

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return self.inner.input_specs()

    def output_specs(self) -> tuple[TensorSpec, ...]:
        return self.inner.output_specs()

    def close(self) -> None:
        self.inner.close()

    def __repr__(self) -> str:
        return f"CountingBackend({self.inner!r}, calls={self.calls})"
