"""Road-camera perception use case: frames → detections → tracks → metric distance, lead.

The API the road stage of ``analyze`` and ``saferoad detect`` use::

    from saferoad.application.perception import run_perception, TracksWriter

    frames = open_frames("drive.mp4", stride=3)                  # any FrameSource
    detector = build_detector(cfg, recording)                    # any Detector
    tracker = ByteTracker(tracker_params(cfg.perception, frames.fps / 3))
    camera = CameraModel(...) or None                            # None: hfov + config height
    with TracksWriter(outputs.open_tracks(out / "tracks.parquet")) as writer:  # AnalysisOutputs
        for frame, objects in run_perception(frames, detector, tracker, camera, cfg,
                                             horizon=ports.horizon):  # the lane markings
            writer.write(frame, objects)

``run_perception`` streams: it holds a bounded number of frames in flight (``2 × workers``)
and per-track distance histories only for live tracks, so memory stays flat on endless
streams. Each yielded :class:`~saferoad.domain.types.TrackedObject` has ``distance_m``
(metres to the object's near face, ``None`` where unknown; ``attributes["distance_sigma_m"]``
its one-sigma uncertainty where estimated from the image), ``is_lead`` (the nearest
vehicle in the ego corridor; at most one per frame) and ``attributes``: ``label`` (the
model's class name), ``lateral_m`` (left +), and for vehicles ``range_rate_mps`` (negative
= closing) and ``ttc_s`` (time to collision, ``inf`` when not closing) once the track has a
second of history; the lead's come from the domain's ``LeadTracker`` with the road-event
parameters (``road_events.range_rate_window_s``, a history that restarts when the lead
changes), the very computation behind the forward-collision rule, so the two agree;
traffic lights carry ``lamp``.

Inference of several frames runs in parallel when the detector supports it (a thread pool
of ``cfg.perception.workers``, each running one frame's inference at a time on the
session's single intra-op thread by default; ONNX Runtime releases the GIL), decoding
runs in the frame source's own thread, and tracking and geometry run in order in the
caller's thread. While the pool runs, two process-wide settings are changed
and restored after: OpenCV single-threaded (the detector's ``frame_parallel``) and the GIL
switch interval lowered to :data:`GIL_SWITCH_INTERVAL_S`.

Pitch and lanes: every ``PITCH_EVERY`` frames the lane markings are found (OpenCV). When
neither the configuration nor the camera states a pitch and ``cfg.perception.auto_pitch``
is on, their vanishing point re-estimates the horizon (median of the last
``PITCH_WINDOW`` estimates, applied when it moves by more than ``PITCH_DEADBAND``, which
restarts range-rate histories; until the first, the camera's own pitch, default 0). With
``cfg.perception.lane_corridor`` the nearest marking on each side bounds the ego corridor
for the lead vehicle (kept for three estimates, then back to ``±corridor_half_width_m``).
"""

from __future__ import annotations

import math
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import Any, Protocol

from saferoad.config import SaferoadConfig
from saferoad.config.perception import PerceptionConfig
from saferoad.domain.frame_geometry import (
    FrameGeometry,
    GeometryParams,
    HorizonEstimator,
    drop_hood,
)
from saferoad.domain.frame_geometry import PerceptionStats as PerceptionStats  # re-exported
from saferoad.domain.geometry import CameraModel
from saferoad.domain.params import params_from
from saferoad.domain.recording import Recording
from saferoad.domain.road_events.engine import RoadEventParams
from saferoad.domain.tracking import ByteTracker, TrackerParams
from saferoad.domain.types import (
    Detections,
    Frame,
    TrackedObject,
)
from saferoad.ports.detector import Detector, FrameParallelDetector
from saferoad.ports.outputs import TracksSink
from saferoad.process_settings import SharedSetting

_Geometry = FrameGeometry
"""The name ``benchmarks/bench_perception.py`` times the geometry's methods by."""
GIL_SWITCH_INTERVAL_S = 0.001
"""While frames run in parallel: how long a thread may hold the GIL while another waits for
it (Python's default is 5 ms). An inference thread whose frame is done needs the GIL for
a moment to hand the result back; with 5 ms it can sit waiting on the caller's tracking
while its core idles (measured: docs/perception.md, "Speed")."""


class _Tracker(Protocol):
    def update(self, detections: Detections) -> list[TrackedObject]: ...

    @property
    def active_ids(self) -> frozenset[int]: ...


def perception_config(cfg: SaferoadConfig | PerceptionConfig) -> PerceptionConfig:
    return cfg.perception if isinstance(cfg, SaferoadConfig) else cfg


def geometry_params(cfg: SaferoadConfig | PerceptionConfig) -> GeometryParams:
    """The domain's geometry parameters from the perception section (same names: the
    section's geometry keys are derived from them, config/perception.py)."""
    return params_from(GeometryParams, perception_config(cfg))


def tracker_params(cfg: SaferoadConfig | PerceptionConfig, fps: float) -> TrackerParams:
    """ByteTrack parameters from the config; the lost-track buffer in frames follows the
    rate at which frames reach the tracker (after the stride)."""
    p = perception_config(cfg)
    rate = fps if fps and fps > 0 else 10.0
    return TrackerParams(
        high_score=p.track_high_score,
        low_score=p.track_low_score,
        new_track_score=p.track_new_score,
        match_iou=p.track_match_iou,
        max_lost_frames=max(1, math.ceil(p.track_buffer_s * rate)),
    )


def track_steps(dt_s: float, rate: float) -> int:
    """Source frames between two frames ``dt_s`` apart at ``rate`` (at least one)."""
    return max(1, round(dt_s * rate))


def camera_for_recording(recording: Recording, width: int, height: int) -> tuple[CameraModel | None, bool]:
    """The road camera a recording's ``meta.toml`` describes, scaled to the video's frames,
    and whether its pitch counts as measured (``RecordingMeta.camera_pitch_known``: the
    ``[camera]`` table states ``pitch_deg``, the rule the road stage uses too); without a
    camera, ``None`` lets :func:`run_perception` fall back to ``perception.hfov_deg`` and
    estimate the pitch from the lane markings."""
    intr = recording.meta.camera
    if intr is None:
        return None, False
    return (
        CameraModel(intr, recording.meta.camera_mount).scaled(width, height),
        recording.meta.camera_pitch_known,
    )


_SWITCH_INTERVAL = SharedSetting(sys.getswitchinterval, sys.setswitchinterval)


def _gil_switch_interval(seconds: float) -> AbstractContextManager[None]:
    """``sys.setswitchinterval`` lowered to ``seconds`` (never raised) while the block runs;
    the setting is global to the process and is restored when the last of several
    overlapping blocks ends (two analyses at once in ``saferoad serve``)."""
    return _SWITCH_INTERVAL.held(lambda before: min(before, seconds))


def _detect_stream(
    frames: Iterable[Frame], detector: Detector, workers: int
) -> Iterator[tuple[Frame, Detections]]:
    """Detections in frame order, ``workers`` frames in flight at once."""
    if workers <= 1:
        for f in frames:
            yield f, detector.detect(f)
        return
    pending: deque[tuple[Frame, Future[Detections]]] = deque()
    # a detector may ask for its own setting while frames run in parallel (ModelDetector:
    # OpenCV single-threaded, as the frame-level threads already fill the cores)
    with (
        detector.frame_parallel() if isinstance(detector, FrameParallelDetector) else nullcontext(),
        _gil_switch_interval(GIL_SWITCH_INTERVAL_S),
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="saferoad-infer") as pool,
    ):
        try:
            for f in frames:
                pending.append((f, pool.submit(detector.detect, f)))
                if len(pending) >= 2 * workers:
                    pf, fut = pending.popleft()
                    yield pf, fut.result()
            while pending:
                pf, fut = pending.popleft()
                yield pf, fut.result()
        finally:
            for _, fut in pending:
                fut.cancel()


def run_perception(
    frames: Iterable[Frame],
    detector: Detector,
    tracker: _Tracker | None,
    camera: CameraModel | None,
    cfg: SaferoadConfig | PerceptionConfig,
    *,
    pitch_known: bool = False,
    horizon: HorizonEstimator | None,
    stats: PerceptionStats | None = None,
    workers: int | None = None,
) -> Iterator[tuple[Frame, list[TrackedObject]]]:
    """Stream ``(frame, tracked objects)`` for every frame of ``frames`` (see the module
    docstring for the fields). ``tracker`` None: a :class:`ByteTracker` from the config at
    the source's frame rate. ``camera`` None: ``hfov_deg`` and the configured height.
    ``pitch_known``: the camera's pitch is measured (no lane-based estimate).
    ``horizon``: the horizon from the lane markings (``AnalysisPorts.horizon``,
    ``DetectPorts.horizon``; ``adapters/video/lanes.lane_horizon``), None for no estimate.
    ``workers``: frames inferred in parallel (default ``cfg.perception.workers``)."""
    p = perception_config(cfg)
    st = stats if stats is not None else PerceptionStats()
    fps = float(getattr(frames, "fps", 0.0) or 0.0)
    stride = int(getattr(frames, "stride", 1) or 1)
    if tracker is None:
        tracker = ByteTracker(tracker_params(p, fps / stride if fps else 0.0))
    # frames skipped unevenly (a live camera's adaptive stride, a ring's drops): the tracker
    # steps by the frame times, at the rate its buffer was set for (a replay steps one a frame)
    track_rate = (fps / stride if fps else 0.0) if getattr(frames, "track_by_time", False) else 0.0
    last_t: float | None = None
    lead = (
        RoadEventParams.from_section(cfg.road_events)
        if isinstance(cfg, SaferoadConfig)
        else None
    )
    geo = FrameGeometry(camera, geometry_params(p), horizon, pitch_known, st, lead)
    n_workers = p.workers if workers is None else workers
    if not isinstance(detector, FrameParallelDetector):
        n_workers = 1  # replay and other cheap detectors: no thread pool
    for n, (frame, det) in enumerate(_detect_stream(_with_band(frames, geo), detector, n_workers)):
        det, hood = drop_hood(det, frame.width, frame.height, p.hood_fraction)
        st.dropped_hood += hood
        st.frames += 1
        st.detections += len(det)
        if track_rate > 0 and isinstance(tracker, ByteTracker):
            steps = 1 if last_t is None else track_steps(frame.t_s - last_t, track_rate)
            last_t = frame.t_s
            objs = tracker.update(det, steps)
        else:
            objs = tracker.update(det)
        objs = geo.apply(frame, objs, n, tracker.active_ids)
        st.track_ids.update(o.track_id for o in objs)
        yield frame, objs


def _with_band(frames: Iterable[Frame], geo: FrameGeometry) -> Iterator[Frame]:
    """``frames``, each carrying the horizon band of the camera and pitch known when it
    goes to the detector (``Frame.horizon_band``; a pitch found later applies to the frames
    sent after it)."""
    for f in frames:
        geo.prepare(f)
        yield replace(f, horizon_band=geo.band) if geo.band is not None else f


TRACKS_COLUMNS = (
    "frame", "t_s", "track_id", "cls", "score", "x1", "y1", "x2", "y2", "distance_m", "is_lead",
    "label", "lateral_m", "range_rate_mps", "ttc_s", "lamp", "distance_sigma_m",
)  # fmt: skip
"""``tracks.parquet``'s columns, in order: those of docs/recording-format.md, then extras
(nullable). Their types are the outputs adapter's (``adapters/outputs/tracks.TRACKS_SCHEMA``)."""


class TracksWriter:
    """Builds ``tracks.parquet``'s rows and hands them to ``sink`` (the outputs adapter's
    ``open_tracks``), a row group every ``flush_rows`` rows; :meth:`close` flushes the rest
    and closes the sink, which puts the file in place, so a run that stops on an error still
    leaves every frame processed so far on disk."""

    def __init__(self, sink: TracksSink, flush_rows: int = 4096) -> None:
        self.sink = sink
        self._rows: dict[str, list[Any]] = {n: [] for n in TRACKS_COLUMNS}
        self.flush_rows = flush_rows
        self.rows_written = 0

    def write(self, frame: Frame, objects: Iterable[TrackedObject]) -> None:
        r = self._rows
        for o in objects:
            a = o.attributes
            r["frame"].append(frame.index)
            r["t_s"].append(round(frame.t_s, 6))
            r["track_id"].append(o.track_id)
            r["cls"].append(o.cls.value)
            r["score"].append(round(o.score, 4))
            for k, v in zip(("x1", "y1", "x2", "y2"), o.xyxy, strict=True):
                r[k].append(round(v, 2))
            r["distance_m"].append(None if o.distance_m is None else round(o.distance_m, 3))
            r["is_lead"].append(o.is_lead)
            r["label"].append(a.get("label"))
            r["lateral_m"].append(_num_or_none(a.get("lateral_m")))
            r["range_rate_mps"].append(_num_or_none(a.get("range_rate_mps")))
            r["ttc_s"].append(_num_or_none(a.get("ttc_s")))
            lamp = a.get("lamp")
            r["lamp"].append(str(lamp) if lamp is not None else None)
            r["distance_sigma_m"].append(_num_or_none(a.get("distance_sigma_m")))
        if len(r["frame"]) >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        n = len(self._rows["frame"])
        if not n:
            return
        self.sink.add(self._rows)
        self.rows_written += n
        self._rows = {c: [] for c in TRACKS_COLUMNS}

    def close(self) -> None:
        """Flush the last rows and close the sink, even when that flush fails (a full disk):
        the sink releases its writer and its temporary file either way."""
        try:
            self.flush()
        finally:
            self.sink.close()

    def __enter__(self) -> TracksWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _num_or_none(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None
