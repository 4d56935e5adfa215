"""``saferoad demo``: simulate a short drive with video, analyse it end to end, compare the
events with the simulator's ground truth. Needs nothing but the package (no ../shared)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from saferoad.application.analyze import AnalysisResult, analyze_recording
from saferoad.application.context import AnalysisPorts
from saferoad.application.simulate import simulate
from saferoad.config import SaferoadConfig
from saferoad.domain.matching import MatchResult, match_events
from saferoad.domain.types import EventLabel
from saferoad.observability import span
from saferoad.ports.simulation import RecordingWriter

DEMO_SCENARIO = "demo"
MATCH_TOLERANCE_S = 0.5
"""How far a detected event's interval may lie from its label's and still match (the
simulator's acceptance tolerance, docs/simulator.md)."""


@dataclass
class DemoResult:
    recording_dir: Path
    analysis_dir: Path
    analysis: AnalysisResult
    labels: list[EventLabel]
    match: MatchResult


def run_demo(
    out_dir: Path,
    *,
    seed: int = 0,
    video: bool = True,
    config: SaferoadConfig | None = None,
    assignments: tuple[str, ...] = (),
    ports: AnalysisPorts,
    writer: RecordingWriter,
) -> DemoResult:
    """Simulate the demo drive under ``out_dir/recording``, analyse it into
    ``out_dir/analysis`` (events.jsonl, summary.json ...) with ``ports``, and score the events
    against the ground truth; ``writer`` writes the simulated recording. The detector replays the simulator's exact boxes
    (``detections.json``)."""
    cfg = config or SaferoadConfig()
    rec_dir = out_dir / "recording"
    ana_dir = out_dir / "analysis"
    with span("demo", out=str(out_dir)):
        sim = simulate(DEMO_SCENARIO, rec_dir, writer=writer, assignments=assignments, seed=seed, video=video, config=cfg)
        recording = ports.open_recording(rec_dir)
        detector = None if recording.detections is None else ports.detectors.replay(recording.detections)
        analysis = analyze_recording(recording, cfg, ana_dir, ports=ports, detector=detector)
        labels = sim.written.labels
        match = match_events(analysis.events, labels, tolerance_s=MATCH_TOLERANCE_S)
    return DemoResult(rec_dir, ana_dir, analysis, labels, match)
