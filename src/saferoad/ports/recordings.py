"""Recording ports: a drive on disk, whatever its layout, read into a :class:`Recording`; its
ground-truth labels."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from saferoad.domain.recording import Recording
from saferoad.domain.types import Detections, EventLabel


class RecordingOpener(Protocol):
    """Reads the recording at ``path`` (``adapters/recording.open_recording``: auto-detects
    the layout); with ``max_file_mb`` (``input.max_file_mb``) a bigger input file is refused
    before it is read."""

    def __call__(self, path: Path, *, max_file_mb: int | None = None) -> Recording: ...


class LabelsReader(Protocol):
    """Ground-truth labels from a file (``groundTruth.csv``, ``labels.jsonl``) or a recording
    folder (``adapters/recording.read_labels``)."""

    def __call__(self, path: Path, /) -> list[EventLabel]: ...


class FormatDetector(Protocol):
    """The layout of the recording at ``path`` (``FORMAT_NAME`` of the reader that can read
    it), None when no reader can (``adapters/recording.detect_format``)."""

    def __call__(self, path: Path, /) -> str | None: ...


class BoxesReader(Protocol):
    """Labelled boxes by frame index from a ``detections.json`` or a MOT Challenge ``gt.txt``,
    parsed as the replay detector parses them (``adapters/replay.load_labels``); errors name
    the file and the frame or line."""

    def __call__(self, path: Path, /) -> Mapping[int, Detections]: ...
