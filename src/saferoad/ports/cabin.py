"""Driver-monitoring ports: the face pipeline, the phone detector and the cabin track files,
as the cabin use case (``application/cabin.py``) needs them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from saferoad.config.cabin import CabinConfig
from saferoad.domain.cabin.monitor import CabinState
from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.types import CameraIntrinsics, FloatArray, Frame
from saferoad.ports.frames import FrameSource
from saferoad.ports.phone import PhoneDetector


class FaceLandmarks(Protocol):
    @property
    def points(self) -> FloatArray:
        """(N, 2) landmarks in frame pixels."""
        ...


class FaceAnalyzer(Protocol):
    """Per-frame eye, mouth and head-pose signals of the driver's face
    (``adapters/cabin/analyzer.FaceAnalyzer``)."""

    @property
    def last_landmarks(self) -> FaceLandmarks | None: ...

    def analyze(self, frame: Frame) -> CabinSample: ...

    def close(self) -> None: ...


class FaceAnalyzerFactory(Protocol):
    def __call__(
        self, config: CabinConfig, intrinsics: CameraIntrinsics | None, models_root: Path | None, /
    ) -> FaceAnalyzer: ...


class ClosablePhoneDetector(PhoneDetector, Protocol):
    def close(self) -> None: ...


class PhoneDetectorFactory(Protocol):
    """The configured phone detector (``adapters/onnx/phone``)."""

    def __call__(
        self, *, models_root: Path | None, near_face: float, hand_zone: float, threads: int
    ) -> ClosablePhoneDetector: ...


class CabinVideoOpener(Protocol):
    """A cabin video, GIF, image folder or URL as frames (``adapters/video``)."""

    def __call__(self, source: str | Path, /) -> FrameSource: ...


class CabinTrackReader(Protocol):
    """A ``cabin.csv`` signal track (``adapters/cabin/track``)."""

    def __call__(self, path: Path, /) -> list[CabinSample]: ...


class CabinTrackWriter(Protocol):
    """``cabin.parquet``: the samples and the monitor's states (``adapters/cabin/track``)."""

    def __call__(
        self, path: Path, samples: Sequence[CabinSample], states: Sequence[CabinState] | None = None, /
    ) -> None: ...


class CabinCameraReader(Protocol):
    """The cabin camera's intrinsics a recording's ``meta.toml`` gives (``[cabin_camera]``),
    None when it gives none; a file that cannot be read is a ``ValueError`` naming it."""

    def __call__(self, meta: Path, /) -> CameraIntrinsics | None: ...


@dataclass(frozen=True)
class CabinPorts:
    """The adapters the cabin use case uses (built by ``entrypoints/wiring.py``)."""

    face_analyzer: FaceAnalyzerFactory
    phone_detector: PhoneDetectorFactory
    open_video: CabinVideoOpener
    read_track: CabinTrackReader
    write_track: CabinTrackWriter
    read_camera: CabinCameraReader
