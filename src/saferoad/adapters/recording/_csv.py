"""Fast numeric CSV reading with errors that name the file, line and field.

The fast path is :func:`pyarrow.csv.read_csv` (multi-threaded C++, an hour of 200 Hz IMU in
well under a second). When it fails, or a value is missing or not finite, a slow pass over
the text finds the first offending line and field so the message can name them.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from saferoad.domain.types import FloatArray


class RecordingWarning(UserWarning):
    """A documented repair of bad input (sorted timestamps, dropped duplicates, gaps)."""


def warn(message: str) -> None:
    from saferoad.observability import get_logger

    get_logger("recording").warning("input_repaired", message=message)
    warnings.warn(message, RecordingWarning, stacklevel=3)


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
    path: Path, columns: Sequence[str], optional: Sequence[str], header: list[str]
) -> str:
    """Find the first line whose value in ``columns`` does not parse as a finite number."""
    idx = {name: header.index(name) for name in columns if name in header}
    with path.open("rb") as fh:
        fh.readline(MAX_HEADER_BYTES)
        lineno = 1
        while raw_line := fh.readline(MAX_LINE_BYTES + 1):
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


def float_column(values: object, *, nan_as_null: bool = True) -> pa.Array:
    """A NumPy float array as an Arrow float64 array, NaN as null (pa.array would import
    pandas, seconds on a cold start)."""
    x = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    if not nan_as_null:
        return pa.Array.from_buffers(pa.float64(), x.size, [None, pa.py_buffer(x)])
    valid = ~np.isnan(x)
    n_null = int(x.size - np.count_nonzero(valid))
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if n_null else None
    return pa.Array.from_buffers(pa.float64(), x.size, [bitmap, pa.py_buffer(x)], null_count=n_null)


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


def read_numeric_csv(
    path: Path, required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, FloatArray]:
    """Read the named float columns of a CSV file with a header line.

    ``required`` columns must be present and finite on every row; ``optional`` columns may
    be missing from the header (then absent from the result) or empty on a row (NaN).
    Raises ``ValueError`` naming file, line and field on the first bad value.
    """
    header = read_header(path)
    missing = [c for c in required if c not in header]
    if missing:
        raise ValueError(
            f"{path}:1: missing column(s) {', '.join(missing)} (header is {','.join(header)})"
        )
    wanted = [c for c in (*required, *optional) if c in header]
    source: Path | pa.BufferReader = path
    cut_at = _incomplete_tail(path, header, required)
    if cut_at is not None:
        warn(
            f"{path}: the last line is incomplete (no line end, fields missing or cut: the file was "
            "cut short, e.g. by a power cut): dropped"
        )
        source = pa.BufferReader(pa.memory_map(str(path)).read_buffer(cut_at))
    try:
        table = pacsv.read_csv(
            source,
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.float64() for c in wanted},
                include_columns=wanted,
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise ValueError(locate_bad_value(path, wanted, optional, header)) from None
    if table.num_rows == 0:
        raise ValueError(f"{path}: no data rows after the header")
    out: dict[str, FloatArray] = {}
    for c in wanted:
        col = table.column(c)
        # Per chunk: ChunkedArray.to_numpy would import pandas (seconds on a cold start).
        chunks = [_float_view(pc.fill_null(ch, np.nan) if ch.null_count else ch) for ch in col.chunks]
        arr = (np.concatenate(chunks) if chunks else np.empty(0)).astype(np.float64, copy=False)
        if c in required and (col.null_count or not np.isfinite(arr).all()):
            msg = locate_bad_value(path, wanted, optional, header)
            if msg.endswith("could not parse as CSV"):
                bad = int(np.flatnonzero(~np.isfinite(arr))[0])
                msg = f"{path}: data row {bad + 1}: field {c!r}: missing or not a finite number"
            raise ValueError(msg)
        out[c] = arr
    return out
