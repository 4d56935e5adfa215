"""``tracks.parquet``'s columns are built from their buffers (``arrow_column``), not by
``pa.array``/``pa.table``, which import pandas the first time they run: the same arrays and
the same file as the reference formulation ``pa.table(rows, schema=TRACKS_SCHEMA)``."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from saferoad.adapters.outputs.tracks import TRACKS_SCHEMA, arrow_column
from saferoad.domain.types import Frame, RoadClass, TrackedObject
from saferoad.entrypoints.wiring import tracks_writer as TracksWriter


def _value(rng: random.Random, typ: pa.DataType, nullable: bool) -> object:
    if nullable and rng.random() < 0.3:
        return None
    if typ == pa.int64():
        return rng.randint(-(2**40), 2**40)
    if typ == pa.float64():
        return rng.choice([0.0, -0.0, 1e-300, -3.5, rng.uniform(-1e6, 1e6)])
    if typ == pa.bool_():
        return rng.random() < 0.5
    return rng.choice(["", "car", "traffic light", "Ampel ä", "红灯", "x" * rng.randint(1, 40)])


@pytest.mark.parametrize("typ", [pa.int64(), pa.float64(), pa.bool_(), pa.string()])
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 300])
@pytest.mark.parametrize("nullable", [False, True])
def test_arrow_column_is_pa_array(typ: pa.DataType, n: int, nullable: bool) -> None:
    # a str seed: the same values in every run (hash() of a str changes with PYTHONHASHSEED)
    rng = random.Random(f"{typ}:{n}:{nullable}")
    values = [_value(rng, typ, nullable) for _ in range(n)]
    got, want = arrow_column(values, typ), pa.array(values, type=typ)
    got.validate(full=True)
    assert got.type == want.type and got.null_count == want.null_count
    assert got.equals(want), (got, want)
    assert got.to_pylist() == want.to_pylist()


def test_arrow_column_all_null_and_unknown_type() -> None:
    assert arrow_column([None, None], pa.string()).equals(pa.array([None, None], type=pa.string()))
    assert arrow_column([None] * 3, pa.float64()).equals(pa.array([None] * 3, type=pa.float64()))
    with pytest.raises(TypeError, match="no buffers"):
        arrow_column([1], pa.int32())


def _objects(rng: random.Random, k: int) -> list[TrackedObject]:
    out = []
    for j in range(k):
        x, y = rng.uniform(0, 1200), rng.uniform(0, 700)
        attrs: dict[str, object] = {"label": rng.choice(["car", "truck", "traffic light"])}
        if rng.random() < 0.5:
            attrs["lateral_m"] = rng.uniform(-5, 5)
            attrs["range_rate_mps"] = rng.choice([rng.uniform(-9, 9), math.nan])
            attrs["ttc_s"] = rng.choice([math.inf, rng.uniform(0, 30)])
            attrs["distance_sigma_m"] = rng.uniform(0, 3)
        if rng.random() < 0.2:
            attrs["lamp"] = rng.choice(["red", "green", "unknown"])
        out.append(TrackedObject(
            track_id=j + 1, cls=rng.choice(list(RoadClass)), xyxy=(x, y, x + 40.0, y + 30.0),
            score=rng.random(), distance_m=rng.choice([None, rng.uniform(2, 120)]),
            is_lead=j == 0 and rng.random() < 0.5, attributes=attrs,
        ))  # fmt: skip
    return out


def test_writer_file_equals_the_pa_table_formulation(tmp_path: Path) -> None:
    rng = random.Random(7)
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    frames = [(Frame(index=i, t_s=i / 30, image=image), _objects(rng, rng.randint(0, 5))) for i in range(60)]
    path = tmp_path / "tracks.parquet"
    with TracksWriter(path, flush_rows=50) as writer:  # several row groups
        for frame, objs in frames:
            writer.write(frame, objs)
    # the reference: the same rows, never flushed, through pa.table
    with TracksWriter(tmp_path / "unused.parquet", flush_rows=10**9) as held:
        for frame, objs in frames:
            held.write(frame, objs)
        want = pa.table(held._rows, schema=TRACKS_SCHEMA)
    got = pq.read_table(path)
    assert pq.ParquetFile(path).num_row_groups >= 2
    assert got.num_rows == writer.rows_written == want.num_rows > 100
    assert want.column("distance_m").null_count > 0 and want.column("lamp").null_count > 0
    assert got.equals(want)
