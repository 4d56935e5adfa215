"""The composition root of ``saferoad detect``: the adapters it uses, and only those.

Part of :mod:`saferoad.entrypoints.wiring` (which re-exports :func:`detect_ports` and
:func:`detect_sources`), kept in its own module so that the command imports the frame
sources, the detectors, the camera files and the outputs writer and nothing else: importing
the whole composition root loads every adapter (the recording readers, the simulator, the
cabin models, Ray's executor ...) and with them ``scipy.signal``, 1.1 s of ``saferoad
detect``'s start-up against 0.5 s for this module (with bytecode; docs/perception.md,
"Whole saferoad detect"). ``tests/perception/test_detect_startup.py`` keeps it so.

At import, only what starting a run needs: the detector builder (ONNX Runtime itself is
imported by the build, in its thread) and the frame sources. The frame loop's adapters (the
outputs writer and PyArrow, the lane markings, the renderer, the camera files) are imported
by :func:`_adapters`, which the application calls once the model is building and the video
decoding (docs/perception.md, "Start-up").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from saferoad.adapters.detectors import build_detector
from saferoad.adapters.video import open_frames
from saferoad.application import detect as _detect
from saferoad.application.detect import DetectAdapters, DetectPorts, DetectResult
from saferoad.config import SaferoadConfig
from saferoad.ports.detector import Detector


def _build_detector(cfg: SaferoadConfig) -> Detector:
    return build_detector(cfg)


@cache
def _adapters() -> DetectAdapters:
    # deferred for start-up: imported once the model builds and the video decodes, so that
    # these imports (PyArrow, the lane markings, the renderer) overlap them (application/detect.py)
    from saferoad._version import __version__
    from saferoad.adapters.outputs.files import OutputFiles
    from saferoad.adapters.video.calibration import load_camera_setup
    from saferoad.adapters.video.lanes import lane_horizon
    from saferoad.adapters.video.render import AnnotatedVideoWriter

    return DetectAdapters(
        load_camera_setup=load_camera_setup,
        annotated_video=AnnotatedVideoWriter,
        outputs=OutputFiles(__version__),
        horizon=lane_horizon,
    )


@cache
def detect_ports() -> DetectPorts:
    """The adapters of ``saferoad detect``: PyAV/OpenCV frames, the configured detector,
    and (imported when first asked for) camera files, the annotated video, the JSON writer,
    the lane-marking horizon."""
    return DetectPorts(open_frames=open_frames, build_detector=_build_detector, adapters=_adapters)


def detect_sources(
    sources: Sequence[str | Path],
    out_dir: Path,
    cfg: SaferoadConfig,
    *,
    camera_file: Path | None = None,
    render: bool = False,
    detector: Detector | None = None,
    imported: Callable[[], None] | None = None,
) -> DetectResult:
    """:func:`saferoad.application.detect.detect_sources` with this process's adapters."""
    return _detect.detect_sources(
        sources, out_dir, cfg, camera_file=camera_file, render=render, detector=detector,
        ports=detect_ports(), imported=imported,
    )
