"""driverBehaviorDataset and comma2k19 readers: property tests on generated folders, the real
folders, and their bad input."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoad.adapters.recording import detect_format, open_recording
from saferoad.adapters.recording.comma2k19 import read_comma2k19
from saferoad.adapters.recording.driver_behavior import read_driver_behavior

T0_NS = 12_892_910_069_993


def _dbd_folder(acc_t_ns: np.ndarray, acc: np.ndarray, gyro_t_ns: np.ndarray, gyro: np.ndarray) -> Path:
    d = Path(tempfile.mkdtemp(prefix="dbd-"))
    (d / "viagem.json").write_text(json.dumps({"firstCollectionUptimeNanos": T0_NS, "start": "2016-05-14 11:17:08.871-0300"}))
    for name, t, v in (("acelerometro_terra.csv", acc_t_ns, acc), ("giroscopio_terra.csv", gyro_t_ns, gyro)):
        lines = ["timestamp,uptimeNanos,x,y,z"]
        lines += [f"14/05/2016 11:17:09,{int(ti)},{float(a)!r},{float(b)!r},{float(c)!r}" for ti, (a, b, c) in zip(t, v, strict=True)]
        (d / name).write_text("\n".join(lines) + "\n")
    (d / "groundTruth.csv").write_text("evento, inicio, fim\nfreada_agressiva,1.5,2.5\n")
    return d


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 80), st.integers(5_000_000, 40_000_000), st.floats(-3, 3), st.floats(-1, 1))
def test_dbd_times_and_gyro_interpolation(n: int, dt_ns: int, ax: float, wz: float) -> None:
    t_ns = T0_NS + 1_000_000 + np.arange(n, dtype=np.int64) * dt_ns
    acc = np.column_stack([np.full(n, ax), np.zeros(n), np.full(n, 9.8)])
    gyro = np.column_stack([np.zeros(n), np.zeros(n), np.full(n, wz)])
    d = _dbd_folder(t_ns, acc, t_ns + dt_ns // 2, gyro)
    rec = read_driver_behavior(d)
    assert rec.source_format == "driver-behavior-dataset" and detect_format(d) == rec.source_format
    assert rec.imu is not None and rec.imu.frame == "earth"
    assert np.allclose(rec.imu.t_s, (t_ns - T0_NS) * 1e-9, atol=1e-9)
    assert np.allclose(rec.imu.acc[:, 0], ax)
    assert rec.imu.gyro is not None and np.allclose(rec.imu.gyro[:, 2], wz)
    assert rec.labels is not None and rec.labels[0].type == "harsh_braking"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"start": "x"}', r"viagem\.json: field 'firstCollectionUptimeNanos': missing"),
        ("[1, 2]", r"viagem\.json: field 'firstCollectionUptimeNanos': missing"),
        ('{"firstCollectionUptimeNanos": "soon"}', r"firstCollectionUptimeNanos': expected an integer \(ns\), got 'soon'"),
        ('{"firstCollectionUptimeNanos": 1,', r"viagem\.json:1: not valid JSON"),
    ],
)
def test_dbd_bad_viagem(tmp_path: Path, text: str, message: str) -> None:
    d = _dbd_folder(T0_NS + np.arange(5) * 10_000_000, np.tile([0, 0, 9.8], (5, 1)), T0_NS + np.arange(5) * 10_000_000, np.zeros((5, 3)))
    (d / "viagem.json").write_text(text)
    with pytest.raises(ValueError, match=message):
        read_driver_behavior(d)


def test_dbd_malformed_row_names_line(tmp_path: Path) -> None:
    d = _dbd_folder(T0_NS + np.arange(5) * 10_000_000, np.tile([0.0, 0.0, 9.8], (5, 1)), T0_NS + np.arange(5) * 10_000_000, np.zeros((5, 3)))
    p = d / "acelerometro_terra.csv"
    lines = p.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",oops"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"acelerometro_terra\.csv:4: field 'z': not a number: 'oops'"):
        read_driver_behavior(d)


def _comma_folder(n: int, t0: float, speed: np.ndarray) -> Path:
    d = Path(tempfile.mkdtemp(prefix="comma-"))
    log = d / "processed_log"

    def save(rel: str, t: np.ndarray, v: np.ndarray) -> None:
        (log / rel).mkdir(parents=True, exist_ok=True)
        for name, arr in (("t", t), ("value", v)):
            with (log / rel / name).open("wb") as fh:
                np.save(fh, arr)

    t = t0 + np.arange(n) * 0.01
    save("CAN/speed", t, speed.reshape(-1, 1))
    save("IMU/accelerometer", t + 0.003, np.tile([0.5, 0.0, -9.8], (n, 1)))
    save("IMU/gyro", t + 0.003, np.tile([0.0, 0.0, 0.1], (n, 1)))
    gnss = np.column_stack([np.full(n, 37.7), np.full(n, -122.4), speed, 1.5e12 + np.arange(n) * 10.0, np.full(n, 30.0), np.full(n, 90.0)])
    save("GNSS/live_gnss_ublox", t, gnss)
    save("CAN/radar", t, np.tile([30.0, 0.1, -1.0, np.nan, np.nan, 512, 0], (n, 1)))
    return d


@settings(max_examples=20, deadline=None)
@given(st.integers(3, 100), st.floats(0, 1e5), st.floats(0, 40))
def test_comma_time_zero_and_series(n: int, t0: float, v: float) -> None:
    speed = np.full(n, v)
    rec = read_comma2k19(_comma_folder(n, t0, speed))
    assert rec.source_format == "comma2k19"
    assert rec.can_speed is not None and rec.can_speed.t_s[0] == 0.0 and np.allclose(rec.can_speed.speed_mps, v)
    assert rec.imu is not None and rec.imu.frame == "device" and np.allclose(rec.imu.t_s[0], 0.003)
    assert rec.gps is not None and np.allclose(rec.gps.lat, 37.7)
    assert rec.extras["radar"].shape == (n, 7) and rec.extras["radar_t_s"][0] == 0.0


def test_comma_mismatched_lengths(tmp_path: Path) -> None:
    d = _comma_folder(10, 5.0, np.ones(10))
    with (d / "processed_log/CAN/speed/value").open("wb") as fh:
        np.save(fh, np.ones((9, 1)))
    with pytest.raises(ValueError, match=r"CAN/speed: t has 10 rows, value has 9"):
        read_comma2k19(d)


def test_real_folders_detected(shared_dir: Path) -> None:
    trip = shared_dir / "data/imu/driver-behavior-dataset/trip17"
    rec = open_recording(trip)
    assert rec.source_format == "driver-behavior-dataset"
    assert rec.imu is not None and 400 < rec.imu.duration_s < 410
    assert rec.labels is not None and len(rec.labels) == 14
    comma = open_recording(shared_dir / "data/comma2k19-segment")
    assert comma.source_format == "comma2k19"
    assert comma.can_speed is not None and comma.can_speed.speed_mps[0] == pytest.approx(7.97, abs=0.01)
    assert "radar" in comma.extras
