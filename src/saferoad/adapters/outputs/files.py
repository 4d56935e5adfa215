"""The analyze folder's files: JSON and ``events.jsonl`` written atomically with the outputs'
one file mode, ``timeline.parquet``, ``lanes.parquet``, the ``events.jsonl`` sink (:class:`EventsFile`),
``tracks.parquet``'s streaming writer (:class:`~saferoad.adapters.outputs.tracks.TracksFile`), and
:class:`OutputFiles`, the
:class:`~saferoad.ports.outputs.AnalysisOutputs` the composition root hands to ``analyze``."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from saferoad.adapters.arrow_columns import float_column
from saferoad.adapters.jsonl import iter_jsonl
from saferoad.adapters.outputs import FILE_MODE, run_folder
from saferoad.adapters.outputs.tracks import TracksFile
from saferoad.domain.types import Event


class OutputFiles:
    """Writes one run's output folder; ``run.json`` names ``saferoad_version``."""

    def __init__(self, saferoad_version: str) -> None:
        self.saferoad_version = saferoad_version

    def staged(self, out_dir: Path) -> AbstractContextManager[Path]:
        return run_folder(out_dir, saferoad_version=self.saferoad_version)

    def write_json(self, path: Path, data: Any) -> None:
        write_json_atomic(path, data)

    def write_events(self, path: Path, events: Sequence[Event]) -> None:
        write_events(path, events)

    def write_timeline(self, path: Path, timeline: Mapping[str, NDArray[np.float64]]) -> None:
        write_timeline(path, timeline)

    def write_lanes(self, path: Path, rows: Mapping[str, Sequence[Any]]) -> None:
        write_lanes(path, rows)

    def events_file(self, path: Path) -> EventsFile:
        return EventsFile(path)

    def open_tracks(self, path: Path) -> TracksFile:
        return TracksFile(path)


class EventsFile:
    """An :class:`~saferoad.ports.events.EventSink` that writes ``events.jsonl``: the events
    it received, in time order (start, then type; ties keep their order of arrival), written
    atomically when it is closed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        write_events(self.path, sorted(self.events, key=lambda e: (e.start_s, e.type.value)))


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and rename, so a reader never sees half a file."""
    _write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def event_line(event: Event) -> str:
    """One line of ``events.jsonl`` (newline included): the one serialisation every JSON-lines
    writer of events uses (``write_events``, the ``jsonl`` sink of ``adapters/sinks``)."""
    return json.dumps(event.to_dict(), ensure_ascii=False) + "\n"


def write_events(path: Path, events: Sequence[Event]) -> None:
    _write_atomic(path, "".join(event_line(e) for e in events))


def read_events(path: Path) -> list[Event]:
    """Read an ``events.jsonl`` file; errors name the file and line."""
    events = []
    for _, where, obj in iter_jsonl(path):
        try:
            events.append(Event.from_dict(obj))
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{where}: not a valid event: {err}") from None
    return events


def write_timeline(path: Path, timeline: Mapping[str, NDArray[np.float64]]) -> None:
    """``timeline.parquet``: one float64 column per series, NaN as null."""
    table = pa.Table.from_arrays(
        [float_column(v) for v in timeline.values()], names=list(timeline)
    )
    pq.write_table(table, str(path), use_dictionary=False)  # floats: dictionaries only cost time


LANES_SCHEMA = pa.schema([
    ("frame", pa.int64()),
    ("t_s", pa.float64()),
    ("left_y_m", pa.float64()),
    ("right_y_m", pa.float64()),
    ("left_confidence", pa.float64()),
    ("right_confidence", pa.float64()),
    ("offset_m", pa.float64()),
    ("width_m", pa.float64()),
    ("confidence", pa.float64()),
])
"""``lanes.parquet``'s columns (docs/recording-format.md)."""


def write_lanes(path: Path, rows: Mapping[str, Sequence[Any]]) -> None:
    """``lanes.parquet`` from a list per column of :data:`LANES_SCHEMA` (``None``: null)."""
    if set(rows) != set(LANES_SCHEMA.names):
        missing = [n for n in LANES_SCHEMA.names if n not in rows]
        unknown = sorted(set(rows) - set(LANES_SCHEMA.names))
        raise ValueError(f"{path}: lanes columns missing {missing}, unknown {unknown}")
    pq.write_table(pa.table({n: list(rows[n]) for n in LANES_SCHEMA.names}, schema=LANES_SCHEMA), path)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, FILE_MODE)  # mkstemp makes 0600; outputs have one mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
