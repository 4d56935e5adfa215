"""Speed-limit zones from GeoJSON: lookups, OSM-style limits, one test per malformed case,
a property test, and speeding per zone through the road stage."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoad.adapters.geo import load_speed_zones
from saferoad.adapters.recording import open_recording
from saferoad.config import load_config
from saferoad.entrypoints.wiring import analyze_recording, simulate


def _square(lon0: float, lat0: float, size: float) -> list[list[list[float]]]:
    return [[[lon0, lat0], [lon0 + size, lat0], [lon0 + size, lat0 + size], [lon0, lat0 + size],
             [lon0, lat0]]]


def _fc(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def _zone(props: dict, coords=None, gtype: str = "Polygon") -> dict:
    return {"type": "Feature", "properties": props,
            "geometry": {"type": gtype, "coordinates": coords or _square(139.0, 35.0, 1.0)}}


def _write(tmp_path: Path, doc: object, name: str = "zones.geojson") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(doc) if not isinstance(doc, str) else doc, encoding="utf-8")
    return p


def test_lookup_lowest_limit_wins_and_global_outside(tmp_path: Path) -> None:
    p = _write(tmp_path, _fc(
        _zone({"name": "city", "speed_limit_kmh": 50}),
        _zone({"name": "school", "maxspeed": "30"}, _square(139.2, 35.2, 0.1)),
        _zone({"name": "us", "maxspeed": "25 mph"}, _square(10.0, 10.0, 1.0)),
    ))
    lim = load_speed_zones(p, global_kmh=100.0)
    assert lim.limit_at(35.5, 139.5) == (pytest.approx(50 / 3.6), "city")
    assert lim.limit_at(35.25, 139.25) == (pytest.approx(30 / 3.6), "school")
    assert lim.limit_at(10.5, 10.5)[0] == pytest.approx(25 * 1.609344 / 3.6)
    assert lim.limit_at(0.0, 0.0) == (pytest.approx(100 / 3.6), None)
    assert lim.limit_at(math.nan, math.nan) == (pytest.approx(100 / 3.6), None)
    no_global = load_speed_zones(p)
    assert math.isnan(no_global.limit_at(0.0, 0.0)[0])


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("{not json", r"zones\.geojson:1: not valid JSON \(Expecting property name"),
        ([], "expected a GeoJSON FeatureCollection or Feature"),
        ({"type": "FeatureCollection", "features": 3}, "field 'features': expected a list"),
        (_fc({"type": "Feature", "properties": {}}), "feature 0: field 'geometry'"),
        (_fc(_zone({"speed_limit_kmh": 50}, [[1, 2]], "Point")), "feature 0: field 'geometry'"),
        (_fc(_zone({"speed_limit_kmh": 50}, [[0, 0], [1, 1]], "LineString")),
         "must be a Polygon or MultiPolygon"),
        (_fc(_zone({"speed_limit_kmh": 50}, [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]])),
         "invalid polygon"),
        (_fc(_zone({})), "feature 0: no 'speed_limit_kmh' or 'maxspeed'"),
        (_fc(_zone({"speed_limit_kmh": -5})), "field 'speed_limit_kmh'"),
        (_fc(_zone({"speed_limit_kmh": "fast"})), "field 'speed_limit_kmh'"),
        (_fc(_zone({"maxspeed": "signals"})), "field 'maxspeed'"),
        (_fc(_zone({"speed_limit_kmh": 50}), {"type": "Feature", "properties": 7,
                                              "geometry": _zone({})["geometry"]}),
         "feature 1: field 'properties'"),
    ],
)
def test_malformed_zone_files_name_file_feature_and_field(tmp_path: Path, doc, message) -> None:
    p = _write(tmp_path, doc)
    with pytest.raises(ValueError, match=message) as err:
        load_speed_zones(p)
    assert str(p) in str(err.value)


def test_missing_zone_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not found"):
        load_speed_zones(tmp_path / "nope.geojson")


@settings(max_examples=60, deadline=None)
@given(
    limits=st.lists(st.floats(5, 200), min_size=1, max_size=5),
    pts=st.lists(st.tuples(st.floats(-1, 6), st.floats(-1, 6)), min_size=1, max_size=20),
)
def test_zone_lookup_matches_a_plain_point_in_box_check(limits, pts) -> None:
    """Nested squares: the limit found is the lowest among squares containing the point."""
    import tempfile

    feats = [_zone({"speed_limit_kmh": v}, _square(0.0, 0.0, 5.0 - i)) for i, v in enumerate(limits)]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "z.geojson"
        p.write_text(json.dumps(_fc(*feats)))
        lim = load_speed_zones(p, global_kmh=300.0)
    for lon, lat in pts:
        inside = [v for i, v in enumerate(limits) if 0 <= lon <= 5 - i and 0 <= lat <= 5 - i]
        want = min(inside) if inside else 300.0
        assert lim.limit_at(lat, lon)[0] == pytest.approx(want / 3.6)


def test_speeding_per_zone_through_analyze(tmp_path: Path) -> None:
    """A 60 km/h zone around the simulated drive: speeding there; a 100 km/h zone: none."""
    rec_dir = tmp_path / "rec"
    simulate("speeding", rec_dir, assignments=["over_s=64", "at_s=3", "duration_s=90"], seed=3,
             video=False)
    rec = open_recording(rec_dir)
    assert rec.gps is not None
    lat, lon = rec.gps.lat, rec.gps.lon
    box = [[[lon.min() - 0.01, lat.min() - 0.01], [lon.max() + 0.01, lat.min() - 0.01],
            [lon.max() + 0.01, lat.max() + 0.01], [lon.min() - 0.01, lat.max() + 0.01],
            [lon.min() - 0.01, lat.min() - 0.01]]]
    label = next(lb for lb in rec.labels or () if lb.type == "speeding")
    for limit, expect in ((60, 1), (100, 0)):
        zones = _write(tmp_path, _fc(_zone({"name": "z", "speed_limit_kmh": limit}, box)), f"z{limit}.geojson")
        for mode in ("streaming", "batch"):
            cfg = load_config(None, {"perception": {"detector": "replay"},
                                     "road_events": {"speed_zones": str(zones), "mode": mode}})
            ev = [e for e in analyze_recording(rec, cfg, None).events if e.type.value == "speeding"]
            assert len(ev) == expect
            if expect:
                assert ev[0].evidence["zone"] == "z"
                assert abs(ev[0].start_s - label.start_s) <= 0.5
                assert abs(ev[0].end_s - label.end_s) <= 0.5
                assert np.isclose(ev[0].evidence["limit_kmh"], 60.0)
