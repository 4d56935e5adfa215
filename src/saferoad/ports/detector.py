"""Detector ports.

A :class:`Detector` turns a frame into road-user detections. Model-based detectors split in
two: the model card's pre- and post-processing (letterbox, decode, NMS) and an
:class:`InferenceBackend` that runs the tensors — locally with ONNX Runtime or remotely over
the KServe v2 gRPC protocol. Switching backends is configuration, not code.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from saferoad.config import SaferoadConfig
from saferoad.domain.recording import Recording
from saferoad.domain.types import Detections, Frame


@runtime_checkable
class Detector(Protocol):
    """Finds road users in a frame."""

    name: str

    def detect(self, frame: Frame) -> Detections: ...


@runtime_checkable
class FrameParallelDetector(Detector, Protocol):
    """A detector worth running on several frames at once, one thread each (its cost is
    model inference, which releases the GIL); a cheap one (replay) runs in the caller's
    thread. ``frame_parallel()`` is entered around the thread pool, for settings of its own
    while frames run in parallel."""

    def frame_parallel(self) -> AbstractContextManager[None]: ...


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """A model input or output as the backend reports it: ``shape`` has ``None`` for a
    dynamic dimension; ``dtype`` is a NumPy dtype name (``"float32"``)."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str


@runtime_checkable
class InferenceBackend(Protocol):
    """Runs a model on named input tensors and returns named output tensors.

    ``input_specs()``/``output_specs()`` report what the served model really takes and gives
    (ONNX Runtime session metadata, KServe v2 ModelMetadata), so a model card can be checked
    against the model instead of trusted.
    """

    def infer(self, inputs: dict[str, NDArray[np.generic]]) -> dict[str, NDArray[np.generic]]: ...

    def input_specs(self) -> tuple[TensorSpec, ...]: ...

    def output_specs(self) -> tuple[TensorSpec, ...]: ...

    def close(self) -> None: ...


class DetectorFactory(Protocol):
    """Detectors a use case builds itself (``adapters/detectors``, ``adapters/replay``):
    the road stage's, and ``saferoad demo``'s replay of the simulator's exact boxes."""

    def replay(self, path: Path) -> Detector:
        """A detector that replays the boxes of a labels file (``detections.json``)."""
        ...

    def for_recording(self, cfg: SaferoadConfig, recording: Recording) -> Detector:
        """The detector the road stage runs on ``recording``: the one the config names, but a
        recording without video replays its detections whatever the config."""
        ...

    def is_replay(self, detector: Detector) -> bool:
        """Whether ``detector`` replays a labels file (whose track ids may be kept)."""
        ...
