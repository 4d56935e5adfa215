"""Composition root of the live recorder (``saferoad edge`` without a recording): the sensor
feeds, the live camera and its detector are built here from ``config.edge`` and handed to
:class:`~saferoad.application.edge_live.LiveRecorder` as ports."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

from saferoad.adapters.detectors import build_detector
from saferoad.adapters.loop.segments import LoopStore
from saferoad.adapters.outputs.files import write_events, write_json_atomic
from saferoad.adapters.recording.saferoad_format import imu_layout, read_meta
from saferoad.adapters.replay.detector import ReplayDetector
from saferoad.adapters.sensors import SerialNmeaFeed, UdpCanFeed, UdpCsvFeed
from saferoad.adapters.video.live import FfmpegFrameSource, is_live
from saferoad.adapters.video.loop_video import LoopVideoSpec, VideoLoopFolder
from saferoad.application.edge_cabin import LiveCabin
from saferoad.application.edge_live import (
    Heartbeats,
    ImuLayout,
    LiveCamera,
    LiveRecorder,
    status_path_for,
)
from saferoad.application.stages.road_camera import SourceIdTracker
from saferoad.config import SaferoadConfig
from saferoad.config.edge import EdgeConfig
from saferoad.domain.recording import RecordingMeta
from saferoad.entrypoints.wiring import alert_sinks, analysis_ports, cabin_ports
from saferoad.ports.edge import AlertSink, EventSpool
from saferoad.ports.lanes import LaneDetector, LaneDetectorFactory
from saferoad.ports.sensors import SensorFeed

LIVE_SOURCES = ("camera", "cabin_camera", "imu_udp", "gps_udp", "gps_serial", "can_udp")
"""The ``[edge]`` keys of the live sources."""
NO_SOURCE = (
    "edge: no source: give --replay REC, edge.recording, or a live source ("
    + ", ".join(f"edge.{k}" for k in LIVE_SOURCES) + ")"
)  # fmt: skip


def has_live_sources(cfg: EdgeConfig) -> bool:
    return any(getattr(cfg, k) is not None for k in LIVE_SOURCES)


def device_meta(cfg: EdgeConfig) -> tuple[RecordingMeta, ImuLayout]:
    """The installation (``edge.device_meta``, a meta.toml): ids, IMU axes, camera."""
    if cfg.device_meta is None:
        return RecordingMeta(), ImuLayout()
    path = Path(cfg.device_meta)
    meta, raw = read_meta(path)
    frame, removed, tau = imu_layout(raw, path)
    return meta, ImuLayout(frame, removed, tau)


def open_feeds(cfg: EdgeConfig, origin: float) -> list[SensorFeed]:
    """The configured sensor feeds, listening/open (a ValueError names the one that fails)."""
    feeds: list[SensorFeed] = []
    try:
        if cfg.imu_udp is not None:
            feeds.append(UdpCsvFeed(cfg.imu_udp, "imu", origin))
        if cfg.gps_udp is not None:
            feeds.append(UdpCsvFeed(cfg.gps_udp, "gps", origin))
        if cfg.gps_serial is not None:
            feeds.append(SerialNmeaFeed(cfg.gps_serial, cfg.gps_baud, origin))
        if cfg.can_udp is not None:
            feeds.append(UdpCanFeed(cfg.can_udp, origin))
    except Exception:
        for f in feeds:
            f.close()
        raise
    return feeds


def loop_video_spec(cfg: EdgeConfig) -> LoopVideoSpec | None:
    """The road camera's video loop (``edge.loop_dir`` with ``edge.loop_video``): ``auto`` copies
    an RTSP camera's H.264 and encodes anything else (V4L2, MJPEG over HTTP, files)."""
    if cfg.loop_dir is None or not cfg.loop_video or cfg.camera is None:
        return None
    codec = cfg.loop_video_codec
    if codec == "auto":
        codec = "copy" if cfg.camera.startswith("rtsp://") else "libx264"
    return LoopVideoSpec(Path(cfg.loop_dir), cfg.loop_video_segment_s or cfg.loop_segment_s, codec, cfg.loop_video_crf)


def open_camera(cfg: EdgeConfig) -> FfmpegFrameSource:
    assert cfg.camera is not None
    return FfmpegFrameSource(
        cfg.camera, cfg.camera_width, cfg.camera_height, ring=cfg.camera_ring, stall_s=cfg.camera_stall_s,
        realtime=not is_live(cfg.camera), fps=cfg.camera_fps, loop_video=loop_video_spec(cfg),
    )  # fmt: skip


def open_cabin_camera(cfg: EdgeConfig) -> FfmpegFrameSource:
    """The cabin camera: the road camera's source class (ring, watchdog), its own size and rate."""
    assert cfg.cabin_camera is not None
    return FfmpegFrameSource(
        cfg.cabin_camera, cfg.cabin_camera_width, cfg.cabin_camera_height, ring=cfg.camera_ring,
        stall_s=cfg.camera_stall_s, realtime=not is_live(cfg.cabin_camera), fps=cfg.cabin_camera_fps,
    )  # fmt: skip


def live_lane_detector(cfg: SaferoadConfig, meta: RecordingMeta, build: LaneDetectorFactory) -> LaneDetector | None:
    """The lane-marking detector the replay's camera feed uses (``ports.lane_detector``, the
    same settings), for the live camera's inference stage (``lanes.enabled``)."""
    if not cfg.lanes.enabled:
        return None
    p = cfg.perception
    return build(estimate_pitch=p.auto_pitch and not meta.camera_pitch_known and p.camera_pitch_deg is None)


def build_live_recorder(
    cfg: SaferoadConfig,
    *,
    sinks: list[AlertSink],
    spool: EventSpool | None,
    status_path: Path | None,
    clip_dir: Path | None = None,
) -> LiveRecorder:
    """Every configured live source opened and started, the recorder around them. ``clip_dir``:
    where live clips are cut from the camera's video loop before they go into the spool."""
    ecfg = cfg.edge
    if not has_live_sources(ecfg):
        raise ValueError(NO_SOURCE)
    meta, layout = device_meta(ecfg)
    ports = analysis_ports()
    origin = time.monotonic()
    beats = Heartbeats()
    feeds = open_feeds(ecfg, origin)
    camera: LiveCamera | None = None
    source: FfmpegFrameSource | None = None
    cabin: LiveCabin | None = None
    cabin_source: FfmpegFrameSource | None = None
    try:
        if ecfg.camera is not None:
            detector = build_detector(cfg, None)
            tracker: Any = None
            if isinstance(detector, ReplayDetector) and cfg.road_events.replay_identities:
                tracker = SourceIdTracker()
            source = open_camera(ecfg)
            camera = LiveCamera(source, detector, cfg, meta, origin, beats, tracker=tracker, width=ecfg.camera_width,
                                height=ecfg.camera_height, nominal_fps=ecfg.camera_fps or 30.0,
                                frame_period_s=None if ecfg.camera_fps is None else 1.0 / ecfg.camera_fps,
                                lane_detector=live_lane_detector(cfg, meta, ports.lane_detector),
                                horizon=ports.horizon).start()  # fmt: skip
        if ecfg.cabin_camera is not None:
            cabin_source = open_cabin_camera(ecfg)
            cabin = LiveCabin(
                cabin_source, cfg.cabin, cabin_ports(), origin, intrinsics=meta.cabin_camera,
                frame_period_s=None if ecfg.cabin_camera_fps is None else 1.0 / ecfg.cabin_camera_fps, beat=beats.beat,
            ).start()  # fmt: skip
        loop = None
        if ecfg.loop_dir is not None:
            loop = LoopStore(Path(ecfg.loop_dir), ecfg.loop_segment_s, int(ecfg.loop_budget_mb * 2**20), time.time())
    except Exception:
        for f in feeds:
            f.close()
        if cabin is not None:
            cabin.close()
        elif cabin_source is not None:
            cabin_source.close()
        if camera is not None:
            camera.close()
        elif source is not None:
            source.close()
        raise

    def decoder_pids() -> list[int]:
        return [p for s in (source, cabin_source) if s is not None and (p := s.pid) is not None]

    return LiveRecorder(
        cfg, feeds=feeds, camera=camera, meta=meta, imu_layout=layout, origin=origin, beats=beats,
        sinks=sinks, spool=spool, status_path=status_path, decoder_pids=decoder_pids, loop=loop, cabin=cabin,
        ports=ports, clip_dir=clip_dir,
        video_loop=None if (spec := loop_video_spec(ecfg)) is None else VideoLoopFolder(spec.folder),
    )  # fmt: skip


def check_camera(cfg: EdgeConfig, seconds: float = 2.0) -> str:
    """Open the live camera, read it for ``seconds``, close it: what ``edge --check`` says."""
    assert cfg.camera is not None
    src = FfmpegFrameSource(
        cfg.camera, cfg.camera_width, cfg.camera_height, ring=cfg.camera_ring, stall_s=cfg.camera_stall_s,
        realtime=not is_live(cfg.camera),
    )  # fmt: skip
    try:
        # up to one stall and a restart for the first frame, but a decoder that exited before
        # it (a file that does not exist, a refused stream) is said at once, with its message
        deadline = time.monotonic() + 2 * cfg.camera_stall_s + 5
        first = None
        while first is None and time.monotonic() < deadline:
            first = src.read(timeout_s=0.2)
            err = src.stats.last_error
            if first is None and err is not None and err.startswith("decoder exited"):
                raise ValueError(f"edge.camera: no frame from {cfg.camera}: {err}")
        if first is None:
            raise ValueError(f"edge.camera: no frame from {cfg.camera} ({src.stats.last_error or 'no answer'})")
        t0 = time.monotonic()
        n = 1
        while time.monotonic() - t0 < seconds:
            if src.read(timeout_s=seconds) is not None:
                n += 1
        took = time.monotonic() - t0
    finally:
        src.close()
    return (
        f"edge: camera {cfg.camera}: {n} frames of {cfg.camera_width}x{cfg.camera_height} in {took:.1f} s "
        f"({n / took:.1f} fps), {src.stats.dropped} dropped, {src.stats.restarts} restarts"
    )


def check_cabin_camera(cfg: SaferoadConfig, seconds: float = 2.0) -> str:
    """``edge --check``: open the cabin camera, read it ``seconds``, and look for the driver's
    face in the last frame with the face pipeline the recorder uses."""
    ecfg = cfg.edge
    src = open_cabin_camera(ecfg)
    try:
        first = src.read(timeout_s=2 * ecfg.camera_stall_s + 5)
        if first is None:
            raise ValueError(f"edge.cabin_camera: no frame from {ecfg.cabin_camera} ({src.stats.last_error or 'no answer'})")
        t0 = time.monotonic()
        n, last = 1, first
        while time.monotonic() - t0 < seconds:
            if (f := src.read(timeout_s=seconds)) is not None:
                n, last = n + 1, f
        took = time.monotonic() - t0
    finally:
        src.close()
    meta, _ = device_meta(ecfg)
    analyzer = cabin_ports().face_analyzer(cfg.cabin, meta.cabin_camera, None)
    try:
        face = analyzer.analyze(last).face
    finally:
        analyzer.close()
    return (
        f"edge: cabin camera {ecfg.cabin_camera}: {n} frames of {ecfg.cabin_camera_width}x{ecfg.cabin_camera_height} "
        f"in {took:.1f} s ({n / took:.1f} fps), {src.stats.dropped} dropped, {src.stats.restarts} restarts; "
        f"driver's face {'found' if face else 'NOT found'} in the last frame"
    )


def check_feeds(cfg: EdgeConfig, seconds: float = 2.0) -> list[str]:
    """``edge --check``: open each sensor feed, listen ``seconds``, say what came (or why not)."""
    feeds = open_feeds(cfg, time.monotonic())
    try:
        time.sleep(seconds if feeds else 0.0)
        lines = []
        for f in feeds:
            f.poll()
            st = f.stats
            where = {"imu_udp": cfg.imu_udp, "gps_udp": cfg.gps_udp, "can_udp": cfg.can_udp}.get(f.name, cfg.gps_serial)
            lines.append(
                f"edge: {f.name} {where}: open; {st.lines} lines, {st.samples} samples, {st.bad} refused in {seconds:.1f} s"
                + (f" (last: {st.last_error})" if st.last_error else "")
            )
        return lines
    finally:
        for f in feeds:
            f.close()


def run_live(cfg: SaferoadConfig, spool: Any, duration_s: float | None, output: Path | None) -> Any:
    """``saferoad edge`` on live sources until ``duration_s`` passed, Ctrl-C or SIGTERM; the
    drive is then finished (every event left final, the trip spooled). Returns the report."""
    stop = threading.Event()
    status_path = None if spool is None else status_path_for(Path(spool.path))
    clip_dir = None if spool is None else Path(spool.path).with_name(Path(spool.path).name + ".cutting")
    rec = build_live_recorder(cfg, sinks=[], spool=spool, status_path=status_path, clip_dir=clip_dir)
    rec.sinks = alert_sinks(cfg.edge, rec.meta.device_id)
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        report = rec.run(duration_s, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        rec.close()
        for s in rec.sinks:
            s.close()
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        write_events(output / "events.jsonl", report.events)
        summary = report.summary()
        summary["live"] = rec.last_status
        write_json_atomic(output / "edge.json", summary)
    return report
