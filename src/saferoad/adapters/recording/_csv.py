"""Fast numeric CSV reading in bounded memory, with errors that name the file, line and field.

The file is read in chunks of about ``CHUNK_BYTES`` cut at line ends; each chunk is parsed by
:func:`pyarrow.csv.read_csv` (multi-threaded C++, an hour of 200 Hz IMU in well under a second)
and its float64 columns are copied into arrays allocated once for the whole file (one row per
line end, counted first). Peak memory is the returned arrays plus one chunk and its parse, not a
multiple of the file (issue 14, defect 7; ``benchmarks/bench_read_csv.py``). When a chunk fails
to parse, or a value is missing or not finite, a slow pass over that chunk's lines finds the
first offending line and field so the message can name them.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from saferoad.adapters.input_warnings import warn
from saferoad.domain.types import FloatArray

MAX_FILE_BYTES: ContextVar[int] = ContextVar("max_file_bytes", default=1024 << 20)
"""The largest input file a reader opens (``input.max_file_mb``; see :func:`file_size_limit`)."""


@contextmanager
def file_size_limit(max_bytes: int) -> Iterator[None]:
    """Readers called inside refuse files over ``max_bytes`` before reading them."""
    token = MAX_FILE_BYTES.set(max_bytes)
    try:
        yield
    finally:
        MAX_FILE_BYTES.reset(token)


def check_size(path: Path) -> None:
    """Refuse a file over the limit (``input.max_file_mb``) before reading a byte of it."""
    size, limit = path.stat().st_size, MAX_FILE_BYTES.get()
    if size > limit:
        raise ValueError(
            f"{path}: {size / 2**20:.1f} MiB, over the {limit / 2**20:.0f} MiB limit for one input "
            "file (input.max_file_mb): refused before reading"
        )


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    check_size(path)
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file (expected a header line and data rows)")


def locate_bad_value(
    path: Path,
    columns: Sequence[str],
    optional: Sequence[str],
    header: list[str],
    *,
    start: int | None = None,
    first_line: int = 2,
    end: int | None = None,
) -> str:
    """Find the first line whose value in ``columns`` does not parse as a finite number.

    Searches the lines from byte ``start`` (which begins line ``first_line``; by default the
    line after the header) up to byte ``end`` (the end of the file by default)."""
    idx = {name: header.index(name) for name in columns if name in header}
    with path.open("rb") as fh:
        if start is None:
            fh.readline(MAX_HEADER_BYTES)
        else:
            fh.seek(start)
        lineno = first_line - 1
        while (end is None or fh.tell() < end) and (raw_line := fh.readline(MAX_LINE_BYTES + 1)):
            lineno += 1
            if len(raw_line) > MAX_LINE_BYTES:
                return f"{path}:{lineno}: line longer than {MAX_LINE_BYTES} bytes (binary data in a CSV file?)"
            try:
                text = raw_line.decode("utf-8")
            except UnicodeDecodeError:
                return f"{path}:{lineno}: not UTF-8 text (binary data in a CSV file?)"
            try:
                row = next(csv.reader([text]), [])
            except csv.Error as err:
                return f"{path}:{lineno}: not CSV: {err}"
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                return f"{path}:{lineno}: expected {len(header)} fields, found {len(row)}"
            for name, i in idx.items():
                raw = row[i].strip()
                if raw == "" and name in optional:
                    continue
                try:
                    v = float(raw)
                except ValueError:
                    return f"{path}:{lineno}: field {name!r}: not a number: {raw!r}"
                if not math.isfinite(v) and name not in optional:
                    return f"{path}:{lineno}: field {name!r}: not a finite number: {raw!r}"
    return f"{path}: could not parse as CSV"


def _float_view(arr: pa.Array) -> FloatArray:
    """A float64 Arrow array without nulls as a NumPy view (Array.to_numpy imports pandas,
    seconds on a cold start)."""
    buf = arr.buffers()[1]
    return np.frombuffer(buf, dtype=np.float64, count=len(arr), offset=arr.offset * 8)


def read_header(path: Path) -> list[str]:
    _check_exists(path)
    with path.open("rb") as fh:
        line = fh.readline(MAX_HEADER_BYTES)
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}:1: not UTF-8 text (binary data in a CSV file?)") from None
    if len(line) >= MAX_HEADER_BYTES and not text.endswith("\n"):
        raise ValueError(f"{path}:1: header line longer than {MAX_HEADER_BYTES} bytes")
    first = next(csv.reader([text.lstrip("\ufeff")]), [])
    return [h.strip() for h in first]


MAX_HEADER_BYTES = 64 * 1024
MAX_LINE_BYTES = 64 * 1024
"""No sensor row is near this long; a longer line is binary data, not read into memory whole."""


def _incomplete_tail(path: Path, header: list[str], required: Sequence[str]) -> int | None:
    """The byte offset where an incomplete last line starts, or None.

    A last line without a line end is a file cut short when it does not hold a whole row (too
    few fields, or a required field that is not a number); one that does is kept (some writers
    leave out the final newline)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - MAX_LINE_BYTES))
        tail = fh.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return None
    nl = tail.rfind(b"\n")
    if nl < 0:
        return None  # one line only: the header (read_header reports what is wrong)
    last = tail[nl + 1 :]
    try:
        row = next(csv.reader([last.decode("utf-8")]), [])
    except (UnicodeDecodeError, csv.Error):
        return size - len(last)
    if len(row) != len(header):
        return size - len(last)
    for name in required:
        try:
            if not math.isfinite(float(row[header.index(name)])):
                return size - len(last)
        except ValueError:
            return size - len(last)
    return None


CHUNK_BYTES = 4 << 20
"""Bytes parsed at a time: large enough that pyarrow's threads and per-call overhead do not
matter, small enough that a chunk and its parse are a few tens of MiB."""


def _data_span(path: Path, header: list[str], required: Sequence[str]) -> tuple[int, int]:
    """Byte offsets where the data rows start (after the header line) and end (before an
    incomplete last line, which is dropped with a warning; see :func:`_incomplete_tail`)."""
    with path.open("rb") as fh:
        start = len(fh.readline(MAX_HEADER_BYTES))
    end = path.stat().st_size
    cut_at = _incomplete_tail(path, header, required)
    if cut_at is not None:
        warn(
            f"{path}: the last line is incomplete (no line end, fields missing or cut: the file was "
            "cut short, e.g. by a power cut): dropped"
        )
        end = cut_at
    return start, end


def _count_line_ends(path: Path, start: int, end: int, chunk_bytes: int) -> int:
    n = 0
    with path.open("rb") as fh:
        fh.seek(start)
        pos = start
        while pos < end:
            buf = fh.read(min(chunk_bytes, end - pos))
            if not buf:
                break
            n += buf.count(b"\n")
            pos += len(buf)
    return n


def _chunks(path: Path, start: int, end: int, chunk_bytes: int) -> Iterator[tuple[int, int, bytes]]:
    """``(offset, line number, bytes)`` of consecutive pieces of ``[start, end)``, each ending
    at a line end (the last may end at ``end``) and about ``chunk_bytes`` long (longer when one
    line is; a line over ``MAX_LINE_BYTES`` is an error naming it, not read whole)."""
    lineno = 2
    size = chunk_bytes
    with path.open("rb") as fh:
        while start < end:
            fh.seek(start)
            buf = fh.read(min(size, end - start))
            if not buf:
                return
            if start + len(buf) < end:
                cut = buf.rfind(b"\n")
                if cut < 0:
                    if len(buf) > MAX_LINE_BYTES:
                        raise ValueError(
                            f"{path}:{lineno}: line longer than {MAX_LINE_BYTES} bytes (binary data in a CSV file?)"
                        )
                    size = 2 * size  # one line longer than a chunk: read it whole
                    continue
                buf = buf[: cut + 1]
            yield start, lineno, buf
            lineno += buf.count(b"\n")
            start += len(buf)
            size = chunk_bytes


def _column_values(table: pa.Table, name: str) -> FloatArray:
    """A parsed float64 column as one NumPy array, nulls as NaN (per Arrow chunk:
    ChunkedArray.to_numpy would import pandas, seconds on a cold start)."""
    col = table.column(name)
    parts = [_float_view(pc.fill_null(ch, np.nan) if ch.null_count else ch) for ch in col.chunks]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.empty(0)


def _bad_chunk(
    path: Path,
    columns: Sequence[str],
    optional: Sequence[str],
    header: list[str],
    span: tuple[int, int, int],
    *,
    field: str | None = None,
    row: int = 0,
) -> ValueError:
    """The error for a chunk (``span``: byte offset, first line number, length) that did not
    parse, or whose ``field`` is not finite on data row ``row`` (0-based): the first bad line
    and field within the chunk, found by a slow pass over its lines."""
    offset, lineno, length = span
    msg = locate_bad_value(path, columns, optional, header, start=offset, first_line=lineno, end=offset + length)
    if msg.endswith("could not parse as CSV"):
        msg = (
            f"{path}: data row {row + 1}: field {field!r}: missing or not a finite number"
            if field
            else f"{path}:{lineno}: could not parse as CSV (in the {length} bytes from this line)"
        )
    return ValueError(msg)


def read_numeric_groups(
    path: Path,
    groups: Sequence[Sequence[str]],
    optional: Sequence[str] = (),
    *,
    chunk_bytes: int = CHUNK_BYTES,
) -> list[FloatArray | None]:
    """Read a CSV file with a header line into one C-ordered ``(rows, len(group))`` float64
    array per group of columns, in bounded memory (chunks of ``chunk_bytes``).

    Columns not in ``optional`` are required: present and finite on every row. A group with an
    optional column missing from the header is ``None``; an empty optional field is NaN.
    Raises ``ValueError`` naming file, line and field on the first bad value.
    """
    header = read_header(path)
    names = [c for g in groups for c in g]
    required = [c for c in names if c not in optional]
    missing = [c for c in required if c not in header]
    if missing:
        raise ValueError(
            f"{path}:1: missing column(s) {', '.join(missing)} (header is {','.join(header)})"
        )
    present = [all(c in header for c in g) for g in groups]
    wanted = list(dict.fromkeys(c for g, ok in zip(groups, present, strict=True) if ok for c in g))
    start, end = _data_span(path, header, required)
    capacity = _count_line_ends(path, start, end, chunk_bytes) + 1  # rows <= line ends (+ a last line)
    out = [np.empty((capacity, len(g))) if ok else None for g, ok in zip(groups, present, strict=True)]
    where = {c: (gi, j) for gi, g in enumerate(groups) if present[gi] for j, c in enumerate(g)}
    opts = (
        pacsv.ReadOptions(column_names=header),
        pacsv.ParseOptions(newlines_in_values=False),
        pacsv.ConvertOptions(
            column_types={c: pa.float64() for c in wanted},
            include_columns=wanted,
            strings_can_be_null=True,
        ),
    )
    n = 0
    for offset, lineno, piece in _chunks(path, start, end, chunk_bytes):
        span = (offset, lineno, len(piece))
        try:
            table = pacsv.read_csv(
                pa.BufferReader(piece), read_options=opts[0], parse_options=opts[1], convert_options=opts[2]
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise _bad_chunk(path, wanted, optional, header, span) from None
        m = table.num_rows
        if n + m > capacity:  # rows ended by a lone CR (pyarrow's line end too), not counted above
            capacity = max(2 * capacity, n + m)
            out = [None if a is None else np.resize(a, (capacity, a.shape[1])) for a in out]
        for c in wanted:
            values = _column_values(table, c)
            if c in required and not np.isfinite(values).all():
                row = n + int(np.flatnonzero(~np.isfinite(values))[0])
                raise _bad_chunk(path, wanted, optional, header, span, field=c, row=row)
            gi, j = where[c]
            arr = out[gi]
            assert arr is not None
            arr[n : n + m, j] = values
        n += m
        del table
    if n == 0:
        raise ValueError(f"{path}: no data rows after the header")
    return [None if a is None else a[:n] for a in out]


def read_numeric_csv(
    path: Path, required: Sequence[str], optional: Sequence[str] = (), *, chunk_bytes: int = CHUNK_BYTES
) -> dict[str, FloatArray]:
    """Read the named float columns of a CSV file with a header line (see
    :func:`read_numeric_groups`; each column a contiguous array).

    ``required`` columns must be present and finite on every row; ``optional`` columns may
    be missing from the header (then absent from the result) or empty on a row (NaN).
    Raises ``ValueError`` naming file, line and field on the first bad value.
    """
    names = [*required, *[c for c in optional if c not in required]]
    arrays = read_numeric_groups(path, [[c] for c in names], optional, chunk_bytes=chunk_bytes)
    return {c: a[:, 0] for c, a in zip(names, arrays, strict=True) if a is not None}
