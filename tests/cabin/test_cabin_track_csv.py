"""The cabin.csv signal-track parser: round trip (hypothesis) and one test per malformed case."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saferoad.adapters.cabin.track import (
    COLUMNS,
    CabinTrackError,
    cabin_table,
    read_cabin_csv,
    write_cabin_csv,
    write_cabin_parquet,
)
from saferoad.domain.cabin.signals import CabinSample

HEADER = ",".join(COLUMNS)
GOOD = "0,0.0,1,0.3,0.31,0,1.5,-2.0,0.5,0.05"

finite = st.floats(allow_nan=False, allow_infinity=False, width=32)


@st.composite
def samples(draw: st.DrawFn) -> list[CabinSample]:
    n = draw(st.integers(0, 30))
    t = 0.0
    frame = 0
    out = []
    for _ in range(n):
        frame += draw(st.integers(1, 3))
        t += draw(st.floats(0.001, 1.0, allow_nan=False))
        t = float(f"{t:.6f}")
        if draw(st.booleans()):
            out.append(
                CabinSample(
                    frame=frame,
                    t_s=t,
                    face=True,
                    ear_left=draw(st.floats(0, 1, allow_nan=False)),
                    ear_right=draw(st.floats(0, 1, allow_nan=False)),
                    eyes_closed=draw(st.booleans()),
                    yaw_deg=draw(st.floats(-180, 180, allow_nan=False)),
                    pitch_deg=draw(
                        st.one_of(st.just(math.nan), st.floats(-90, 90, allow_nan=False))
                    ),
                    roll_deg=draw(st.floats(-180, 180, allow_nan=False)),
                    mouth_open=draw(st.one_of(st.just(math.nan), st.floats(0, 2, allow_nan=False))),
                    obstructed=False,
                )
            )
        else:
            out.append(CabinSample.no_face(frame, t, obstructed=draw(st.booleans())))
    return out


def _close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=samples())
def test_round_trip(tmp_path: Path, rows: list[CabinSample]) -> None:
    path = tmp_path / "cabin.csv"
    write_cabin_csv(path, rows, obstructed=True)
    back = read_cabin_csv(path)
    assert len(back) == len(rows)
    for a, b in zip(rows, back, strict=True):
        assert (a.frame, a.face, a.eyes_closed, a.obstructed) == (
            b.frame,
            b.face,
            b.eyes_closed,
            b.obstructed,
        )
        assert _close(a.t_s, b.t_s)
        for name in ("ear_left", "ear_right", "yaw_deg", "pitch_deg", "roll_deg", "mouth_open"):
            assert _close(getattr(a, name), getattr(b, name)), name
    table = cabin_table(back)
    assert table.column_names[: len(COLUMNS)] == list(COLUMNS)
    assert table.num_rows == len(rows)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(alphabet=st.sampled_from(list("0123456789.,-+eEnaNtrufl \n")), max_size=200))
def test_random_text_parses_or_says_where(tmp_path: Path, text: str) -> None:
    path = tmp_path / "cabin.csv"
    path.write_text(HEADER + "\n" + text, encoding="utf-8")
    try:
        read_cabin_csv(path)
    except CabinTrackError as err:
        assert str(path) in str(err)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cabin.csv"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r":1: empty file"),
        ("frame,t_s,face\n0,0,1\n", r":1: missing column\(s\) ear_left"),
        (HEADER + ",speed\n" + GOOD + ",3\n", r":1: unknown column\(s\) speed"),
        (HEADER + ",face\n", r":1: repeated column"),
        (HEADER + "\n0,0.0,1,0.3\n", r":2: 4 fields, the header has 10"),
        (HEADER + "\nx,0.0,1,0.3,0.31,0,1.5,-2.0,0.5,0.05\n", r":2: column frame: not an integer"),
        (HEADER + "\n-1,0.0,1,0.3,0.31,0,1.5,-2.0,0.5,0.05\n", r":2: column frame: must be >= 0"),
        (HEADER + "\n0,abc,1,0.3,0.31,0,1.5,-2.0,0.5,0.05\n", r":2: column t_s: not a number"),
        (HEADER + "\n0,inf,1,0.3,0.31,0,1.5,-2.0,0.5,0.05\n", r":2: column t_s: not a finite"),
        (HEADER + "\n0,,1,0.3,0.31,0,1.5,-2.0,0.5,0.05\n", r":2: column t_s: a value is required"),
        (HEADER + "\n0,0.0,maybe,0.3,0.31,0,1.5,-2.0,0.5,0.05\n", r":2: column face: expected 0/1"),
        (
            HEADER + "\n0,0.0,1,,0.31,0,1.5,-2.0,0.5,0.05\n",
            r":2: column ear_left: a value is required",
        ),
        (
            HEADER + "\n0,0.0,1,-0.3,0.31,0,1.5,-2.0,0.5,0.05\n",
            r":2: column ear_left: must be >= 0",
        ),
        (
            HEADER + "\n0,0.0,1,0.3,0.31,2,1.5,-2.0,0.5,0.05\n",
            r":2: column eyes_closed: expected 0/1",
        ),
        (
            HEADER + "\n0,0.0,1,0.3,0.31,0,270,-2.0,0.5,0.05\n",
            r":2: column yaw_deg: 270.0 is outside",
        ),
        (HEADER + "\n0,0.0,1,0.3,0.31,0,1.5,-2.0,0.5,-1\n", r":2: column mouth_open: must be >= 0"),
        (
            HEADER + "\n" + GOOD + "\n1,0.0,1,0.3,0.31,0,1.5,-2.0,0.5,0.05\n",
            r":3: frame 1 at t_s 0.0 does not follow",
        ),
        (
            HEADER + "\n" + GOOD + "\n0,0.1,1,0.3,0.31,0,1.5,-2.0,0.5,0.05\n",
            r":3: frame 0 at t_s 0.1 does not follow",
        ),
        (HEADER + "\n0,0.0,0,,,0,,,,,\n", r":2: 11 fields"),
    ],
)
def test_malformed(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(CabinTrackError, match=match):
        read_cabin_csv(_write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="cabin signal track not found"):
        read_cabin_csv(tmp_path / "nope.csv")


def test_duplicate_row_dropped_and_blank_lines_skipped(tmp_path: Path) -> None:
    text = HEADER + "\n" + GOOD + "\n" + GOOD + "\n\n1,0.1,0,,,0,,,,\n"
    rows = read_cabin_csv(_write(tmp_path, text))
    assert [r.frame for r in rows] == [0, 1]
    assert rows[1].face is False and math.isnan(rows[1].ear_left)


def test_no_face_row_ignores_measurements(tmp_path: Path) -> None:
    rows = read_cabin_csv(_write(tmp_path, HEADER + "\n0,0.0,false,0.1,0.1,true,90,0,0,0.5\n"))
    assert rows[0].face is False and rows[0].eyes_closed is False and math.isnan(rows[0].yaw_deg)


def test_parquet_written_atomically(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    rows = read_cabin_csv(_write(tmp_path, HEADER + "\n" + GOOD + "\n"))
    out = tmp_path / "o" / "cabin.parquet"
    write_cabin_parquet(out, rows)
    t = pq.read_table(out)
    assert t.column_names[: len(COLUMNS)] == list(COLUMNS)
    assert not list(out.parent.glob(".*tmp"))
