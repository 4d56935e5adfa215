"""Analyze output port: the folder ``saferoad analyze`` writes (``adapters/outputs`` owns its
layout, its file mode and its format version; docs/recording-format.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from saferoad.domain.types import Event
from saferoad.ports.events import EventSink


@runtime_checkable
class AnalysisOutputs(Protocol):
    """Writes one run's files: a staged folder swapped in whole, JSON and ``events.jsonl``
    written atomically, ``timeline.parquet``."""

    def staged(self, out_dir: Path) -> AbstractContextManager[Path]:
        """A fresh folder to write one run into, swapped in as ``out_dir`` when the block
        succeeds, removed when it raises."""
        ...

    def write_json(self, path: Path, data: Any) -> None: ...

    def write_events(self, path: Path, events: Sequence[Event]) -> None: ...

    def read_events(self, path: Path) -> list[Event]:
        """An ``events.jsonl`` file's events; errors name the file and line."""
        ...

    def events_file(self, path: Path) -> EventSink:
        """A sink that writes the events it receives to ``path`` (``events.jsonl``, in time
        order) when it is closed."""
        ...

    def write_timeline(self, path: Path, timeline: Mapping[str, NDArray[np.float64]]) -> None: ...
