"""``saferoad detect``: perception on videos or images, written to a folder.

Outputs: ``OUT/tracks.parquet`` (columns: :data:`saferoad.application.perception.TRACKS_COLUMNS`,
written by the outputs port's ``open_tracks``),
``OUT/detect.json`` (what ran and what it saw) and, with ``render``, ``OUT/annotated.mp4``.
A video that breaks part-way keeps every frame processed before the break in the outputs;
the error is in ``detect.json`` and in :attr:`DetectResult.error`. A run interrupted in its
frame loop (``KeyboardInterrupt``: Ctrl-C, or SIGTERM as ``saferoad detect`` raises it) ends
the same way, ``detect.json``'s error ``interrupted (SIGTERM)``, then re-raises.

Start-up (docs/perception.md, "Start-up"): the model session is built in a thread while the
video opens and starts decoding, and while the frame loop's own modules (the tracker's
``scipy.optimize``, PyArrow, the lane markings: :attr:`DetectPorts.adapters`, and
:mod:`saferoad.application.perception`) are imported, so none of the three waits for another.
This module imports none of them itself.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from saferoad.config import SaferoadConfig
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

if TYPE_CHECKING:
    from saferoad.domain.frame_geometry import HorizonEstimator
    from saferoad.domain.geometry import CameraModel


@dataclass(frozen=True)
class DetectAdapters:
    """The adapters of the frame loop and of the outputs: imported only once the model is
    building and the video decoding (:attr:`DetectPorts.adapters`)."""

    load_camera_setup: CameraSetupLoader
    annotated_video: AnnotatedVideoOpener
    outputs: AnalysisOutputs
    """Writes ``tracks.parquet`` (``open_tracks``) and ``detect.json`` atomically."""
    horizon: HorizonEstimator | None
    """The horizon from the lane markings, for a camera whose pitch is not known."""


@dataclass(frozen=True)
class DetectPorts:
    """The adapters ``saferoad detect`` uses, as ports (``entrypoints/detect_wiring.detect_ports``)."""

    open_frames: FramesOpener
    build_detector: DetectorBuilder
    """The detector the config names (built in a thread while the frames open)."""
    adapters: Callable[[], DetectAdapters]
    """The rest (camera files, the annotated video, the outputs writer, the lane-marking
    horizon), imported when called: :func:`detect_sources` calls it after starting the model
    build and the video, so that those imports overlap them."""


def _is_video(frames: OpenedFrames) -> bool:
    """A video source declares its frame count; still images do not."""
    return hasattr(frames, "declared_frames")


def _start(
    sources: Sequence[str | Path], cfg: SaferoadConfig, pool: ThreadPoolExecutor, *, ports: DetectPorts
) -> tuple[OpenedFrames, Future[Detector]]:
    """Submit the model build to ``pool``, then open the source and start its decoding
    thread. A source that does not open is raised (after closing whatever the build made)."""
    p = cfg.perception
    building = pool.submit(ports.build_detector, cfg)
    try:
        frames = ports.open_frames(list(sources), stride=p.stride, image_fps=p.image_fps, errors="report")
    except BaseException:
        with contextlib.suppress(Exception):  # the source's error is the one to report
            _close(building.result())
        raise
    start = getattr(frames, "start", None)  # a video decodes ahead (FramesOpener)
    if start is not None:
        start()
    return frames, building


def _built(frames: OpenedFrames, building: Future[Detector]) -> Detector:
    """The detector ``building`` makes; its error is raised after closing ``frames``."""
    try:
        return building.result()
    except BaseException:
        frames.close()
        raise


def open_with_detector(
    sources: Sequence[str | Path], cfg: SaferoadConfig, detector: Detector | None, *, ports: DetectPorts
) -> tuple[OpenedFrames, Detector]:
    """The frame source and the detector, prepared at once: the model session is built
    (and warmed up) in a thread while the source opens and starts decoding its first
    frames, so neither waits for the other (ONNX Runtime and FFmpeg release the GIL).
    Whichever fails first is raised; the other is then closed."""
    if detector is not None:
        p = cfg.perception
        return ports.open_frames(list(sources), stride=p.stride, image_fps=p.image_fps, errors="report"), detector
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="saferoad-model") as pool:
        frames, building = _start(sources, cfg, pool, ports=ports)
        return frames, _built(frames, building)


def _prepare(
    sources: Sequence[str | Path],
    cfg: SaferoadConfig,
    detector: Detector | None,
    ports: DetectPorts,
    imported: Callable[[], None] | None,
) -> tuple[OpenedFrames, Detector, DetectAdapters]:
    """:func:`open_with_detector`, with the frame loop's imports done while the model builds
    and the video decodes; ``imported`` is called once they are done."""

    def import_rest() -> DetectAdapters:
        adapters = ports.adapters()
        import saferoad.application.perception  # noqa: F401  (the frame loop, the tracker)

        if imported is not None:
            imported()
        return adapters

    if detector is not None:
        frames, det = open_with_detector(sources, cfg, detector, ports=ports)
        try:
            return frames, det, import_rest()
        except BaseException:
            frames.close()
            raise
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="saferoad-model") as pool:
        frames, building = _start(sources, cfg, pool, ports=ports)
        if building.done() and building.exception() is not None:
            _built(frames, building)  # raises: a bad model path fails before the imports
        try:
            adapters = import_rest()
        except BaseException:
            frames.close()
            with contextlib.suppress(Exception):
                _close(building.result())
            raise
        return frames, _built(frames, building), adapters


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
    imported: Callable[[], None] | None = None,
) -> DetectResult:
    """Detect and track in ``sources`` into ``out_dir``; ``ports``: the adapters
    (``saferoad.entrypoints.detect_wiring.detect_ports``); ``imported``: called once every
    module the run needs is imported (the command freezes them for the garbage collector)."""
    log = get_logger("detect")
    p = cfg.perception
    out_dir.mkdir(parents=True, exist_ok=True)
    frames, det, adapters = _prepare(sources, cfg, detector, ports, imported)
    # deferred for start-up: _prepare imported these while the model built and the video
    # decoded (the tracker's scipy.optimize); here they are only bound
    from saferoad.application.perception import PerceptionStats, TracksWriter, run_perception
    from saferoad.domain.tracking import PerFrameIds

    built = det if detector is None else None  # the caller closes its own detector
    camera: CameraModel | None = None
    pitch_known = False
    try:
        if camera_file is not None:
            camera, pitch_known = adapters.load_camera_setup(camera_file, frames.width, frames.height)
    except BaseException:
        frames.close()
        if built is not None:
            _close(built)
        raise
    stats = PerceptionStats()
    fps = frames.fps / (p.stride if _is_video(frames) else 1) if frames.fps else 0.0
    started = time.perf_counter()
    try:
        writer = TracksWriter(adapters.outputs.open_tracks(out_dir / "tracks.parquet"))
        try:
            video = adapters.annotated_video(out_dir / "annotated.mp4", fps) if render else None
        except BaseException:
            writer.close()
            raise
    except BaseException:
        frames.close()
        if built is not None:
            _close(built)
        raise
    interrupted: KeyboardInterrupt | None = None
    try:
        with span("perception.detect", sources=len(sources), detector=det.name) as res:
            still = not _is_video(frames) and not p.track_images
            for frame, objs in run_perception(
                frames, det, PerFrameIds() if still else None, camera, cfg,
                pitch_known=pitch_known, horizon=adapters.horizon, stats=stats,
            ):
                writer.write(frame, objs)
                if video is not None:
                    video.write(frame, objs)
            res.update(stats.as_dict())
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM in the command: stop like an error
        interrupted = err
    finally:
        writer.close()  # every frame processed so far, in place (also on an error)
        if video is not None:
            video.close()
        frames.close()
        if built is not None:
            _close(built)
    wall = time.perf_counter() - started
    if interrupted is not None:
        error: str | None = f"interrupted ({interrupted})" if str(interrupted) else "interrupted"
    else:
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
    adapters.outputs.write_json(out_dir / "detect.json", summary)
    log.info("detect_done", out=str(out_dir), frames=stats.frames, error=error)
    if interrupted is not None:
        raise interrupted  # detect.json says so; the caller still sees the interruption
    return DetectResult(summary, error)
