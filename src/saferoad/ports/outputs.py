"""Analyze output port: the folder ``saferoad analyze`` writes (``adapters/outputs`` owns its
layout, its file mode and its format version; docs/recording-format.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
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
    written atomically, ``timeline.parquet``, ``lanes.parquet`` and, streamed,
    ``tracks.parquet`` (:meth:`open_tracks`). The folders are read back by
    :class:`OutputsReader`."""

    def staged(self, out_dir: Path) -> AbstractContextManager[Path]:
        """A fresh folder to write one run into, swapped in as ``out_dir`` when the block
        succeeds, removed when it raises."""
        ...

    def write_json(self, path: Path, data: Any) -> None: ...

    def write_events(self, path: Path, events: Sequence[Event]) -> None: ...

    def events_file(self, path: Path) -> EventSink:
        """A sink that writes the events it receives to ``path`` (``events.jsonl``, in time
        order) when it is closed."""
        ...

    def write_timeline(self, path: Path, timeline: Mapping[str, NDArray[np.float64]]) -> None: ...

    def write_lanes(self, path: Path, rows: Mapping[str, Sequence[Any]]) -> None:
        """``lanes.parquet``: one row a video frame, ``rows`` a list per column of
        docs/recording-format.md (``None`` for a null); a missing or unknown column is a
        ``ValueError`` naming it."""
        ...

    def open_tracks(self, path: Path) -> TracksSink:
        """``tracks.parquet`` written as a stream (``saferoad detect``, the road stage)."""
        ...


@runtime_checkable
class TracksSink(Protocol):
    """``tracks.parquet`` being written: one row group per :meth:`add`, the file in place,
    whole, once :meth:`close` returns (a temporary name until then)."""

    def add(self, rows: Mapping[str, Sequence[Any]]) -> None:
        """One row group: a list per column of docs/recording-format.md (``None`` for a
        null); a missing or unknown column is a ``ValueError`` naming it and the file."""
        ...

    def close(self) -> None:
        """Finish the file and put it in place; a second call does nothing."""
        ...


@runtime_checkable
class OutputsReader(Protocol):
    """Reads analyze output folders, the one reader of them (``saferoad ingest``, the
    evaluation's scoring of its cached results, ``score-events``): which folders are runs
    never swapped in, a run's ``run.json`` (its format version checked), its events, its JSON
    and JSON-lines files and its Parquet tables, with the file (and line or column) in every
    error."""

    def is_staging(self, path: Path) -> bool:
        """Whether ``path`` is (inside) a run folder that was never swapped in."""
        ...

    def finished_run(self, out_dir: Path) -> dict[str, Any]:
        """``run.json`` of a finished run after checking every file it lists is there (sizes
        not compared); a ``ValueError`` naming the file for an interrupted or foreign one."""
        ...

    def read_json(self, path: Path, *, error: Callable[[str], ValueError], missing: str) -> Any:
        """The JSON value in ``path``; ``error(message)`` naming the file (``missing``: what
        to say when it is not there) or the file and line."""
        ...

    def iter_jsonl(
        self, path: Path, *, error: Callable[[str], ValueError]
    ) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """``(line, "FILE:LINE", object)`` for each non-blank line; ``error(message)`` naming
        the file and line for one that is not a JSON object."""
        ...

    def read_events(self, path: Path) -> list[Event]:
        """An ``events.jsonl`` file's events; errors name the file and line."""
        ...

    def read_table(
        self, path: Path, columns: Sequence[str], *, error: Callable[[str], ValueError]
    ) -> dict[str, NDArray[Any]]:
        """A Parquet file's ``columns`` as NumPy arrays (numbers, or objects for text);
        ``error(message)`` naming the file for one unreadable, and the column for one missing."""
        ...

    def read_columns(
        self,
        path: Path,
        required: Sequence[str],
        optional: Sequence[str] = (),
        *,
        error: Callable[[str], ValueError],
    ) -> dict[str, NDArray[np.float64]]:
        """A Parquet file's numeric columns as float64 (null: NaN): every ``required`` one,
        the ``optional`` ones it has; ``error(message)`` naming the file for one missing or
        unreadable, and the file and column for a required column missing or one not numeric."""
        ...
