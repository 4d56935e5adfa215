"""``lanes.parquet`` is written by the outputs adapter (issue 16 item 3: the analyze folder has
one writer): the road stage hands it a list per column, the adapter owns the schema."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from saferoad.adapters.outputs.files import LANES_SCHEMA, OutputFiles
from saferoad.application.stages.road_lanes import LANES_COLUMNS, lanes_rows
from saferoad.domain.lanes.geometry import LaneLine, LaneObservation


def test_the_stage_builds_the_columns_the_adapter_writes() -> None:
    assert tuple(LANES_SCHEMA.names) == LANES_COLUMNS
    assert tuple(lanes_rows([], 0.5)) == LANES_COLUMNS


def test_rows_round_trip_with_nulls(tmp_path: Path) -> None:
    rows = {n: [None, None] for n in LANES_COLUMNS}
    rows.update(frame=[0, 1], t_s=[0.0, 0.1], left_y_m=[1.75, None], confidence=[0.9, 0.0])
    OutputFiles("test").write_lanes(tmp_path / "lanes.parquet", rows)
    table = pq.read_table(tmp_path / "lanes.parquet")
    assert table.schema.equals(LANES_SCHEMA)
    got = table.to_pydict()
    assert got["frame"] == [0, 1] and got["left_y_m"] == [1.75, None]
    assert got["confidence"] == pytest.approx([0.9, 0.0])


def test_a_missing_or_unknown_column_is_named(tmp_path: Path) -> None:
    rows = {n: [] for n in LANES_COLUMNS if n != "width_m"} | {"widht_m": []}
    with pytest.raises(ValueError, match=r"lanes.parquet: lanes columns missing \['width_m'\], unknown \['widht_m'\]"):
        OutputFiles("test").write_lanes(tmp_path / "lanes.parquet", rows)
    assert not (tmp_path / "lanes.parquet").exists()


def _line(a: float, conf: float) -> LaneLine:
    return LaneLine(a, 0.0, 0.0, conf, 5.0, 30.0, 20.0, 0.02)


def test_lanes_rows_keep_offset_and_width_only_at_the_confidence(tmp_path: Path) -> None:
    obs = [
        LaneObservation(0.0, 0, _line(1.8, 0.9), _line(-1.7, 0.8)),  # both lines, confident
        LaneObservation(0.1, 1, _line(1.8, 0.9), _line(-1.7, 0.3)),  # both, one weak
        LaneObservation(0.2, 2, _line(1.8, 0.9), None),  # one line
    ]
    rows = lanes_rows(obs, 0.5)
    assert rows["frame"] == [0, 1, 2] and rows["right_y_m"] == [-1.7, -1.7, None]
    assert rows["width_m"] == [pytest.approx(3.5), None, None]
    assert rows["offset_m"] == [pytest.approx(-0.05), None, None]
    assert rows["confidence"] == [pytest.approx(0.8), pytest.approx(0.3), 0.0]
    assert rows["right_confidence"] == [0.8, 0.3, 0.0]
    OutputFiles("test").write_lanes(tmp_path / "lanes.parquet", rows)
    assert pq.read_table(tmp_path / "lanes.parquet").num_rows == 3
