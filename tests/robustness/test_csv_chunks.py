"""Issue 14, defect 7: CSV files are read in chunks cut at line ends (bounded memory). Whatever
the chunk size, the arrays are the ones a single read gives, and an error names the same line
and field."""

from __future__ import annotations

import re
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoad.adapters.recording._csv import CHUNK_BYTES, read_numeric_csv, read_numeric_groups
from saferoad.adapters.recording.saferoad_format import read_imu_csv

SETTINGS = settings(max_examples=60, deadline=None)
HEADER = "t_s,ax,ay,az,gx,gy,gz"
WHOLE = 1 << 30  # one chunk holds any file here


@st.composite
def imu_text(draw: st.DrawFn) -> tuple[str, int]:
    """An imu.csv body: varied number formats, blank lines, empty gyro fields, CRLF or LF line
    ends, with or without a final line end; and the number of data rows."""
    n = draw(st.integers(1, 80))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [HEADER]
    for i in range(n):
        acc = draw(st.lists(st.floats(-20, 20, allow_nan=False), min_size=3, max_size=3))
        fmt = draw(st.sampled_from(["{:.3f}", "{!r}", "{:.6e}"]))
        gyro = ",," if draw(st.booleans()) else ",".join(fmt.format(v / 10) for v in acc)
        lines.append(f"{i * 0.005:.3f}," + ",".join(fmt.format(v) for v in acc) + "," + gyro)
        if draw(st.integers(0, 9)) == 0:
            lines.append("")  # a blank line: skipped
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    return text, n


def _file(text: str) -> Path:
    p = Path(tempfile.mkdtemp(prefix="saferoad-chunks-")) / "imu.csv"
    p.write_bytes(text.encode())
    return p


def _groups(path: Path, chunk_bytes: int) -> list[np.ndarray | None]:
    return read_numeric_groups(
        path, [["t_s"], ["ax", "ay", "az"], ["gx", "gy", "gz"]], ["gx", "gy", "gz"], chunk_bytes=chunk_bytes
    )


@SETTINGS
@given(imu_text(), st.integers(1, 3000))
def test_any_chunk_size_gives_the_arrays_of_one_read(case: tuple[str, int], chunk_bytes: int) -> None:
    text, n = case
    path = _file(text)
    whole = _groups(path, WHOLE)
    chunked = _groups(path, chunk_bytes)
    for a, b in zip(whole, chunked, strict=True):
        assert a is not None and b is not None
        assert a.shape == b.shape and a.shape[0] == n
        assert np.array_equal(a, b, equal_nan=True)  # same text, same parser: bit for bit
        assert a.flags.c_contiguous and b.flags.c_contiguous
    cols = read_numeric_csv(path, ["t_s", "ax"], ["gz"], chunk_bytes=chunk_bytes)
    assert np.array_equal(cols["ax"], whole[1][:, 0]) and np.array_equal(cols["gz"], whole[2][:, 2], equal_nan=True)


@SETTINGS
@given(imu_text(), st.integers(1, 3000), st.data())
def test_an_error_names_the_same_line_and_field_whatever_the_chunks(
    case: tuple[str, int], chunk_bytes: int, data: st.DataObject
) -> None:
    text, _ = case
    lines = text.split("\n")
    data_lines = [i for i, line in enumerate(lines) if i > 0 and line.strip()]
    at = data.draw(st.sampled_from(data_lines))
    bad, expected = data.draw(
        st.sampled_from(
            [
                ("0.1,0.2,abc,9.8,0,0,0", r":{line}: field 'ay': not a number: 'abc'"),
                ("0.1,0.2,0.3,nan,0,0,0", r":{line}: field 'az': not a finite number: 'nan'"),
                ("0.1,,0.3,9.8,0,0,0", r":{line}: field 'ax': not a number: ''"),
                ("0.1,0.2,9.8", r":{line}: expected 7 fields, found 3"),
            ]
        )
    )
    ending = "\r" if lines[at].endswith("\r") else ""
    lines[at] = bad + ending
    # a line end after the last row: a bad last row without one is a cut file's (dropped, a repair)
    path = _file("\n".join(lines) + ("" if lines[-1] == "" else "\n"))
    pattern = re.escape(str(path)) + expected.format(line=at + 1)
    with pytest.raises(ValueError, match=pattern):
        _groups(path, chunk_bytes)
    with pytest.raises(ValueError, match=pattern):
        _groups(path, WHOLE)


def test_rows_ended_by_a_lone_cr_grow_the_arrays(tmp_path: Path) -> None:
    """pyarrow ends a row at a lone CR too: more rows than the line ends counted to size the
    arrays (a writer's stray CR), read alike in one chunk or many."""
    body = "".join(f"{i * 0.01:.2f},0.1,0.2,9.8,0,0,0" + ("\r" if i % 3 else "\n") for i in range(300))
    path = tmp_path / "imu.csv"
    path.write_bytes((HEADER + "\n" + body).encode())
    whole = _groups(path, WHOLE)
    for chunk_bytes in (40, 1000):
        for a, b in zip(whole, _groups(path, chunk_bytes), strict=True):
            assert a is not None and b is not None and np.array_equal(a, b)
    t = whole[0]
    assert t is not None and np.allclose(t[:, 0], np.arange(300) * 0.01)
    assert len(read_imu_csv(path)) == 300


def test_a_line_longer_than_the_limit_is_named_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "imu.csv"
    path.write_bytes((HEADER + "\n0,0.1,0.2,9.8,0,0,0\n").encode() + b"7" * (200 * 1024) + b"\n0.01,0.1,0.2,9.8,0,0,0\n")
    for chunk_bytes in (16, 4096, WHOLE):
        with pytest.raises(ValueError, match=r"imu\.csv:3: line longer than"):
            _groups(path, chunk_bytes)


def test_a_large_file_is_read_in_the_memory_of_its_arrays_plus_a_chunk(tmp_path: Path) -> None:
    """Defect 7: what a read allocates through Python (tracemalloc: NumPy arrays and the bytes
    read; pyarrow's own pool is not traced) is the arrays returned plus a few chunks and the
    timestamp checks' working arrays (two columns' worth) - not a multiple of the file."""
    n = 400_000  # about 23 MB: several 4 MiB chunks
    rng = np.random.default_rng(1)
    block = np.column_stack([np.arange(n) * 0.005, rng.normal(0, 0.5, (n, 3)) + np.array([0.0, 0.0, 9.81]), rng.normal(0, 0.05, (n, 3))])
    path = tmp_path / "imu.csv"
    with path.open("w") as fh:
        fh.write(HEADER + "\n")
        np.savetxt(fh, block, fmt="%.5f", delimiter=",")
    assert path.stat().st_size > 5 * CHUNK_BYTES
    tracemalloc.start()
    imu = read_imu_csv(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert imu.gyro is not None and len(imu) == n
    arrays = imu.t_s.nbytes + imu.acc.nbytes + imu.gyro.nbytes
    assert peak < arrays + 2 * imu.t_s.nbytes + 3 * CHUNK_BYTES, (peak / 2**20, arrays / 2**20)
