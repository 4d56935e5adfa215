"""``saferoad demo``: simulate a short drive with video, analyse it end to end, compare the
events with the simulator's ground truth. Needs nothing but the package (no ../shared)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from saferoad.adapters.recording import open_recording
from saferoad.application.analyze import AnalysisResult, analyze_recording
from saferoad.application.simulate import simulate
from saferoad.config import SaferoadConfig
from saferoad.domain.matching import MatchResult, match_events
from saferoad.domain.types import EventLabel
from saferoad.observability import span
from saferoad.ports.detector import Detector

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


def _replay_detector(recording_detections: Path | None) -> Detector | None:
    """The replay detector on the simulator's exact boxes (``detections.json``)."""
    if recording_detections is None:
        return None
    from saferoad.adapters.replay.detector import ReplayDetector

    return ReplayDetector(recording_detections)


def run_demo(
    out_dir: Path,
    *,
    seed: int = 0,
    video: bool = True,
    config: SaferoadConfig | None = None,
    assignments: tuple[str, ...] = (),
) -> DemoResult:
    """Simulate the demo drive under ``out_dir/recording``, analyse it into
    ``out_dir/analysis`` (events.jsonl, summary.json ...), and score the events against the
    ground truth."""
    cfg = config or SaferoadConfig()
    rec_dir = out_dir / "recording"
    ana_dir = out_dir / "analysis"
    with span("demo", out=str(out_dir)):
        sim = simulate(DEMO_SCENARIO, rec_dir, assignments=assignments, seed=seed, video=video, config=cfg)
        recording = open_recording(rec_dir)
        detector = _replay_detector(recording.detections)
        analysis = analyze_recording(recording, cfg, ana_dir, detector=detector)
        labels = sim.written.labels
        match = match_events(analysis.events, labels, tolerance_s=MATCH_TOLERANCE_S)
    return DemoResult(rec_dir, ana_dir, analysis, labels, match)
