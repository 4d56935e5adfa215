"""The input defects real drives exposed (issue 15, item 4), one test each, and harsh
acceleration on a phone's gravity-removed, high-passed signal with GPS (item 2)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from saferoad.adapters.recording import open_recording, write_recording
from saferoad.adapters.recording.gps import read_gps_csv
from saferoad.adapters.recording.saferoad_format import read_meta
from saferoad.application.stages.motion import params_from_config
from saferoad.config import load_config
from saferoad.domain.motion.engine import EngineParams, run_engine
from saferoad.domain.motion.highpass import highpass
from saferoad.domain.recording import Mounting, RecordingMeta
from saferoad.domain.types import G, GpsSeries, ImuSeries

from .conftest import Drive, make_drive

GPS_HEADER = "t_s,lat,lon,speed_mps,course_deg,alt_m\n"


def write(p: Path, text: str) -> Path:
    p.write_text(text)
    return p


def types(res_events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.type.value for e in res_events]


# ------------------------------------------------------------------ gps.csv


@pytest.mark.parametrize(
    ("row", "field", "what"),
    [
        ("1,35.0001,139,-0.5,90,", "speed_mps", "negative speed"),
        ("1,35.0001,139,5,360.5,", "course_deg", "course outside 0-360"),
        ("1,35.0001,139,5,-1,", "course_deg", "course outside 0-360"),
    ],
)
def test_gps_csv_refuses_negative_speed_and_course_off_the_compass(tmp_path: Path, row: str, field: str, what: str) -> None:
    p = write(tmp_path / "gps.csv", GPS_HEADER + "0,35,139,5,0,\n" + row + "\n")
    with pytest.raises(ValueError, match=rf"gps\.csv: data row 2: field '{field}': {what}"):
        read_gps_csv(p)


def test_gps_csv_accepts_the_compass_ends_and_empty_fields(tmp_path: Path) -> None:
    g = read_gps_csv(write(tmp_path / "gps.csv", GPS_HEADER + "0,35,139,0,0,\n1,35.0001,139,5,360,\n2,35.0002,139,,,\n"))
    assert g.course_deg[1] == 360.0 and np.isnan(g.speed_mps[2]) and np.isnan(g.course_deg[2])


# ------------------------------------------------------------------ mounting


REFLECTION = [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]]  # y mirrored: left is right


def test_a_reflection_is_not_a_mounting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reflection, not a rotation"):
        Mounting.from_rows(REFLECTION)
    Mounting.from_rows([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # a real rotation
    meta = write(
        tmp_path / "meta.toml",
        '[recording]\nstart_utc = 2026-11-20T08:00:00Z\n[imu]\nmounting = [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]]\n',
    )
    with pytest.raises(ValueError, match=r"meta\.toml: \[imu\] mounting: mounting is a reflection"):
        read_meta(meta)
    cfg = load_config(overrides={"motion": {"mounting": REFLECTION}}).motion
    with pytest.raises(ValueError, match=r"motion\.mounting: mounting is a reflection"):
        params_from_config(cfg)


# ------------------------------------------------------------------ gravity removed, declared


def phone_log(d: Drive, tau_s: float | None) -> tuple[ImuSeries, GpsSeries]:
    """``d`` as a phone logs it: Earth-frame linear acceleration (gravity removed), the
    horizontal part high-passed by its sensor fusion (tau_s), no gyroscope; GPS at 1 Hz."""
    th = d.heading
    ax = d.a_long * np.cos(th) - d.a_lat * np.sin(th)
    ay = d.a_long * np.sin(th) + d.a_lat * np.cos(th)
    h = np.column_stack([ax, ay])
    if tau_s is not None:
        h = highpass(h, tau_s, 100.0)
    rng = np.random.default_rng(0)
    acc = np.column_stack([h, np.zeros_like(ax)]) + rng.normal(0, 0.05, (ax.size, 3))
    imu = ImuSeries(d.imu.t_s, acc, None, frame="earth", gravity_removed=True, horizontal_highpass_tau_s=tau_s)
    g, k = d.gps, slice(None, None, 10)
    return imu, GpsSeries(g.t_s[k], g.lat[k], g.lon[k], g.speed_mps[k], g.course_deg[k], g.alt_m[k])


def test_saferoad_format_declares_gravity_removed_and_its_highpass(tmp_path: Path) -> None:
    imu, gps = phone_log(make_drive(seed=3, noise=0.05), 1.0)
    meta = RecordingMeta(start_utc=datetime(2026, 11, 20, 8, tzinfo=UTC))
    rec = open_recording(write_recording(tmp_path / "rec", meta, imu, gps))
    assert rec.imu is not None
    assert rec.imu.frame == "earth" and rec.imu.gravity_removed
    assert rec.imu.horizontal_highpass_tau_s == pytest.approx(1.0)
    assert "highpass_tau_s = 1.0" in (tmp_path / "rec/meta.toml").read_text()


@pytest.mark.parametrize(
    ("imu_table", "message"),
    [
        ("highpass_tau_s = 1.0", r"\[imu\] highpass_tau_s: only with gravity_removed = true"),
        ('frame = "phone"', r"\[imu\] frame: 'phone' is not one of device, earth, vehicle"),
        ('gravity_removed = "yes"', r"\[imu\] gravity_removed: must be true or false"),
        ('gravity_removed = true\nframe = "earth"\nhighpass_tau_s = -1', r"\[imu\] highpass_tau_s: -1 out of range"),
    ],
)
def test_imu_declaration_errors_name_the_key(tmp_path: Path, imu_table: str, message: str) -> None:
    imu, gps = phone_log(make_drive(seed=3, noise=0.05), 1.0)
    folder = write_recording(tmp_path / "rec", RecordingMeta(start_utc=datetime(2026, 11, 20, 8, tzinfo=UTC)), imu, gps)
    text = (folder / "meta.toml").read_text()
    start = text.index("[imu]")
    end = text.find("\n[", start + 1)
    text = text[:start] + "[imu]\n" + imu_table + "\n" + (text[end + 1 :] if end >= 0 else "")
    (folder / "meta.toml").write_text(text)
    with pytest.raises(ValueError, match=r"meta\.toml: " + message):
        open_recording(folder)


def test_phone_highpassed_with_gps_finds_every_harsh_manoeuvre() -> None:
    """Item 2: the phone's high-passed push fades (a 2 s, 0.45 g acceleration peaks lower and
    ends in an opposite pulse); the GPS speed's derivative, low-passed with the source's own
    time constant, restores exactly what the high-pass removed. Without the declaration the
    acceleration is lost and the forward axis is flagged as poor."""
    d = make_drive(seed=3, noise=0.05)
    imu, gps = phone_log(d, 1.0)
    res = run_engine(imu, gps, None, EngineParams())
    assert res.mode == "signed" and res.frame is not None and res.frame.method == "gps-course"
    assert types(res.events) == ["harsh_braking", "harsh_acceleration", "harsh_cornering", "aggressive_lane_change"]
    acc = res.events[1]
    assert acc.start_s == pytest.approx(30.0, abs=0.5) and acc.peak["accel_g"] == pytest.approx(0.45, abs=0.05)
    assert not res.frame.poor and not res.limitations
    undeclared = run_engine(ImuSeries(imu.t_s, imu.acc, None, frame="earth", gravity_removed=True), gps, None, EngineParams())
    assert "harsh_acceleration" not in types(undeclared.events)
    assert undeclared.frame is not None and undeclared.frame.poor


def test_phone_device_frame_without_gravity_is_oriented_by_the_gps() -> None:
    """A phone's linear acceleration in its own axes (gravity removed, so gravity cannot give
    up), high-passed, no gyroscope, GPS at 1 Hz: forward and left are fitted jointly against
    dv/dt and v·ω (orthogonal Procrustes); without GPS it cannot be oriented and says so."""
    d = make_drive(seed=3, noise=0.05)
    car = np.column_stack([highpass(np.column_stack([d.a_long, d.a_lat]), 1.0, 100.0), np.zeros_like(d.a_long)])
    acc = car @ d.rotation + np.random.default_rng(3).normal(0, 0.05, car.shape)
    imu = ImuSeries(d.imu.t_s, acc, None, frame="device", gravity_removed=True, horizontal_highpass_tau_s=1.0)
    _, gps = phone_log(d, 1.0)
    res = run_engine(imu, gps, None, EngineParams())
    assert res.frame is not None and res.frame.method == "gps-regression" and res.frame.rotation is not None
    err = np.degrees(np.arccos(np.clip(res.frame.rotation[0] @ d.rotation[0], -1, 1)))
    assert err < 3.0 and not res.frame.poor
    got = [(e.type.value, e.direction.value if e.direction else None) for e in res.events]
    assert got == [("harsh_braking", None), ("harsh_acceleration", None), ("harsh_cornering", "left"), ("aggressive_lane_change", "right")]
    with pytest.raises(ValueError, match="cannot be oriented without GPS speed"):
        run_engine(imu, None, None, EngineParams())


@pytest.mark.parametrize("with_gps", [True, False])
def test_raw_dashcam_imu_finds_harsh_acceleration(with_gps: bool) -> None:
    """Item 2 on a raw dashcam IMU (gravity in, gyroscope, unknown mounting), with and without
    GPS: the 0.45 g push of make_drive is found, typed and timed."""
    d = make_drive(seed=4)
    res = run_engine(d.imu, d.gps if with_gps else None, None, EngineParams())
    accs = [e for e in res.events if e.type.value == "harsh_acceleration"]
    assert len(accs) == 1 and accs[0].start_s == pytest.approx(30.0, abs=0.5)


# ------------------------------------------------------------------ heading change, cornering


def test_without_gyroscope_heading_change_comes_from_the_gps_course() -> None:
    d = make_drive(seed=3)
    imu = ImuSeries(d.imu.t_s, d.imu.acc, None, frame="device")
    res = run_engine(imu, d.gps, None, EngineParams())
    assert res.mode == "signed"
    turn = next(e for e in res.events if e.type.value == "harsh_cornering")
    assert turn.peak["heading_change_deg"] == pytest.approx(90.0, abs=10.0)
    assert turn.direction is not None and turn.direction.value == "left"
    lane = next(e for e in res.events if e.type.value == "aggressive_lane_change")
    assert abs(lane.peak["heading_change_deg"]) < 30.0 and lane.direction is not None and lane.direction.value == "right"


def lateral_imu(v: float, peak_g: float, hold_s: float) -> tuple[ImuSeries, float]:
    """Vehicle-frame IMU at 100 Hz of one left turn at speed v: lateral acceleration peak_g
    held hold_s between 0.5 s ramps, yaw rate = a_lat / v. Returns the IMU and the heading
    change in degrees."""
    hz = 100.0
    t = np.arange(0.0, 20.0, 1.0 / hz)
    ramp = np.clip((t - 5.0) / 0.5, 0, 1) * np.clip((5.0 + 1.0 + hold_s - t) / 0.5, 0, 1)
    a_lat = peak_g * G * ramp
    w = a_lat / v
    acc = np.column_stack([np.zeros_like(t), a_lat, np.full_like(t, G)])
    gyro = np.column_stack([np.zeros_like(t), np.zeros_like(t), w])
    return ImuSeries(t, acc, gyro, frame="vehicle"), float(np.degrees(w.sum() / hz))


def test_cornering_needs_the_documented_heading_change() -> None:
    """docs/events.md: harsh cornering is a lateral manoeuvre whose heading changes by
    turn_min_deg (30°) or more; a one-sided 0.45 g pulse at 25 m/s turning 13° is a curve."""
    curve, dpsi = lateral_imu(25.0, 0.45, 0.5)
    assert dpsi < 30
    assert run_engine(curve, None, None, EngineParams()).events == []
    turn, dpsi = lateral_imu(8.0, 0.45, 2.5)
    assert dpsi > 30
    ev = run_engine(turn, None, None, EngineParams()).events
    assert types(ev) == ["harsh_cornering"] and 30 < ev[0].peak["heading_change_deg"] <= dpsi  # over its pulse
    # Without any yaw rate the heading change is unknown, not 0.0: the key is left out.
    blind = ImuSeries(curve.t_s, curve.acc, None, frame="vehicle")
    ev = run_engine(blind, None, None, EngineParams()).events
    assert types(ev) == ["harsh_cornering"] and "heading_change_deg" not in ev[0].peak


# ------------------------------------------------------------------ forward axis


def test_poor_forward_axis_is_warned_and_lowers_confidence() -> None:
    """A device-frame drive with only straight pushes, no GPS: the forward axis rests on the
    yaw rate of turns there are none of; its jackknife error is large: a limitation says so
    and the events' confidence is scaled down. With GPS speed the same drive's axis is good."""
    d = make_drive(seed=2)
    keep = d.imu.t_s < 40.0  # the harsh braking (20 s) and acceleration (30 s), no turn
    imu = ImuSeries(d.imu.t_s[keep], d.imu.acc[keep], d.imu.gyro[keep] if d.imu.gyro is not None else None, frame="device")
    blind = run_engine(imu, None, None, EngineParams())
    assert blind.frame is not None and blind.frame.poor
    assert any("poor forward-axis estimate" in x for x in blind.limitations)
    keepg = d.gps.t_s < 40.0
    g = d.gps
    gps = GpsSeries(g.t_s[keepg], g.lat[keepg], g.lon[keepg], g.speed_mps[keepg], g.course_deg[keepg], g.alt_m[keepg])
    good = run_engine(imu, gps, None, EngineParams())
    assert good.frame is not None and not good.frame.poor and good.frame.angle_se_deg is not None
    assert good.frame.angle_se_deg < 5.0
    assert not any("poor" in x for x in good.limitations)
    for e in blind.events:
        assert e.evidence["frame_angle_se_deg"] > 9.0
        assert e.confidence <= 0.75
