"""Ports of ``saferoad detect`` and the road camera: opening frames, building the detector,
reading a camera file, writing an annotated video (``entrypoints/wiring.py`` builds them from
``adapters/video`` and ``adapters/detectors``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from saferoad.config import SaferoadConfig
from saferoad.domain.geometry import CameraModel
from saferoad.domain.types import Frame, TrackedObject
from saferoad.ports.detector import Detector
from saferoad.ports.frames import FrameSource


@runtime_checkable
class OpenedFrames(FrameSource, Protocol):
    """A frame source opened with ``errors="report"``: ``error`` is what stopped it early
    (None when it read to the end)."""

    @property
    def error(self) -> Exception | None: ...


class FramesOpener(Protocol):
    """Opens what a user pointed at (a video file or URL, an image, a folder of images,
    several images) as frames (``adapters/video/frames.open_frames``). A video source has
    ``declared_frames`` and may have ``start()`` (decoding begins before the first frame is
    asked for); still images have neither."""

    def __call__(
        self,
        sources: str | Path | Sequence[str | Path],
        *,
        stride: int = 1,
        image_fps: float = 10.0,
        errors: Literal["raise", "report"] = "raise",
    ) -> OpenedFrames: ...


class DetectorBuilder(Protocol):
    """The detector the config's ``perception`` section names (``adapters/detectors``)."""

    def __call__(self, cfg: SaferoadConfig) -> Detector: ...


class CameraSetupLoader(Protocol):
    """A camera file (camera.toml, a KITTI calibration) scaled to ``width`` x ``height``,
    and whether it states the pitch (``adapters/video/calibration.load_camera_setup``)."""

    def __call__(self, path: Path, width: int, height: int) -> tuple[CameraModel, bool]: ...


class AnnotatedVideo(Protocol):
    """An MP4 of the frames with the tracked objects drawn on them."""

    def write(self, frame: Frame, objects: list[TrackedObject]) -> None: ...

    def close(self) -> None: ...


class AnnotatedVideoOpener(Protocol):
    """Starts an annotated video at ``path`` with ``fps`` (``adapters/video/render``)."""

    def __call__(self, path: Path, fps: float) -> AnnotatedVideo: ...


class DetectionFramesOpener(Protocol):
    """The frames a labels file (``detections.json``) lists, images blank, for a recording
    without video (``adapters/replay/frames.DetectionFrames``); a ``ValueError`` naming the
    file when it lacks the size or a frame's time."""

    def __call__(self, path: Path) -> FrameSource: ...
