"""Malformed analyze outputs are rejected with a message naming file, line/row and field."""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saferoad.application.ingest import (
    MalformedOutput,
    read_events,
)
from saferoad.config import load_config
from saferoad.entrypoints.wiring import find_outputs, load_output, outputs_reader

CFG = load_config()


def _summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text())


def _set_summary(out: Path, data: dict[str, Any]) -> None:
    (out / "summary.json").write_text(json.dumps(data))


def _edit_summary(**changes: Any) -> Callable[[Path], None]:
    def edit(out: Path) -> None:
        data = _summary(out)
        for dotted, value in changes.items():
            node = data
            parts = dotted.split("__")
            for p in parts[:-1]:
                node = node[p]
            if value is _DELETE:
                del node[parts[-1]]
            else:
                node[parts[-1]] = value
        _set_summary(out, data)

    return edit


_DELETE = object()


def _append_event(line: str) -> Callable[[Path], None]:
    def edit(out: Path) -> None:
        with (out / "events.jsonl").open("a") as fh:
            fh.write(line + "\n")
        data = _summary(out)
        data.pop("event_counts", None)
        _set_summary(out, data)

    return edit


def _timeline(**cols: Any) -> Callable[[Path], None]:
    def edit(out: Path) -> None:
        table = pq.read_table(out / "timeline.parquet")
        data = {n: table.column(n).to_numpy() for n in table.column_names}
        for k, v in cols.items():
            if v is _DELETE:
                del data[k]
            else:
                data[k] = v(data[k]) if callable(v) else v
        pq.write_table(pa.table(data), out / "timeline.parquet")

    return edit


def _write(name: str, text: str) -> Callable[[Path], None]:
    def edit(out: Path) -> None:
        (out / name).write_text(text)

    return edit


def _remove(name: str) -> Callable[[Path], None]:
    def edit(out: Path) -> None:
        (out / name).unlink()

    return edit


def _swap(arr: np.ndarray) -> np.ndarray:
    arr = arr.copy()
    arr[10], arr[11] = arr[11], arr[10]
    return arr


def _bad_lat(arr: np.ndarray) -> np.ndarray:
    arr = arr.copy()
    arr[7] = 123.0
    return arr


CASES: list[tuple[str, Callable[[Path], None], str]] = [
    (
        "summary not JSON",
        _write("summary.json", '{"meta": {\n  "start_utc": }'),
        r"summary\.json:2: not valid JSON",
    ),
    ("summary a list", _write("summary.json", "[]"), r"summary\.json: expected a JSON object"),
    ("summary missing", _remove("summary.json"), r"summary\.json: missing"),
    ("no start time", _edit_summary(meta__start_utc=None), r"field 'meta\.start_utc' is missing"),
    (
        "bad start time",
        _edit_summary(meta__start_utc="yesterday"),
        r"field 'meta\.start_utc' is not an ISO 8601 time",
    ),
    (
        "bad time zone",
        _edit_summary(meta__timezone="Mars/Olympus"),
        r"field 'meta\.timezone' is not an IANA time zone",
    ),
    (
        "empty driver",
        _edit_summary(meta__driver_id=""),
        r"field 'meta\.driver_id' must be a non-empty",
    ),
    ("negative duration", _edit_summary(duration_s=-3), r"field 'duration_s' must be >= 0"),
    (
        "duration text",
        _edit_summary(duration_s="long"),
        r"field 'duration_s' must be a finite number",
    ),
    ("negative distance", _edit_summary(distance_km=-1.0), r"field 'distance_km' must be >= 0"),
    (
        "counts disagree",
        _edit_summary(event_counts={"speeding": 99}),
        r"field 'event_counts' .* does not match events\.jsonl",
    ),
    ("events missing", _remove("events.jsonl"), r"events\.jsonl: missing"),
    ("event not JSON", _append_event("{oops"), r"events\.jsonl:\d+: not valid JSON"),
    ("event a list", _append_event("[1, 2]"), r"events\.jsonl:\d+: expected a JSON object"),
    (
        "unknown type",
        _append_event('{"type": "warp", "start_s": 1, "end_s": 2}'),
        r"events\.jsonl:\d+: field 'type' is not an event type: 'warp'",
    ),
    (
        "no start",
        _append_event('{"type": "speeding", "end_s": 2}'),
        r"events\.jsonl:\d+: field 'start_s' is missing",
    ),
    (
        "end before start",
        _append_event('{"type": "speeding", "start_s": 9, "end_s": 2}'),
        r"events\.jsonl:\d+: field 'end_s' 2\.0 is before 'start_s' 9\.0",
    ),
    (
        "after the drive",
        _append_event('{"type": "speeding", "start_s": 99999, "end_s": 99999}'),
        r"events\.jsonl:\d+: field 'start_s' 99999\.0 is after the end of the drive",
    ),
    (
        "bad severity",
        _append_event('{"type": "speeding", "start_s": 1, "end_s": 2, "severity": "dire"}'),
        r"events\.jsonl:\d+: field 'severity'",
    ),
    (
        "bad confidence",
        _append_event('{"type": "speeding", "start_s": 1, "end_s": 2, "confidence": 2}'),
        r"events\.jsonl:\d+: field 'confidence' must be within 0-1",
    ),
    (
        "bad direction",
        _append_event('{"type": "harsh_cornering", "start_s": 1, "end_s": 2, "direction": "up"}'),
        r"events\.jsonl:\d+: field 'direction'",
    ),
    (
        "peak not numbers",
        _append_event('{"type": "speeding", "start_s": 1, "end_s": 2, "peak": {"g": "big"}}'),
        r"events\.jsonl:\d+: field 'peak\.g' must be a number",
    ),
    (
        "clip missing",
        _append_event(
            '{"type": "tailgating", "start_s": 1, "end_s": 2, "evidence": {"clip": "clips/none.mp4"}}'
        ),
        r"events\.jsonl:\d+: field 'evidence\.clip': file 'clips/none\.mp4' not found",
    ),
    (
        "snapshot not a path",
        _append_event(
            '{"type": "tailgating", "start_s": 1, "end_s": 2, "evidence": {"snapshot": 5}}'
        ),
        r"events\.jsonl:\d+: field 'evidence\.snapshot' must be a path",
    ),
    (
        "timeline not parquet",
        _write("timeline.parquet", "not parquet"),
        r"timeline\.parquet: not a readable Parquet file",
    ),
    (
        "timeline no speed",
        _timeline(speed_mps=_DELETE),
        r"timeline\.parquet: column 'speed_mps' is missing",
    ),
    (
        "timeline text",
        _timeline(lat=lambda a: np.array([str(x) for x in a])),
        r"timeline\.parquet: column 'lat' must be numeric",
    ),
    (
        "time goes back",
        _timeline(t_s=_swap),
        r"timeline\.parquet: row 11: column 't_s' does not increase",
    ),
    (
        "latitude off the globe",
        _timeline(lat=_bad_lat),
        r"timeline\.parquet: row 7: column 'lat' = 123\.0 is out of range",
    ),
]


@pytest.mark.parametrize(("name", "edit", "message"), CASES, ids=[c[0] for c in CASES])
def test_malformed_output_is_rejected(
    name: str, edit: Callable[[Path], None], message: str, make_output: Any, tmp_path: Path
) -> None:
    out = make_output(tmp_path / "out", style="average", seed=4, duration_s=300.0)
    edit(out)
    with pytest.raises(MalformedOutput, match=message) as err:
        load_output(out, CFG)
    assert str(out) in str(err.value)  # the message names the file


def test_folder_without_outputs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(MalformedOutput, match="no analyze output here"):
        find_outputs(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        find_outputs(tmp_path / "absent")


def test_distance_from_timeline_when_summary_has_none(make_output: Any, tmp_path: Path) -> None:
    out = make_output(tmp_path / "out", seed=2, duration_s=300.0)
    data = _summary(out)
    stated = data.pop("distance_km")
    _set_summary(out, data)
    trip = load_output(out, CFG)
    assert trip.distance_km == pytest.approx(stated, rel=0.02)


# --- property tests of the events.jsonl reader -------------------------------------------

EVENT_TYPES = ["harsh_braking", "speeding", "tailgating", "harsh_cornering", "drowsiness"]

valid_event = st.builds(
    lambda t, s, d, sev, c, dr: {
        "type": t,
        "start_s": s,
        "end_s": s + d,
        "severity": sev,
        "confidence": c,
        "direction": dr if t == "harsh_cornering" else None,
        "peak": {"g": round(d, 2)},
        "evidence": {},
    },
    st.sampled_from(EVENT_TYPES),
    st.floats(0, 250, allow_nan=False),
    st.floats(0, 30, allow_nan=False),
    st.sampled_from(["low", "medium", "high"]),
    st.floats(0, 1),
    st.sampled_from(["left", "right"]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=st.lists(valid_event, max_size=12))
def test_valid_events_read_back_exactly(events: list[dict[str, Any]], tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    got = read_events(path, tmp_path, duration_s=300.0, reader=outputs_reader())
    assert [g.data for g in got] == events
    assert [g.line for g in got] == list(range(1, len(events) + 1))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.lists(valid_event, max_size=4),
    junk=st.one_of(
        st.text(string.printable, min_size=1).filter(
            lambda s: s.strip() and "\n" not in s and "\r" not in s
        ),
        st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "start_s",
                    "end_s",
                    "severity",
                    "confidence",
                    "direction",
                    "peak",
                    "evidence",
                ]
            ),
            st.one_of(
                st.none(),
                st.integers(-5, 5),
                st.text(max_size=5),
                st.floats(allow_nan=True),
                st.lists(st.integers(), max_size=2),
            ),
        ).map(json.dumps),
    ),
)
def test_any_line_is_read_or_rejected_with_its_line_number(
    prefix: list[dict[str, Any]], junk: str, tmp_path: Path
) -> None:
    """Garbage never crashes the reader nor slips through unchecked: either the line is a
    valid event or the error names ``events.jsonl:<its line>``."""
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in prefix) + junk + "\n")
    try:
        got = read_events(path, tmp_path, duration_s=300.0, reader=outputs_reader())
    except MalformedOutput as err:
        assert f"events.jsonl:{len(prefix) + 1}:" in str(err)
    else:
        assert len(got) == len(prefix) + 1
        last = got[-1].data
        assert last["type"] in {
            "harsh_braking",
            "harsh_acceleration",
            "harsh_cornering",
            "aggressive_lane_change",
            "tailgating",
            "forward_collision_warning",
            "rolling_stop",
            "stop_sign_violation",
            "red_light",
            "speeding",
            "drowsiness",
            "distraction",
            "camera_obstructed",
        }
        assert 0 <= last["start_s"] <= last["end_s"]
