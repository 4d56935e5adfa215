"""``score-events``: detected events against ground-truth labels (precision, recall, F1)."""

from __future__ import annotations

from pathlib import Path

from saferoad.domain.matching import DEFAULT_TOLERANCE_S, MatchResult, match_events
from saferoad.domain.types import Event
from saferoad.ports.outputs import OutputsReader
from saferoad.ports.recordings import LabelsReader


def read_predictions(path: Path, reader: OutputsReader) -> list[Event]:
    """``events.jsonl``, or an ``analyze`` output folder holding one."""
    if path.is_dir():
        path = path / "events.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found (expected events.jsonl or an analyze OUT folder)")
    return reader.read_events(path)


def score_events(
    pred: Path,
    labels: Path,
    *,
    reader: OutputsReader,
    read_labels: LabelsReader,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    min_overlap_s: float = 0.0,
    types: list[str] | None = None,
) -> MatchResult:
    """Match ``pred`` (events.jsonl or analyze OUT, read by ``reader``) to ``labels``
    (groundTruth.csv, labels.jsonl or a recording folder, read by ``read_labels``)."""
    return match_events(
        read_predictions(pred, reader),
        read_labels(labels),
        tolerance_s=tolerance_s,
        min_overlap_s=min_overlap_s,
        types=types,
    )
