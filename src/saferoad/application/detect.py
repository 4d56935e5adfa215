"""``saferoad detect``: perception on videos or images, written to a folder.

Outputs: ``OUT/tracks.parquet`` (columns: :data:`saferoad.application.perception.TRACKS_COLUMNS`,
written by the outputs port's ``open_tracks``),
``OUT/detect.json`` (what ran and what it saw) and, with ``render``, ``OUT/annotated.mp4``.
A video that breaks part-way keeps every frame processed before the break in the outputs;
the error is in ``detect.json`` and in :attr:`DetectResult.error`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from saferoad.application.perception import PerceptionStats, TracksWriter, run_perception
from saferoad.config import SaferoadConfig
from saferoad.domain.frame_geometry import HorizonEstimator
from saferoad.domain.geometry import CameraModel
from saferoad.domain.tracking import PerFrameIds
from saferoad.observability import get_logger, span
from saferoad.ports.detector import Detector
from saferoad.ports.outputs import AnalysisOutputs
from saferoad.ports.perception import (
    AnnotatedVideoOpener,
    CameraSetupLoader,
    DetectorBuilder,
    FramesOpener,
    OpenedFrames,
)


@dataclass(frozen=True)
class DetectPorts:
    """The adapters ``saferoad detect`` uses, as ports (``entrypoints/wiring.detect_ports``)."""

    open_frames: FramesOpener
    build_detector: DetectorBuilder
    """The detector the config names (built in a thread while the frames open)."""
    load_camera_setup: CameraSetupLoader
    annotated_video: AnnotatedVideoOpener
    outputs: AnalysisOutputs
    """Writes ``tracks.parquet`` (``open_tracks``) and ``detect.json`` atomically."""
    horizon: HorizonEstimator | None
    """The horizon from the lane markings, for a camera whose pitch is not known."""


def _is_video(frames: OpenedFrames) -> bool:
    """A video source declares its frame count; still images do not."""
    return hasattr(frames, "declared_frames")


def open_with_detector(
    sources: Sequence[str | Path], cfg: SaferoadConfig, detector: Detector | None, *, ports: DetectPorts
) -> tuple[OpenedFrames, Detector]:
    """The frame source and the detector, prepared at once: the model session is built
    (and warmed up) in a thread while the source opens and starts decoding its first
    frames, so neither waits for the other (ONNX Runtime and FFmpeg release the GIL).
    Whichever fails first is raised; the other is then closed."""
    p = cfg.perception
    open_frames = ports.open_frames
    if detector is not None:
        frames = open_frames(list(sources), stride=p.stride, image_fps=p.image_fps, errors="report")
        return frames, detector
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="saferoad-model") as pool:
        building = pool.submit(ports.build_detector, cfg)
        try:
            frames = open_frames(list(sources), stride=p.stride, image_fps=p.image_fps, errors="report")
        except BaseException:
            with contextlib.suppress(Exception):  # the source's error is the one to report
                _close(building.result())
            raise
        start = getattr(frames, "start", None)  # a video decodes ahead (FramesOpener)
        if start is not None:
            start()
        try:
            det = building.result()
        except BaseException:
            frames.close()
            raise
    return frames, det


def _close(det: Detector) -> None:
    """Close a detector this module built (a model's session, a remote backend's channel);
    the :class:`Detector` port has no ``close``, a replay needs none."""
    getattr(det, "close", lambda: None)()


@dataclass
class DetectResult:
    summary: dict[str, Any]
    error: str | None


def detect_sources(
    sources: Sequence[str | Path],
    out_dir: Path,
    cfg: SaferoadConfig,
    *,
    camera_file: Path | None = None,
    render: bool = False,
    detector: Detector | None = None,
    ports: DetectPorts,
) -> DetectResult:
    """Detect and track in ``sources`` into ``out_dir``; ``ports``: the adapters
    (``saferoad.entrypoints.wiring.detect_ports``)."""
    log = get_logger("detect")
    p = cfg.perception
    out_dir.mkdir(parents=True, exist_ok=True)
    frames, det = open_with_detector(sources, cfg, detector, ports=ports)
    built = det if detector is None else None  # the caller closes its own detector
    camera: CameraModel | None = None
    pitch_known = False
    try:
        if camera_file is not None:
            camera, pitch_known = ports.load_camera_setup(camera_file, frames.width, frames.height)
    except BaseException:
        frames.close()
        if built is not None:
            _close(built)
        raise
    stats = PerceptionStats()
    fps = frames.fps / (p.stride if _is_video(frames) else 1) if frames.fps else 0.0
    started = time.perf_counter()
    writer = TracksWriter(ports.outputs.open_tracks(out_dir / "tracks.parquet"))
    try:
        video = ports.annotated_video(out_dir / "annotated.mp4", fps) if render else None
    except BaseException:
        writer.close()
        frames.close()
        if built is not None:
            _close(built)
        raise
    try:
        with span("perception.detect", sources=len(sources), detector=det.name) as res:
            still = not _is_video(frames) and not p.track_images
            for frame, objs in run_perception(
                frames, det, PerFrameIds() if still else None, camera, cfg,
                pitch_known=pitch_known, horizon=ports.horizon, stats=stats,
            ):
                writer.write(frame, objs)
                if video is not None:
                    video.write(frame, objs)
            res.update(stats.as_dict())
    finally:
        writer.close()
        if video is not None:
            video.close()
        frames.close()
        if built is not None:
            _close(built)
    wall = time.perf_counter() - started
    error = str(frames.error) if frames.error is not None else None
    summary = {
        "sources": [str(s) for s in sources],
        "detector": det.name,
        "camera": str(camera_file) if camera_file else None,
        "stride": p.stride,
        **stats.as_dict(),
        "rows": writer.rows_written,
        "wall_s": round(wall, 3),
        "fps": round(stats.frames / wall, 2) if wall > 0 else None,
        "error": error,
        "outputs": ["tracks.parquet", *(["annotated.mp4"] if render else [])],
    }
    ports.outputs.write_json(out_dir / "detect.json", summary)
    log.info("detect_done", out=str(out_dir), frames=stats.frames, error=error)
    return DetectResult(summary, error)
