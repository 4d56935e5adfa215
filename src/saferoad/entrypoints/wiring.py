"""The composition root: the one place that builds adapters and hands them to the use cases.

The application receives every outside collaborator as a port (``saferoad/ports``); this
module picks the adapter behind each (cosmicpython's ``bootstrap``). The CLI, ``saferoad up``,
the services, the public API (``saferoad._api``) and the tests call the use cases through it:

    from saferoad.entrypoints import wiring
    result = wiring.analyze_recording(recording, config, out_dir)

A test or a caller that wants another adapter builds the ports with it replaced
(``dataclasses.replace(wiring.analysis_ports(), cut_clips=...)``) and calls the use case in
``saferoad.application`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

from saferoad import __version__
from saferoad.adapters.cabin.analyzer import FaceAnalyzer
from saferoad.adapters.cabin.track import read_cabin_csv, write_cabin_parquet
from saferoad.adapters.onnx.phone import YoloxPhoneDetector
from saferoad.adapters.outputs.files import OutputFiles
from saferoad.adapters.ray.executor import RayExecutor
from saferoad.adapters.recording import detect_format, open_recording, read_labels
from saferoad.adapters.recording.saferoad_format import read_meta
from saferoad.adapters.replay.detector import ReplayDetector, load_labels
from saferoad.adapters.video import open_frames
from saferoad.adapters.video.check import check_video
from saferoad.adapters.video.clips import cut_clips
from saferoad.application import analyze as _analyze
from saferoad.application import cabin as _cabin
from saferoad.application.analyze import AnalysisResult
from saferoad.application.cabin import CabinResult, CabinSource
from saferoad.application.context import AnalysisPorts
from saferoad.application.evaluation.executors import LocalExecutor
from saferoad.config import SaferoadConfig
from saferoad.config.cabin import CabinConfig
from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.recording import Recording
from saferoad.domain.types import CameraIntrinsics, Detections, SpeedSeries
from saferoad.observability import TraceRecorder
from saferoad.ports.cabin import CabinPorts
from saferoad.ports.cabin import FaceAnalyzer as FaceAnalyzerPort
from saferoad.ports.detector import Detector
from saferoad.ports.events import EventSink
from saferoad.ports.executor import TaskExecutor
from saferoad.ports.frames import FrameSource
from saferoad.ports.phone import PhoneDetector

__all__ = [
    "analysis_ports", "analyze_into", "analyze_recording", "cabin_ports", "detect_format", "make_executor",
    "open_recording", "outputs", "read_boxes", "resolve_cabin_source", "run_cabin_track", "run_cabin_video",
]


@cache
def outputs() -> OutputFiles:
    """The analyze output folder's writer (``adapters/outputs``)."""
    return OutputFiles(__version__)


class Detectors:
    """:class:`~saferoad.ports.detector.DetectorFactory` over ``adapters/replay``."""

    def replay(self, path: Path) -> Detector:
        return ReplayDetector(path)


def read_boxes(path: Path) -> Mapping[int, Detections]:
    """Labelled boxes by frame, as the replay detector reads them."""
    return load_labels(path).frames


def _cabin_camera(meta: Path) -> CameraIntrinsics | None:
    return read_meta(meta, warnings=False)[0].cabin_camera


def _open_cabin_video(source: str | Path) -> FrameSource:
    return open_frames(source)


@cache
def cabin_ports() -> CabinPorts:
    """The adapters of driver monitoring: the face pipeline (ONNX face models), YOLOX-nano
    for the phone, PyAV/OpenCV frames, the cabin track files."""
    return CabinPorts(
        face_analyzer=FaceAnalyzer,
        phone_detector=YoloxPhoneDetector,
        open_video=_open_cabin_video,
        read_track=read_cabin_csv,
        write_track=write_cabin_parquet,
        read_camera=_cabin_camera,
    )


@cache
def analysis_ports() -> AnalysisPorts:
    """The adapters an analysis uses. Built once per process: each is stateless (a detector
    is built per recording by ``detectors``)."""
    return AnalysisPorts(
        outputs=outputs(),
        open_recording=open_recording,
        read_labels=read_labels,
        read_boxes=read_boxes,
        detectors=Detectors(),
        check_video=check_video,
        cut_clips=cut_clips,
        cabin=cabin_ports(),
    )


def analyze_recording(
    recording: Recording,
    config: SaferoadConfig,
    out_dir: Path | None = None,
    *,
    detector: Detector | None = None,
    sink: EventSink | None = None,
    trace: TraceRecorder | None = None,
    ports: AnalysisPorts | None = None,
) -> AnalysisResult:
    """:func:`saferoad.application.analyze.analyze_recording` with this process's adapters."""
    return _analyze.analyze_recording(
        recording, config, out_dir, ports=ports or analysis_ports(), detector=detector, sink=sink, trace=trace
    )


def analyze_into(
    recording: Recording,
    config: SaferoadConfig,
    out_dir: Path | None,
    *,
    detector: Detector | None = None,
    sink: EventSink | None = None,
    trace: TraceRecorder | None = None,
) -> AnalysisResult:
    """:func:`saferoad.application.analyze.analyze_into` with this process's adapters."""
    return _analyze.analyze_into(
        recording, config, out_dir, ports=analysis_ports(), detector=detector, sink=sink, trace=trace
    )


def make_executor(kind: str, workers: int = 0, address: str | None = None) -> TaskExecutor:
    """The evaluation's executor: ``local`` (a process pool) or ``ray`` (``adapters/ray``)."""
    if kind == "local":
        if address:
            raise ValueError("--address needs --executor ray")
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers=workers, address=address)  # it imports Ray when it starts
    raise ValueError(f"unknown executor {kind!r} (local or ray)")


def resolve_cabin_source(source: str) -> CabinSource:
    """:func:`saferoad.application.cabin.resolve_cabin_source` with this process's adapters."""
    return _cabin.resolve_cabin_source(source, cabin_ports())


def run_cabin_video(
    source: str | Path,
    config: CabinConfig | None = None,
    *,
    speed: SpeedSeries | None = None,
    intrinsics: CameraIntrinsics | None = None,
    time_offset_s: float = 0.0,
    models_root: Path | None = None,
    analyzer: FaceAnalyzerPort | None = None,
    phone_detector: PhoneDetector | None = None,
) -> CabinResult:
    """:func:`saferoad.application.cabin.run_cabin_video` with this process's adapters."""
    return _cabin.run_cabin_video(
        source, config, ports=cabin_ports(), speed=speed, intrinsics=intrinsics,
        time_offset_s=time_offset_s, models_root=models_root, analyzer=analyzer,
        phone_detector=phone_detector,
    )


def run_cabin_track(
    samples: list[CabinSample] | Path, config: CabinConfig | None = None, *, speed: SpeedSeries | None = None
) -> CabinResult:
    """:func:`saferoad.application.cabin.run_cabin_track` with this process's adapters."""
    return _cabin.run_cabin_track(samples, config, ports=cabin_ports(), speed=speed)
