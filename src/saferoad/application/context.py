"""What the stages of one ``analyze`` run share, and the ports they are handed.

:class:`AnalysisPorts` holds every outside collaborator the stages use (output files, video,
detectors, lane detector, clips, speed limits), each typed by its port in ``saferoad.ports``;
``saferoad.entrypoints.wiring`` builds it from the adapters (cosmicpython's bootstrap), so
the application never imports an adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from saferoad.config import SaferoadConfig
from saferoad.domain.frame_geometry import HorizonEstimator
from saferoad.domain.recording import Recording
from saferoad.domain.types import Event, SpeedSeries
from saferoad.ports.cabin import CabinPorts
from saferoad.ports.clips import ClipCutter
from saferoad.ports.detector import Detector, DetectorFactory
from saferoad.ports.edge import SpeedLimitsLoader
from saferoad.ports.events import EventSink
from saferoad.ports.frames import VideoChecker
from saferoad.ports.lanes import LaneDetectorFactory
from saferoad.ports.outputs import AnalysisOutputs, OutputsReader
from saferoad.ports.perception import DetectionFramesOpener, FramesOpener
from saferoad.ports.recordings import BoxesReader, LabelsReader, RecordingOpener


@dataclass(frozen=True)
class AnalysisPorts:
    """The adapters one analysis uses, as ports (built by ``entrypoints/wiring.py``)."""

    outputs: AnalysisOutputs
    """Writes the output folder: staged swap, JSON, events.jsonl, timeline.parquet, lanes.parquet."""
    read_outputs: OutputsReader
    """Reads output folders back: events, JSON, Parquet tables (the evaluation's scoring)."""
    open_recording: RecordingOpener
    read_labels: LabelsReader
    """Ground-truth labels (the evaluation's scoring)."""
    read_boxes: BoxesReader
    """Ground-truth boxes by frame (the evaluation's box metrics)."""
    detectors: DetectorFactory
    """The detector the config names (the road stage's), a replay of a labels file."""
    check_video: VideoChecker
    """Checks a road video first and recovers what a cut-short file holds."""
    cut_clips: ClipCutter
    """An annotated clip and a snapshot around each event."""
    cabin: CabinPorts
    """Face pipeline, phone detector, cabin video and track files (driver monitoring)."""
    open_frames: FramesOpener
    """The road video's frames (the road camera)."""
    detection_frames: DetectionFramesOpener
    """The frames a ``detections.json`` lists, for a recording without video."""
    lane_detector: LaneDetectorFactory
    """The lane-marking detector the road camera runs on every decoded frame."""
    horizon: HorizonEstimator | None
    """The horizon from the lane markings, where the camera's pitch is not known."""
    speed_limits: SpeedLimitsLoader
    """The speed limits of the config's (or the recording's own) zones, or one limit."""


@dataclass
class AnalysisContext:
    recording: Recording
    config: SaferoadConfig
    out_dir: Path | None = None
    ports: AnalysisPorts | None = None
    """The adapters, as ports; every analysis has them (``analyze_recording`` requires them),
    a context built only to reuse a stage's helpers (the edge recorder) may not."""
    detector: Detector | None = None
    """Overrides the detector the config would build (tests, services)."""
    sink: EventSink | None = None
    """Receives each event once it is final (:meth:`publish`): the output folder's
    ``events.jsonl``, the gRPC stream ... (``application/sinks.FanOut``)."""
    events: list[Event] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    speed: SpeedSeries | None = None
    """Ego speed, set by the motion stage for the stages after it."""
    artefacts: dict[str, Any] = field(default_factory=dict)
    """Stage outputs other stages may use (tracks, timeline ...), keyed by name."""

    @property
    def adapters(self) -> AnalysisPorts:
        """:attr:`ports`, which a stage needs (a clear error when a caller left them out)."""
        if self.ports is None:
            raise RuntimeError(
                "this AnalysisContext has no ports: build them with saferoad.entrypoints.wiring"
            )
        return self.ports

    published: int = field(default=0, init=False)
    """How many of :attr:`events` the sink has received."""

    def add_events(self, events: list[Event]) -> None:
        """Events a stage found; a later stage may still amend them until :meth:`publish`."""
        self.events.extend(events)

    def publish(self) -> None:
        """Hand the events added since the last call to the sink, in time order: ``analyze``
        calls it after a stage when no later stage may amend them (they are final)."""
        new = sorted(self.events[self.published:], key=lambda e: (e.start_s, e.type.value))
        self.published = len(self.events)
        if self.sink is not None:
            for ev in new:
                self.sink.emit(ev)
