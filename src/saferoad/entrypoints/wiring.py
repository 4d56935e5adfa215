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

import contextlib
import tempfile
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from saferoad._version import __version__
from saferoad.adapters.alerts.udp import UdpAlertSink
from saferoad.adapters.cabin.analyzer import FaceAnalyzer
from saferoad.adapters.cabin.track import read_cabin_csv, write_cabin_parquet
from saferoad.adapters.detectors import build_detector, replay_detector
from saferoad.adapters.ingest_http.client import HttpIngestClient
from saferoad.adapters.onnx.phone import YoloxPhoneDetector
from saferoad.adapters.outputs.files import OutputFiles
from saferoad.adapters.outputs.reader import OutputsFolderReader
from saferoad.adapters.ray.executor import RayExecutor
from saferoad.adapters.recording import detect_format, open_recording, read_labels
from saferoad.adapters.recording.saferoad_format import read_meta
from saferoad.adapters.replay.detector import ReplayDetector, load_labels
from saferoad.adapters.replay.frames import DetectionFrames
from saferoad.adapters.simulation.writer import write_simulation
from saferoad.adapters.sinks import build_sink
from saferoad.adapters.spool import SqliteSpool
from saferoad.adapters.video import open_frames
from saferoad.adapters.video.check import check_video
from saferoad.adapters.video.clips import cut_clips
from saferoad.adapters.video.lane_markings import ClassicalLaneDetector
from saferoad.adapters.video.lanes import lane_horizon
from saferoad.application import analyze as _analyze
from saferoad.application import cabin as _cabin
from saferoad.application import ingest as _ingest
from saferoad.application import simulate as _simulate
from saferoad.application.analyze import AnalysisResult
from saferoad.application.cabin import CabinResult, CabinSource
from saferoad.application.context import AnalysisPorts
from saferoad.application.evaluation.executors import LocalExecutor
from saferoad.application.ingest import IngestResult
from saferoad.application.perception import TracksWriter
from saferoad.application.simulate import SimulationResult
from saferoad.application.sinks import FanOut
from saferoad.application.uploader import ingest_target
from saferoad.config import SaferoadConfig
from saferoad.config.cabin import CabinConfig
from saferoad.config.edge import EdgeConfig
from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.recording import Recording
from saferoad.domain.types import CameraIntrinsics, Detections, SpeedSeries
from saferoad.entrypoints.detect_wiring import detect_ports as detect_ports  # re-exported
from saferoad.entrypoints.detect_wiring import detect_sources as detect_sources  # re-exported
from saferoad.observability import TraceRecorder
from saferoad.ports.cabin import CabinPorts
from saferoad.ports.cabin import FaceAnalyzer as FaceAnalyzerPort
from saferoad.ports.charts import ReportPorts
from saferoad.ports.detector import Detector
from saferoad.ports.edge import AlertSink, IngestApi, SpeedLimits
from saferoad.ports.events import EventSink
from saferoad.ports.executor import TaskExecutor
from saferoad.ports.frames import FrameSource
from saferoad.ports.outputs import OutputsReader
from saferoad.ports.phone import PhoneDetector
from saferoad.ports.simulation import RecordingWriter
from saferoad.ports.store import TripRecord

__all__ = [
    "Detectors", "alert_sinks", "analysis_ports", "analyze_into", "analyze_recording", "cabin_ports", "detect_format",
    "detect_ports", "detect_sources", "event_sinks", "find_outputs", "ingest_client", "ingest_outputs", "load_output",
    "load_speed_limits", "make_executor", "open_recording", "open_spool", "outputs", "outputs_reader", "read_boxes",
    "recording_writer", "report_ports", "resolve_cabin_source", "run_cabin_track", "run_cabin_video", "simulate",
    "simulate_fleet", "simulate_fleet_week", "tracks_writer", "trip_report_from_output",
]


@cache
def outputs() -> OutputFiles:
    """The analyze output folder's writer (``adapters/outputs``)."""
    return OutputFiles(__version__)


def tracks_writer(path: Path, flush_rows: int = 4096) -> TracksWriter:
    """A :class:`~saferoad.application.perception.TracksWriter` onto ``tracks.parquet`` at
    ``path`` through this process's outputs adapter (notebooks, docs/perception.md)."""
    return TracksWriter(outputs().open_tracks(path), flush_rows)


@cache
def outputs_reader() -> OutputsReader:
    """The analyze output folders' one reader: ingest, the evaluation's scoring,
    score-events (``adapters/outputs/reader.py``)."""
    return OutputsFolderReader()


def find_outputs(path: Path) -> list[Path]:
    """:func:`saferoad.application.ingest.find_outputs` with this process's reader."""
    return _ingest.find_outputs(path, reader=outputs_reader())


def load_output(
    out_dir: Path, config: SaferoadConfig, *, driver: str | None = None, vehicle: str | None = None
) -> TripRecord:
    """:func:`saferoad.application.ingest.load_output` with this process's reader."""
    return _ingest.load_output(out_dir, config, reader=outputs_reader(), driver=driver, vehicle=vehicle)


def ingest_outputs(
    uow_factory: Any,
    outputs: Sequence[Path],
    config: SaferoadConfig,
    *,
    driver: str | None = None,
    vehicle: str | None = None,
) -> IngestResult:
    """:func:`saferoad.application.ingest.ingest_outputs` with this process's reader."""
    return _ingest.ingest_outputs(
        uow_factory, outputs, config, reader=outputs_reader(), driver=driver, vehicle=vehicle
    )


def report_ports() -> ReportPorts:
    """The report use case's figures (``adapters/reports/plots``) and writer
    (``adapters/reports/render``)."""
    # deferred on purpose: the plots import Matplotlib, the writer Jinja2; every analyze loads
    # this module and draws no report
    from saferoad.adapters.reports import plots
    from saferoad.adapters.reports.render import write_report

    return ReportPorts(figures=plots, write=write_report)


def trip_report_from_output(
    out_dir: Path, html_path: Path, pdf: bool = False, config: SaferoadConfig | None = None
) -> Path:
    """A trip report straight from one ``saferoad analyze`` output (what ``saferoad demo`` ends
    with): the output is ingested into a throw-away SQLite store and reported from there, so
    the report is the same one ``saferoad report --trip`` gives. With ``pdf`` a PDF is written
    beside the HTML (same name, ``.pdf``). Returns the HTML path."""
    # deferred on purpose: SQLAlchemy and the report's plotting (Matplotlib) are heavy, and
    # every analyze loads this module
    from saferoad.adapters.sql import open_store
    from saferoad.application import report as _report
    from saferoad.config import load_config

    cfg = config or load_config()
    with tempfile.TemporaryDirectory(prefix="saferoad-report-db-") as d:
        store = open_store(f"sqlite:///{Path(d) / 'report.db'}")
        try:
            res = ingest_outputs(store.unit_of_work, [Path(out_dir)], cfg)
            trip_id = next(iter(res.trip_ids.values()))
            ctx = _report.trip_context(store, cfg, trip_id, ports=report_ports())
        finally:
            store.close()
    html = _report.write(ctx, Path(html_path), ports=report_ports())
    if pdf:
        _report.write(ctx, html.with_suffix(".pdf"), ports=report_ports())
    return html


def recording_writer() -> RecordingWriter:
    """Simulated scenarios written in saferoad's recording format (``adapters/simulation``)."""
    return write_simulation


def simulate(
    name: str,
    out: Path,
    *,
    assignments: Sequence[str] = (),
    seed: int = 0,
    video: bool = True,
    config: SaferoadConfig | None = None,
    detections: bool = True,
    sensor_profile: str = "dashcam",
) -> SimulationResult:
    """:func:`saferoad.application.simulate.simulate` writing saferoad's recording format
    (``adapters/simulation/writer.py``)."""
    return _simulate.simulate(
        name, out, writer=recording_writer(), assignments=assignments, seed=seed, video=video,
        config=config, detections=detections, sensor_profile=sensor_profile,
    )


def simulate_fleet(
    out: Path,
    trips: int,
    *,
    seed: int = 0,
    video: bool = False,
    config: SaferoadConfig | None = None,
    drivers: int = 3,
    vehicles: int = 3,
    weeks: int = 4,
    fleet_id: str = "sim-fleet",
    detections: bool = True,
    sensor_profile: str = "dashcam",
) -> Path:
    """:func:`saferoad.application.simulate.simulate_fleet` writing saferoad's recording format."""
    return _simulate.simulate_fleet(
        out, trips, writer=recording_writer(), seed=seed, video=video, config=config, drivers=drivers,
        vehicles=vehicles, weeks=weeks, fleet_id=fleet_id, detections=detections, sensor_profile=sensor_profile,
    )


def simulate_fleet_week(
    out: Path,
    *,
    week: str = "2026-W47",
    drivers: int = 3,
    trips_per_day: int = 4,
    days: int = 7,
    segments: int = 10,
    seed: int = 0,
    video: bool = False,
    config: SaferoadConfig | None = None,
    fleet_id: str = "sim-fleet",
    timezone: str = "Asia/Tokyo",
    detections: bool = True,
    sensor_profile: str = "dashcam",
) -> Path:
    """:func:`saferoad.application.simulate.simulate_fleet_week` writing saferoad's recording
    format."""
    return _simulate.simulate_fleet_week(
        out, writer=recording_writer(), week=week, drivers=drivers, trips_per_day=trips_per_day,
        days=days, segments=segments, seed=seed, video=video, config=config, fleet_id=fleet_id,
        timezone=timezone, detections=detections, sensor_profile=sensor_profile,
    )


class Detectors:
    """:class:`~saferoad.ports.detector.DetectorFactory` over ``adapters/detectors`` and
    ``adapters/replay``."""

    def replay(self, path: Path) -> Detector:
        return ReplayDetector(path)

    def for_recording(self, cfg: SaferoadConfig, recording: Recording) -> Detector:
        if recording.video is None:
            return replay_detector(cfg, recording)
        return build_detector(cfg, recording)

    def is_replay(self, detector: Detector) -> bool:
        return isinstance(detector, ReplayDetector)


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


def load_speed_limits(path: Path | None, limit_kmh: float | None) -> SpeedLimits:
    """:class:`~saferoad.ports.edge.SpeedLimitsLoader` over ``adapters/geo`` (Shapely)."""
    # deferred on purpose: Shapely is loaded only where a limit is configured
    from saferoad.adapters.geo import SpeedLimits as GeoSpeedLimits
    from saferoad.adapters.geo import load_speed_zones

    return GeoSpeedLimits(limit_kmh) if path is None else load_speed_zones(path, limit_kmh)


@cache
def analysis_ports() -> AnalysisPorts:
    """The adapters an analysis uses. Built once per process: each is stateless (a detector
    is built per recording by ``detectors``)."""
    return AnalysisPorts(
        outputs=outputs(),
        read_outputs=outputs_reader(),
        open_recording=open_recording,
        read_labels=read_labels,
        read_boxes=read_boxes,
        detectors=Detectors(),
        check_video=check_video,
        cut_clips=cut_clips,
        cabin=cabin_ports(),
        open_frames=open_frames,
        detection_frames=DetectionFrames,
        lane_detector=ClassicalLaneDetector,
        horizon=lane_horizon,
        speed_limits=load_speed_limits,
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


def event_sinks(specs: Sequence[str], option: str = "--sink") -> FanOut | None:
    """The sinks ``specs`` name (``NAME[:ARG]``, each built by its ``adapters/sinks`` plugin) as
    one :class:`FanOut` for ``analyze``'s ``sink=``, which the caller closes; ``None`` for no
    spec. A spec that cannot be built is a ``ValueError`` naming ``option`` and the registered
    sinks, raised after closing the sinks built before it."""
    built: list[EventSink] = []
    try:
        for spec in specs:
            built.append(build_sink(spec, option))
    except BaseException:
        with contextlib.suppress(Exception):  # the build error is the one to report
            FanOut(built).close()
        raise
    return FanOut(built) if built else None


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


def alert_sinks(cfg: EdgeConfig, device_id: str) -> list[AlertSink]:
    """The live recorder's in-cab alert sinks ``config.edge`` names: a loopback UDP socket
    (``edge.alert_udp``), an MQTT broker (``edge.mqtt_host``). The caller closes them; a sink
    that cannot be built closes those built before it, then its error is raised."""
    sinks: list[AlertSink] = []
    try:
        if cfg.alert_udp is not None:
            sinks.append(UdpAlertSink(cfg.alert_udp))
        if cfg.mqtt_host is not None:
            # deferred on purpose: paho-mqtt is loaded only where a broker is configured
            from saferoad.adapters.alerts.mqtt import MqttAlertSink

            sinks.append(MqttAlertSink(cfg.mqtt_host, cfg.mqtt_port, cfg.mqtt_topic, device_id))
    except BaseException:
        for sink in sinks:
            with contextlib.suppress(Exception):  # the build error is the one to report
                sink.close()
        raise
    return sinks


def open_spool(cfg: EdgeConfig, path: Path | None = None) -> SqliteSpool:
    """The on-device spool (SQLite, ``edge.spool`` unless ``path``) with the upload caps of
    ``edge.upload_caps``."""
    caps = {t: (c.per_hour, c.per_day) for t, c in cfg.upload_caps.items()}
    return SqliteSpool(path or Path(cfg.spool), caps)


def ingest_client(config: SaferoadConfig) -> IngestApi:
    """The fleet's ingest API over HTTP (``edge.ingest_url``, the device token from the
    environment variable ``edge.device_token_env``; a ValueError says which is missing)."""
    url, token = ingest_target(config)
    return HttpIngestClient(url, token, config.edge.request_timeout_s)
