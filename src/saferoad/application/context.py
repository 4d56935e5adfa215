"""What the stages of one ``analyze`` run share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from saferoad.config import SaferoadConfig
from saferoad.domain.recording import Recording
from saferoad.domain.types import Event, SpeedSeries
from saferoad.ports.detector import Detector
from saferoad.ports.events import EventSink


@dataclass
class AnalysisContext:
    recording: Recording
    config: SaferoadConfig
    out_dir: Path | None = None
    detector: Detector | None = None
    """Overrides the detector the config would build (tests, services)."""
    sink: EventSink | None = None
    """Receives each event as soon as a stage finds it (the gRPC service streams them)."""
    events: list[Event] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    speed: SpeedSeries | None = None
    """Ego speed, set by the motion stage for the stages after it."""
    artefacts: dict[str, Any] = field(default_factory=dict)
    """Stage outputs other stages may use (tracks, timeline ...), keyed by name."""

    def add_events(self, events: list[Event]) -> None:
        self.events.extend(events)
        if self.sink is not None:
            for ev in events:
                self.sink.emit(ev)
