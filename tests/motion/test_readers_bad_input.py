"""Readers: one test per kind of bad input (a clear error naming file, line and field, or a
documented repair with a warning), plus round trips through the writer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from saferoad.adapters.recording import RecordingWarning, open_recording, write_recording
from saferoad.adapters.recording.gps import read_gps_csv, read_gpx, read_nmea
from saferoad.adapters.recording.labels import read_ground_truth_csv, read_labels, read_labels_jsonl
from saferoad.adapters.recording.saferoad_format import read_can_csv, read_imu_csv, read_meta
from saferoad.domain.recording import Mounting, RecordingMeta
from saferoad.domain.types import EventLabel, G, GpsSeries, ImuSeries, SpeedSeries

HEADER = "t_s,ax,ay,az,gx,gy,gz\n"


def rows(n: int = 20, dt: float = 0.01, az: float = 9.81) -> list[str]:
    return [f"{i * dt:.3f},0.1,-0.05,{az},0.001,0,0\n" for i in range(n)]


def write(p: Path, text: str) -> Path:
    p.write_text(text)
    return p


def test_imu_ok(tmp_path: Path) -> None:
    imu = read_imu_csv(write(tmp_path / "imu.csv", HEADER + "".join(rows())))
    assert len(imu) == 20 and imu.gyro is not None
    assert imu.acc[3, 2] == pytest.approx(9.81)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"imu\.csv: file not found"):
        read_imu_csv(tmp_path / "imu.csv")


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"imu\.csv: empty file"):
        read_imu_csv(write(tmp_path / "imu.csv", ""))


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"imu\.csv: no data rows"):
        read_imu_csv(write(tmp_path / "imu.csv", HEADER))


def test_missing_column(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"imu\.csv:1: missing column\(s\) az"):
        read_imu_csv(write(tmp_path / "imu.csv", "t_s,ax,ay\n0,1,2\n"))


def test_malformed_value_names_line_and_field(tmp_path: Path) -> None:
    r = rows()
    r[6] = "0.060,0.1,abc,9.81,0,0,0\n"
    with pytest.raises(ValueError, match=r"imu\.csv:8: field 'ay': not a number: 'abc'"):
        read_imu_csv(write(tmp_path / "imu.csv", HEADER + "".join(r)))


def test_wrong_field_count_names_line(tmp_path: Path) -> None:
    r = rows()
    r[3] = "0.030,0.1,9.81\n"
    with pytest.raises(ValueError, match=r"imu\.csv:5: expected 7 fields, found 3"):
        read_imu_csv(write(tmp_path / "imu.csv", HEADER + "".join(r)))


def test_nan_names_line_and_field(tmp_path: Path) -> None:
    r = rows()
    r[9] = "0.090,0.1,-0.05,nan,0,0,0\n"
    with pytest.raises(ValueError, match=r"imu\.csv:11: field 'az': not a finite number"):
        read_imu_csv(write(tmp_path / "imu.csv", HEADER + "".join(r)))


def test_empty_required_field_names_line(tmp_path: Path) -> None:
    r = rows()
    r[2] = "0.020,,-0.05,9.81,0,0,0\n"
    with pytest.raises(ValueError, match=r"imu\.csv:4: field 'ax'"):
        read_imu_csv(write(tmp_path / "imu.csv", HEADER + "".join(r)))


def test_non_monotonic_sorted_with_warning(tmp_path: Path) -> None:
    r = rows()
    r[4], r[5] = r[5], r[4]
    with pytest.warns(RecordingWarning, match="out of order: sorted"):
        imu = read_imu_csv(write(tmp_path / "imu.csv", HEADER + "".join(r)))
    assert np.all(np.diff(imu.t_s) > 0) and len(imu) == 20


def test_duplicates_dropped_with_warning(tmp_path: Path) -> None:
    r = rows()
    r.insert(7, r[7].replace("0.1,", "0.7,", 1))
    with pytest.warns(RecordingWarning, match="1 repeated IMU timestamp"):
        imu = read_imu_csv(write(tmp_path / "imu.csv", HEADER + "".join(r)))
    assert len(imu) == 20 and imu.acc[7, 0] == pytest.approx(0.7)  # the first one is kept


def test_gap_warned(tmp_path: Path) -> None:
    r = rows(100)
    del r[10:80]
    with pytest.warns(RecordingWarning, match=r"1 gap\(s\).*longest 0\.71 s"):
        imu = read_imu_csv(write(tmp_path / "imu.csv", HEADER + "".join(r)))
    assert len(imu) == 30


def test_units_in_g_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"imu\.csv: fields 'ax','ay','az'.*looks like g"):
        read_imu_csv(write(tmp_path / "imu.csv", HEADER + "".join(rows(az=1.0))))


def test_units_in_g_scaled_when_declared(tmp_path: Path) -> None:
    imu = read_imu_csv(write(tmp_path / "imu.csv", HEADER + "".join(rows(az=1.0))), units="g")
    assert imu.acc[0, 2] == pytest.approx(G)


def test_not_gravity_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not near gravity"):
        read_imu_csv(write(tmp_path / "imu.csv", HEADER + "".join(rows(az=0.0))))


def test_can_negative_speed(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"can\.csv: data row 2: field 'speed_mps': negative"):
        read_can_csv(write(tmp_path / "can.csv", "t_s,speed_mps\n0,1\n0.1,-2\n"))


def test_gps_csv_optional_fields_empty(tmp_path: Path) -> None:
    g = read_gps_csv(write(tmp_path / "gps.csv", "t_s,lat,lon,speed_mps,course_deg,alt_m\n0,35,139,,,\n1,35.0001,139,5.0,90,\n"))
    assert np.isnan(g.speed_mps[0]) and g.speed_mps[1] == 5.0


def test_gps_csv_bad_latitude(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"gps\.csv: fix 2: field 'lat'"):
        read_gps_csv(write(tmp_path / "gps.csv", "t_s,lat,lon\n0,35,139\n1,95,139\n"))


NMEA = """$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A
$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47
$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48
"""


def nmea(body: str) -> str:
    cs = 0
    for ch in body:
        cs ^= ord(ch)
    return f"${body}*{cs:02X}\n"


NMEA += nmea("GPRMC,123520,A,4807.048,N,01131.000,E,022.4,084.4,230394,003.1,W")


def test_nmea_rmc_gga_vtg(tmp_path: Path) -> None:
    start = datetime(1994, 3, 23, 12, 35, 0, tzinfo=UTC)
    g = read_nmea(write(tmp_path / "gps.nmea", NMEA), start)
    assert list(g.t_s) == [19.0, 20.0]
    assert g.lat[0] == pytest.approx(48.1173)
    assert g.speed_mps[0] == pytest.approx(22.4 * 1852 / 3600)
    assert g.alt_m[0] == pytest.approx(545.4)


def test_nmea_bad_checksum_names_line(tmp_path: Path) -> None:
    bad = NMEA.replace("*47", "*48")
    with pytest.raises(ValueError, match=r"gps\.nmea:2: bad NMEA sentence: checksum"):
        read_nmea(write(tmp_path / "gps.nmea", bad))


def test_nmea_garbage_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"gps\.nmea:2: not an NMEA 0183 sentence"):
        read_nmea(write(tmp_path / "gps.nmea", NMEA.splitlines()[0] + "\nhello\n"))


def test_nmea_empty(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"gps\.nmea: empty file"):
        read_nmea(write(tmp_path / "gps.nmea", "\n"))


GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">
<trk><trkseg>
<trkpt lat="35.0" lon="139.0"><ele>10</ele><time>2026-01-01T00:00:01Z</time></trkpt>
<trkpt lat="35.0001" lon="139.0"><ele>11</ele><time>2026-01-01T00:00:02Z</time></trkpt>
</trkseg></trk></gpx>
"""


def test_gpx_points(tmp_path: Path) -> None:
    g = read_gpx(write(tmp_path / "gps.gpx", GPX), datetime(2026, 1, 1, tzinfo=UTC))
    assert list(g.t_s) == [1.0, 2.0] and g.alt_m[1] == 11
    assert np.isnan(g.speed_mps).all()  # no <speed>: ego speed differentiates positions


def test_gpx_missing_time(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"gps\.gpx: track point 2: field 'time': missing"):
        read_gpx(write(tmp_path / "gps.gpx", GPX.replace("<time>2026-01-01T00:00:02Z</time>", "")))


def test_gpx_not_xml(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"gps\.gpx: not valid GPX"):
        read_gpx(write(tmp_path / "gps.gpx", "<gpx><trk>"))


def test_labels_jsonl_errors(tmp_path: Path) -> None:
    p = write(tmp_path / "labels.jsonl", '{"type": "harsh_braking", "start_s": 1, "end_s": 2}\n{"type": "nope", "start_s": 1, "end_s": 2}\n')
    with pytest.raises(ValueError, match=r"labels\.jsonl:2: field 'type': unknown event type 'nope'"):
        read_labels_jsonl(p)
    p = write(tmp_path / "labels.jsonl", '{"type": "harsh_braking", "start_s": 1}\n')
    with pytest.raises(ValueError, match=r"labels\.jsonl:1: field 'end_s': missing"):
        read_labels_jsonl(p)
    p = write(tmp_path / "labels.jsonl", "{nope\n")
    with pytest.raises(ValueError, match=r"labels\.jsonl:1: not valid JSON"):
        read_labels_jsonl(p)


def test_events_jsonl_errors(tmp_path: Path) -> None:
    from saferoad.adapters.outputs.files import read_events

    ok = '{"type": "harsh_braking", "start_s": 1, "end_s": 2}\n\n'
    assert len(read_events(write(tmp_path / "events.jsonl", ok))) == 1
    with pytest.raises(ValueError, match=r"events\.jsonl:3: not valid JSON"):
        read_events(write(tmp_path / "events.jsonl", ok + "{nope\n"))
    with pytest.raises(ValueError, match=r"events\.jsonl:3: expected a JSON object"):
        read_events(write(tmp_path / "events.jsonl", ok + "[1, 2]\n"))
    with pytest.raises(ValueError, match=r"events\.jsonl:1: not a valid event"):
        read_events(write(tmp_path / "events.jsonl", '{"type": "nope", "start_s": 1, "end_s": 2}\n'))


def test_ground_truth_csv(tmp_path: Path) -> None:
    p = write(tmp_path / "groundTruth.csv", "evento, inicio, fim\ncurva_esquerda_agressiva,1,3\nevento_nao_agressivo,5,6\n")
    labs = read_ground_truth_csv(p)
    assert labs[0] == EventLabel("harsh_cornering", 1.0, 3.0, labs[0].direction)
    assert labs[0].direction is not None and labs[0].direction.value == "left"
    assert labs[1].is_normal
    bad = write(tmp_path / "gt2.csv", "evento, inicio, fim\nfreada_agressiva,1,x\n")
    with pytest.raises(ValueError, match=r"gt2\.csv:2: fields 'inicio','fim'"):
        read_ground_truth_csv(bad)
    bad = write(tmp_path / "gt3.csv", "evento, inicio, fim\nderrapagem,1,2\n")
    with pytest.raises(ValueError, match=r"gt3\.csv:2: field 'evento': unknown event 'derrapagem'"):
        read_ground_truth_csv(bad)


def test_meta_requires_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"meta\.toml: \[recording\] start_utc is required"):
        read_meta(write(tmp_path / "meta.toml", "[recording]\ntimezone = 'UTC'\n"))
    with pytest.raises(ValueError, match=r"meta\.toml: not valid TOML"):
        read_meta(write(tmp_path / "meta.toml", "[recording\n"))
    with pytest.raises(ValueError, match=r"mounting"):
        read_meta(write(tmp_path / "meta.toml", "[recording]\nstart_utc = 2026-01-01T00:00:00Z\n[imu]\nmounting = [[1,0,0],[0,1,0],[0,1,0]]\n"))


def test_open_recording_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_recording(tmp_path / "nope")
    with pytest.raises(ValueError, match="not a recording folder"):
        open_recording(tmp_path)
    (tmp_path / "meta.toml").write_text("[recording]\nstart_utc = 2026-01-01T00:00:00Z\n")
    with pytest.raises(ValueError, match=r"neither imu\.csv nor a GPS file"):
        open_recording(tmp_path)


def test_write_read_round_trip(tmp_path: Path) -> None:
    t = np.arange(0, 5, 0.01)
    acc = np.column_stack([np.sin(t), np.cos(t), np.full_like(t, 9.8)])
    gyro = np.column_stack([t * 0, t * 0 + 0.01, t * 0])
    rot = np.array([[0.0, 1, 0], [-1, 0, 0], [0, 0, 1]])
    meta = RecordingMeta(vehicle_id="V1", driver_id="D1", start_utc=datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC), timezone="Asia/Tokyo", mounting=Mounting(rot))
    tg = np.arange(0, 5, 1.0)
    gps = GpsSeries(tg, 35 + tg * 1e-4, 139 + tg * 0, tg, np.full(5, np.nan), np.full(5, 3.0))
    labels = [EventLabel("harsh_braking", 1.0, 2.0), EventLabel("normal", 3.0, 4.0)]
    folder = write_recording(tmp_path / "rec", meta, ImuSeries(t, acc, gyro), gps, SpeedSeries(tg, tg * 2, "can"), labels)
    rec = open_recording(folder)
    assert rec.source_format == "saferoad"
    assert rec.meta.vehicle_id == "V1" and rec.meta.timezone == "Asia/Tokyo"
    assert rec.meta.start_utc == meta.start_utc
    assert rec.meta.mounting.rotation is not None and np.allclose(rec.meta.mounting.rotation, rot)
    assert rec.imu is not None and np.allclose(rec.imu.acc, acc) and np.allclose(rec.imu.t_s, t)
    assert rec.gps is not None and np.isnan(rec.gps.course_deg).all() and np.allclose(rec.gps.speed_mps, tg)
    assert rec.can_speed is not None and np.allclose(rec.can_speed.speed_mps, tg * 2)
    assert rec.labels == tuple(labels)
    assert read_labels(folder) == labels


def test_gyro_partly_missing_names_line(tmp_path: Path) -> None:
    r = rows()
    r[5] = "0.050,0.1,-0.05,9.81,,0,0\n"
    with pytest.raises(ValueError, match=r"imu\.csv:7: field 'gx'"):
        read_imu_csv(write(tmp_path / "imu.csv", HEADER + "".join(r)))


def test_gyro_columns_empty_means_no_gyro(tmp_path: Path) -> None:
    body = "".join(f"{i * 0.01:.3f},0.1,-0.05,9.81,,,\n" for i in range(10))
    imu = read_imu_csv(write(tmp_path / "imu.csv", HEADER + body))
    assert imu.gyro is None
