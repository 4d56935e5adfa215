"""``tracks.parquet`` has one writer, the outputs adapter (issue 16 item 3): the application
builds the rows (``perception.TracksWriter``, :data:`~saferoad.application.perception.TRACKS_COLUMNS`)
and hands them to the port's ``open_tracks`` sink, which owns the schema, writes a row group
per hand-over into a temporary name and puts the file in place whole when it is closed."""

from __future__ import annotations

import ast
import os
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import numpy as np
import pyarrow.parquet as pq
import pytest

import saferoad.application
from saferoad.adapters.outputs import FILE_MODE
from saferoad.adapters.outputs.tracks import TRACKS_SCHEMA, TracksFile
from saferoad.application.analyze import analyze_into
from saferoad.application.perception import TRACKS_COLUMNS, TracksWriter
from saferoad.config import load_config
from saferoad.domain.types import Frame, RoadClass, TrackedObject
from saferoad.entrypoints.wiring import analysis_ports, open_recording, outputs, simulate
from saferoad.ports.outputs import AnalysisOutputs, TracksSink

IMAGE = np.zeros((4, 4, 3), np.uint8)


def _objects(i: int) -> list[TrackedObject]:
    return [
        TrackedObject(1, RoadClass.VEHICLE, 0.9, (10.0 + i, 20.0, 50.0, 60.0), distance_m=12.0 + i, is_lead=True),
        TrackedObject(2, RoadClass.TRAFFIC_LIGHT, 0.5, (5.0, 5.0, 9.0, 15.0), attributes={"lamp": "red"}),
    ]


def test_the_rows_the_application_builds_are_the_adapters_columns() -> None:
    assert list(TRACKS_COLUMNS) == TRACKS_SCHEMA.names
    assert isinstance(outputs(), AnalysisOutputs)


def test_the_file_appears_whole_at_close_and_replaces_the_previous(tmp_path: Path) -> None:
    path = tmp_path / "tracks.parquet"
    with TracksWriter(outputs().open_tracks(path), flush_rows=2) as w:
        w.write(Frame(0, 0.0, IMAGE), _objects(0))
    previous = pq.read_table(path)
    sink = outputs().open_tracks(path)
    assert isinstance(sink, TracksSink)
    writer = TracksWriter(sink, flush_rows=2)
    for i in range(3):
        writer.write(Frame(i, i / 10, IMAGE), _objects(i))  # a row group per frame
    # while the run goes on, a reader finds the previous file, and the new one under a temporary name
    assert pq.read_table(path).equals(previous)
    (tmp,) = [p for p in tmp_path.iterdir() if p.name != "tracks.parquet"]
    assert tmp.name.startswith(".tracks.parquet.") and tmp.name.endswith(".tmp")
    writer.close()
    writer.close()  # a second close does nothing
    assert [p.name for p in tmp_path.iterdir()] == ["tracks.parquet"]
    assert os.stat(path).st_mode & 0o777 == FILE_MODE
    f = pq.ParquetFile(path)
    assert f.schema_arrow == TRACKS_SCHEMA and f.num_row_groups == 3 and f.metadata.num_rows == 6
    got = pq.read_table(path).to_pydict()
    assert got["frame"] == [0, 0, 1, 1, 2, 2] and got["lamp"] == [None, "red"] * 3
    assert got["distance_m"] == [12.0, None, 13.0, None, 14.0, None]
    assert writer.rows_written == 6


def test_a_failing_last_flush_still_closes_the_sink(tmp_path: Path) -> None:
    """A flush that raises at close (a full disk) must not leave the sink's writer open and
    its temporary file behind: the error surfaces and the sink is closed all the same."""

    class FullDisk:
        def __init__(self) -> None:
            self.inner = TracksFile(tmp_path / "tracks.parquet")
            self.closed = 0

        def add(self, rows: object) -> NoReturn:
            raise OSError(28, "No space left on device")

        def close(self) -> None:
            self.closed += 1
            self.inner.close()

    sink = FullDisk()
    writer = TracksWriter(sink, flush_rows=100)
    writer.write(Frame(0, 0.0, IMAGE), _objects(0))  # buffered, not yet flushed
    with pytest.raises(OSError, match="No space left"):
        writer.close()
    assert sink.closed == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_run_with_no_rows_leaves_the_empty_table(tmp_path: Path) -> None:
    path = tmp_path / "out" / "tracks.parquet"  # the folder is made
    TracksWriter(outputs().open_tracks(path)).close()
    f = pq.ParquetFile(path)
    assert f.schema_arrow == TRACKS_SCHEMA and f.metadata.num_rows == 0


def test_columns_that_do_not_match_are_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tracks.parquet"
    sink = TracksFile(path)
    rows: dict[str, list[object]] = {n: [None] for n in TRACKS_SCHEMA.names}
    del rows["ttc_s"]
    rows["speed"] = [1.0]
    with pytest.raises(ValueError, match=r"tracks\.parquet: tracks columns missing \['ttc_s'\], unknown \['speed'\]"):
        sink.add(rows)
    rows = {n: [None] for n in TRACKS_SCHEMA.names}
    rows["frame"] = [1, 2]
    with pytest.raises(ValueError, match=r"tracks\.parquet: tracks columns of different lengths"):
        sink.add(rows)
    sink.close()
    with pytest.raises(ValueError, match="already closed"):
        sink.add({n: [] for n in TRACKS_SCHEMA.names})


def test_the_application_layer_does_not_import_pyarrow() -> None:
    root = Path(saferoad.application.__file__).parent
    found = []
    for py in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )  # fmt: skip
            found += [f"{py.relative_to(root)}: {n}" for n in names if n.split(".")[0] == "pyarrow"]
    assert found == []


def test_a_road_stage_failing_to_start_leaves_no_temporary_file(tmp_path: Path) -> None:
    """The road camera opens tracks.parquet's sink last: a lane detector that cannot be built
    (a model missing, a bad setting) fails the stage without a stray ``.tracks.parquet.*.tmp``
    in the outputs folder, and the video it opened is closed."""
    rec_dir = tmp_path / "drive"
    simulate("lead_braking", rec_dir, assignments=["camera.fps=10", "camera.width=320", "camera.height=180"], seed=1)
    closed: list[bool] = []
    base = analysis_ports()

    def frames(*args: object, **kwargs: object) -> object:
        src = base.open_frames(*args, **kwargs)  # type: ignore[arg-type]
        real_close = src.close

        def close() -> None:
            closed.append(True)
            real_close()

        src.close = close  # type: ignore[method-assign]
        return src

    def no_lanes(*, estimate_pitch: bool) -> NoReturn:
        raise RuntimeError("lane model missing")

    ports = replace(base, open_frames=frames, lane_detector=no_lanes)  # type: ignore[arg-type]
    out = tmp_path / "out"  # analyze_into: written straight in (analyze's staged folder would go whole)
    out.mkdir()
    with pytest.raises(RuntimeError, match="lane model missing"):
        analyze_into(open_recording(rec_dir), load_config(), out, ports=ports)
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []
    assert closed == [True]
