"""The evaluation reads its cached analyze results through the one outputs reader (issue 16
item 3): events, summary and ``tracks.parquet``'s boxes come back as the files hold them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from saferoad.application.evaluation.boxes import BOX_COLUMNS, read_tracks
from saferoad.domain.types import Event, EventType, Frame, RoadClass, Severity, TrackedObject
from saferoad.entrypoints.wiring import analysis_ports, outputs, outputs_reader
from saferoad.entrypoints.wiring import tracks_writer as TracksWriter


def _tracks(path: Path) -> None:
    image = np.zeros((4, 4, 3), np.uint8)
    with TracksWriter(path, flush_rows=3) as w:
        for i in range(5):
            objs = [
                TrackedObject(7, RoadClass.VEHICLE, 0.9, (10.0 + i, 20.0, 50.0, 60.0), distance_m=12.5 + i),
                TrackedObject(8, RoadClass.PERSON, 0.55, (100.0, 20.0, 120.0, 80.0)),  # no distance: null
            ]
            w.write(Frame(i, i / 10.0, image), objs[: 1 + i % 2])


def test_read_tracks_gives_the_box_columns_pandas_reads(tmp_path: Path) -> None:
    path = tmp_path / "tracks.parquet"
    _tracks(path)
    got = read_tracks(path, outputs_reader())
    want = pd.read_parquet(path)[BOX_COLUMNS]
    assert list(got.columns) == BOX_COLUMNS and len(got) == 7
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert got["distance_m"].isna().sum() == 2
    assert got["frame"].dtype.kind == "i" and got["x1"].dtype.kind == "f"


def test_a_tracks_file_without_a_box_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tracks.parquet"
    pd.DataFrame({"frame": [0], "track_id": [1]}).to_parquet(path)
    with pytest.raises(ValueError, match=r"tracks\.parquet: columns \['cls', 'score'.*missing"):
        read_tracks(path, outputs_reader())
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match=r"bad\.parquet: not a readable Parquet file"):
        read_tracks(tmp_path / "bad.parquet", outputs_reader())


def test_the_analysis_ports_read_what_the_writer_wrote(tmp_path: Path) -> None:
    ports = analysis_ports()
    ev = Event(EventType.HARSH_BRAKING, 1.0, 2.5, Severity.MEDIUM, 0.8, peak={"g": 0.45})
    outputs().write_events(tmp_path / "events.jsonl", [ev])
    outputs().write_json(tmp_path / "summary.json", {"n_events": 1})
    [back] = ports.read_outputs.read_events(tmp_path / "events.jsonl")
    assert back.to_dict() == ev.to_dict()
    assert ports.read_outputs.read_json(tmp_path / "summary.json", error=ValueError, missing="missing") == {"n_events": 1}
    (tmp_path / "events.jsonl").write_text(json.dumps(ev.to_dict()) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"events\.jsonl:2"):
        ports.read_outputs.read_events(tmp_path / "events.jsonl")
