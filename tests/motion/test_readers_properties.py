"""Hypothesis property tests for every reader: what the writer (or a generator) writes, the
reader returns; shuffled or repeated rows come back repaired."""

from __future__ import annotations

import tempfile
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gpxpy.gpx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from saferoad.adapters.recording import RecordingWarning
from saferoad.adapters.recording.gps import read_gps_csv, read_gpx, read_nmea
from saferoad.adapters.recording.labels import (
    read_ground_truth_csv,
    read_labels_jsonl,
    write_labels_jsonl,
)
from saferoad.adapters.recording.saferoad_format import (
    read_can_csv,
    read_imu_csv,
    write_can_csv,
    write_gps_csv,
    write_imu_csv,
)
from saferoad.domain.types import Direction, EventLabel, GpsSeries, ImuSeries, SpeedSeries

SETTINGS = settings(max_examples=40, deadline=None)


def _tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="saferoad-prop-"))


@st.composite
def imu_series(draw: st.DrawFn) -> ImuSeries:
    n = draw(st.integers(2, 60))
    dt = draw(st.floats(0.001, 0.05))
    t = np.round(np.arange(n) * dt + draw(st.floats(0, 100)), 6)
    noise = draw(arrays(np.float64, (n, 3), elements=st.floats(-3, 3)))
    acc = noise + np.array([0.0, 0.0, 9.81])
    gyro = draw(arrays(np.float64, (n, 3), elements=st.floats(-2, 2)))
    return ImuSeries(t, acc, gyro)


@SETTINGS
@given(imu_series())
def test_imu_round_trip(imu: ImuSeries) -> None:
    p = _tmp() / "imu.csv"
    write_imu_csv(p, imu)
    back = read_imu_csv(p)
    assert np.array_equal(back.t_s, imu.t_s)
    assert np.array_equal(back.acc, imu.acc)
    assert back.gyro is not None and imu.gyro is not None and np.array_equal(back.gyro, imu.gyro)


@SETTINGS
@given(imu_series(), st.randoms(use_true_random=False), st.integers(0, 5))
def test_imu_shuffled_and_repeated_rows_repaired(imu: ImuSeries, rnd: object, n_dup: int) -> None:
    p = _tmp() / "imu.csv"
    write_imu_csv(p, imu)
    lines = p.read_text().splitlines(keepends=True)
    body = lines[1:]
    body += [body[i % len(body)] for i in range(n_dup)]
    rnd.shuffle(body)  # type: ignore[attr-defined]
    p.write_text(lines[0] + "".join(body))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordingWarning)
        back = read_imu_csv(p)
    assert np.array_equal(back.t_s, imu.t_s)
    assert np.array_equal(back.acc, imu.acc)


@SETTINGS
@given(
    st.integers(2, 40),
    st.floats(-89, 89),
    st.floats(-179, 179),
    st.lists(st.one_of(st.none(), st.floats(0, 60)), min_size=40, max_size=40),
)
def test_gps_csv_round_trip(n: int, lat0: float, lon0: float, speeds: list[float | None]) -> None:
    t = np.arange(n, dtype=np.float64)
    sp = np.array([np.nan if s is None else s for s in speeds[:n]])
    g = GpsSeries(t, lat0 + t * 1e-5, lon0 + t * 1e-5, sp, np.full(n, np.nan), np.full(n, 12.5))
    p = _tmp() / "gps.csv"
    write_gps_csv(p, g)
    back = read_gps_csv(p)
    assert np.array_equal(back.lat, g.lat) and np.array_equal(back.lon, g.lon)
    assert np.array_equal(np.isnan(back.speed_mps), np.isnan(sp))
    assert np.allclose(back.speed_mps[~np.isnan(sp)], sp[~np.isnan(sp)])


@SETTINGS
@given(st.lists(st.floats(0, 80), min_size=2, max_size=30))
def test_can_csv_round_trip(speeds: list[float]) -> None:
    t = np.arange(len(speeds), dtype=np.float64) * 0.01
    p = _tmp() / "can.csv"
    write_can_csv(p, SpeedSeries(t, np.array(speeds, dtype=np.float64), "can"))
    back = read_can_csv(p)
    assert np.array_equal(back.speed_mps, np.array(speeds))


def _nmea(body: str) -> str:
    cs = 0
    for ch in body:
        cs ^= ord(ch)
    return f"${body}*{cs:02X}"


def _dm(v: float, lat: bool) -> tuple[str, str]:
    hemi = ("N" if v >= 0 else "S") if lat else ("E" if v >= 0 else "W")
    a = abs(v)
    deg = int(a)
    minutes = (a - deg) * 60
    return (f"{deg:02d}{minutes:07.4f}" if lat else f"{deg:03d}{minutes:07.4f}"), hemi


@SETTINGS
@given(
    st.lists(
        st.tuples(st.floats(-80, 80), st.floats(-170, 170), st.floats(0, 100), st.floats(0, 359.9)),
        min_size=1,
        max_size=20,
    )
)
def test_nmea_round_trip(fixes: list[tuple[float, float, float, float]]) -> None:
    start = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    lines = []
    for i, (lat, lon, kn, course) in enumerate(fixes):
        ts = start + timedelta(seconds=i + 1)
        la, lh = _dm(lat, True)
        lo, oh = _dm(lon, False)
        hhmmss = ts.strftime("%H%M%S")
        lines.append(_nmea(f"GPRMC,{hhmmss},A,{la},{lh},{lo},{oh},{kn:.1f},{course:.1f},{ts:%d%m%y},,"))
        lines.append(_nmea(f"GPGGA,{hhmmss},{la},{lh},{lo},{oh},1,08,0.9,{i + 0.5:.1f},M,0,M,,"))
    p = _tmp() / "gps.nmea"
    p.write_text("\n".join(lines) + "\n")
    g = read_nmea(p, start)
    assert np.array_equal(g.t_s, np.arange(1, len(fixes) + 1, dtype=np.float64))
    assert np.allclose(g.lat, [f[0] for f in fixes], atol=1e-5)
    assert np.allclose(g.lon, [f[1] for f in fixes], atol=1e-5)
    assert np.allclose(g.speed_mps, [round(f[2], 1) * 1852 / 3600 for f in fixes], atol=1e-6)
    assert np.allclose(g.alt_m, np.arange(len(fixes)) + 0.5)


@SETTINGS
@given(st.lists(st.tuples(st.floats(-80, 80), st.floats(-170, 170), st.floats(-100, 3000)), min_size=1, max_size=20))
def test_gpx_round_trip(points: list[tuple[float, float, float]]) -> None:
    start = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    gpx = gpxpy.gpx.GPX()
    trk = gpxpy.gpx.GPXTrack()
    seg = gpxpy.gpx.GPXTrackSegment()
    gpx.tracks.append(trk)
    trk.segments.append(seg)
    for i, (lat, lon, ele) in enumerate(points):
        seg.points.append(gpxpy.gpx.GPXTrackPoint(lat, lon, elevation=ele, time=start + timedelta(seconds=2 * i)))
    p = _tmp() / "gps.gpx"
    p.write_text(gpx.to_xml(version="1.1"))
    g = read_gpx(p, start)
    assert np.array_equal(g.t_s, 2.0 * np.arange(len(points)))
    assert np.allclose(g.lat, [q[0] for q in points], atol=1e-9)
    assert np.allclose(g.alt_m, [q[2] for q in points], atol=1e-6)


_label = st.builds(
    lambda typ, s, d, di: EventLabel(typ, round(s, 3), round(s + d, 3), di if typ in ("harsh_cornering", "aggressive_lane_change") else None),
    st.sampled_from(["harsh_braking", "harsh_acceleration", "harsh_cornering", "aggressive_lane_change", "normal"]),
    st.floats(0, 1000),
    st.floats(0, 10),
    st.sampled_from(list(Direction)),
)


@SETTINGS
@given(st.lists(_label, max_size=20))
def test_labels_jsonl_round_trip(labels: list[EventLabel]) -> None:
    p = _tmp() / "labels.jsonl"
    write_labels_jsonl(p, labels)
    assert read_labels_jsonl(p) == labels


_DBD = {
    ("harsh_braking", None): "freada_agressiva",
    ("harsh_acceleration", None): "aceleracao_agressiva",
    ("harsh_cornering", Direction.LEFT): "curva_esquerda_agressiva",
    ("harsh_cornering", Direction.RIGHT): "curva_direita_agressiva",
    ("aggressive_lane_change", Direction.LEFT): "troca_faixa_esquerda_agressiva",
    ("aggressive_lane_change", Direction.RIGHT): "troca_faixa_direita_agressiva",
    ("normal", None): "evento_nao_agressivo",
}


@SETTINGS
@given(st.lists(_label, max_size=20))
def test_ground_truth_csv_maps_types(labels: list[EventLabel]) -> None:
    p = _tmp() / "groundTruth.csv"
    body = "".join(f"{_DBD[(lab.type, lab.direction)]},{lab.start_s},{lab.end_s}\n" for lab in labels)
    p.write_text("evento, inicio, fim\n" + body)
    assert read_ground_truth_csv(p) == labels


_ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20)


@SETTINGS
@given(
    _ids,
    _ids,
    _ids,
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.booleans(),
    st.integers(0, 2**31),
    st.one_of(st.none(), st.tuples(st.integers(16, 4096), st.integers(16, 4096), st.floats(30, 150))),
)
def test_meta_round_trip(
    vehicle: str, driver: str, fleet: str, start: datetime, with_mount: bool, seed: int, cam: tuple[int, int, float] | None
) -> None:
    from scipy.spatial.transform import Rotation

    from saferoad.adapters.recording.saferoad_format import read_meta, write_meta
    from saferoad.domain.recording import Mounting, RecordingMeta
    from saferoad.domain.types import CameraIntrinsics

    start = start.replace(microsecond=(start.microsecond // 1000) * 1000)
    rot = Rotation.random(random_state=seed).as_matrix() if with_mount else None
    meta = RecordingMeta(
        vehicle_id=vehicle,
        driver_id=driver,
        fleet_id=fleet,
        start_utc=start,
        timezone="Europe/Paris",
        mounting=Mounting(rot),
        camera=CameraIntrinsics.from_fov(cam[0], cam[1], cam[2]) if cam else None,
    )
    p = _tmp() / "meta.toml"
    write_meta(p, meta)
    back, _ = read_meta(p)
    assert (back.vehicle_id, back.driver_id, back.fleet_id, back.timezone) == (vehicle, driver, fleet, "Europe/Paris")
    assert back.start_utc == start
    if rot is None:
        assert back.mounting.rotation is None
    else:
        assert back.mounting.rotation is not None and np.allclose(back.mounting.rotation, rot)
    if cam is None:
        assert back.camera is None
    else:
        assert back.camera is not None and back.camera.width == cam[0] and np.isclose(back.camera.fx, meta.camera.fx)  # type: ignore[union-attr]
