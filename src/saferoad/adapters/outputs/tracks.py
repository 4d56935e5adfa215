"""``tracks.parquet``, the one writer of it: :data:`TRACKS_SCHEMA` and :class:`TracksFile`,
the :class:`~saferoad.ports.outputs.TracksSink` that ``AnalysisOutputs.open_tracks`` opens.

The table is written as a stream, one row group per :meth:`TracksFile.add` (the application's
``TracksWriter`` hands over its rows every ``flush_rows`` rows), into a temporary file beside
the final one (``.tracks.parquet.HOST-PID.XXXX.tmp``: this machine, this process);
:meth:`TracksFile.close` finishes it and renames it over ``tracks.parquet`` in one step, with
the outputs' one file mode, as the other outputs are written: a reader sees the previous file
or the whole new one, never a table without its footer. A run that stops on an error (or on
SIGTERM/SIGINT, which ``saferoad detect`` turns into one) still closes the sink, so every
frame processed before the error is in the file. A process killed outright (SIGKILL, a power
cut) leaves its temporary: the next :class:`TracksFile` for the same file removes it, with a
warning naming it (:func:`remove_stale_temporaries`)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from saferoad.adapters.outputs import FILE_MODE, HOST, abandoned
from saferoad.observability import get_logger

TRACKS_SCHEMA = pa.schema(
    [
        ("frame", pa.int64()),
        ("t_s", pa.float64()),
        ("track_id", pa.int64()),
        ("cls", pa.string()),
        ("score", pa.float64()),
        ("x1", pa.float64()),
        ("y1", pa.float64()),
        ("x2", pa.float64()),
        ("y2", pa.float64()),
        ("distance_m", pa.float64()),
        ("is_lead", pa.bool_()),
        ("label", pa.string()),
        ("lateral_m", pa.float64()),
        ("range_rate_mps", pa.float64()),
        ("ttc_s", pa.float64()),
        ("lamp", pa.string()),
        ("distance_sigma_m", pa.float64()),
    ]
)
"""``tracks.parquet``: the columns of docs/recording-format.md, then extras (nullable)."""


TMP_SUFFIX = ".tmp"


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}."


def stale_temporaries(path: Path) -> list[Path]:
    """The temporaries of ``path`` (``.NAME.HOST-PID.XXXX.tmp``) whose writer is gone: this
    machine's whose process no longer runs; another machine's (a shared file system), or one
    named without its process (``.NAME.XXXX.tmp``, saferoad before 2026-12), untouched for
    :data:`~saferoad.adapters.outputs.ABANDONED_AFTER_S`. A live run's is never one."""
    path = Path(path)
    prefix = _tmp_prefix(path)
    found: list[Path] = []
    try:
        entries = list(path.parent.iterdir())
    except OSError:  # no folder yet: nothing left in it
        return found
    for p in entries:
        name = p.name
        if not (name.startswith(prefix) and name.endswith(TMP_SUFFIX)):
            continue
        owner = name[len(prefix) : -len(TMP_SUFFIX)].rpartition(".")[0]  # "" in the old names
        host, _, pid_text = owner.partition("-")
        if abandoned(p, host, int(pid_text) if pid_text.isdigit() else None):
            found.append(p)
    return sorted(found)


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete :func:`stale_temporaries` of ``path`` and log a warning naming each one
    (``stale_temporaries_removed``); the paths removed."""
    removed = []
    for p in stale_temporaries(path):
        try:
            p.unlink()
        except FileNotFoundError:
            continue  # another run swept it first
        removed.append(p)
    if removed:
        get_logger("outputs").warning(
            "stale_temporaries_removed",
            files=[str(p) for p in removed],
            reason=f"left beside {path} by runs that were killed before they finished",
        )
    return removed


class TracksFile:
    """Streams row groups into ``path`` (through a temporary name, renamed over ``path`` at
    :meth:`close`); first removes the temporaries of killed runs beside it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.removed_stale = remove_stale_temporaries(self.path)
        fd, tmp = tempfile.mkstemp(
            prefix=f"{_tmp_prefix(self.path)}{HOST}-{os.getpid()}.", suffix=TMP_SUFFIX, dir=self.path.parent
        )
        os.close(fd)
        self._tmp = Path(tmp)
        try:
            self._writer = pq.ParquetWriter(tmp, TRACKS_SCHEMA)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        self._closed = False

    def add(self, rows: Mapping[str, Sequence[Any]]) -> None:
        """One row group: a list per column of :data:`TRACKS_SCHEMA` (``None``: null); a
        missing or unknown column, or columns of different lengths, is a ``ValueError``
        naming the file."""
        if self._closed:
            raise ValueError(f"{self.path}: tracks file already closed")
        if set(rows) != set(TRACKS_SCHEMA.names):
            missing = [n for n in TRACKS_SCHEMA.names if n not in rows]
            unknown = sorted(set(rows) - set(TRACKS_SCHEMA.names))
            raise ValueError(f"{self.path}: tracks columns missing {missing}, unknown {unknown}")
        lengths = {n: len(rows[n]) for n in TRACKS_SCHEMA.names}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"{self.path}: tracks columns of different lengths {lengths}")
        table = pa.Table.from_arrays(
            [arrow_column(rows[f.name], f.type) for f in TRACKS_SCHEMA], schema=TRACKS_SCHEMA
        )
        self._writer.write_table(table)

    def close(self) -> None:
        """Finish the file and rename it over ``path`` (once; later calls do nothing)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._writer.close()
            os.chmod(self._tmp, FILE_MODE)  # mkstemp makes 0600; outputs have one mode
            os.replace(self._tmp, self.path)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise


_NUMPY_TYPES: dict[pa.DataType, type[np.generic]] = {pa.int64(): np.int64, pa.float64(): np.float64}


def arrow_column(values: Sequence[Any], typ: pa.DataType) -> pa.Array:
    """``pa.array(values, type=typ)`` (``None`` is null) for the writer's column types
    (int64, float64, bool, string), built from its buffers. ``pa.array`` and ``pa.table``
    import pandas the first time they run (to check for pandas objects): 0.17 s of CPU and
    39 MB of memory that ``saferoad detect`` never otherwise needs (measured:
    docs/perception.md, "Whole saferoad detect"). Same arrays (tests/perception:
    test_tracks_writer)."""
    n = len(values)
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=n)
    nulls = n - int(np.count_nonzero(valid))
    mask = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    if typ == pa.string():
        data = [v.encode() for v in values if v is not None]
        lengths = np.zeros(n, dtype=np.int64)
        lengths[valid] = [len(b) for b in data]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if offsets[-1] > np.iinfo(np.int32).max:
            raise ValueError(f"tracks column of {offsets[-1]} bytes: over the 2 GiB of an Arrow string column")
        buffers = [mask, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(data))]
    elif typ == pa.bool_():
        bits = np.fromiter((bool(v) if v is not None else False for v in values), dtype=bool, count=n)
        buffers = [mask, pa.py_buffer(np.packbits(bits, bitorder="little"))]
    elif typ in _NUMPY_TYPES:
        arr = np.array([v if v is not None else 0 for v in values], dtype=_NUMPY_TYPES[typ])
        buffers = [mask, pa.py_buffer(arr)]
    else:
        raise TypeError(f"arrow_column: no buffers for {typ}")
    return pa.Array.from_buffers(typ, n, buffers, null_count=nulls)
