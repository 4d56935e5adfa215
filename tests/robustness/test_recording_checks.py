"""Defects 1, 5 and 6 of issue #14: stray timestamps, nonsense in meta.toml and the sensors,
errors that name no file. Each bad input is a clear error naming file/line/field, or a
documented repair with a warning whose result matches the undamaged recording."""

from __future__ import annotations

import json
import re
import tracemalloc
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from saferoad.adapters.recording import RecordingWarning, open_recording
from saferoad.adapters.recording.series import check_clocks
from saferoad.config import load_config
from saferoad.entrypoints.cli.app import app
from saferoad.entrypoints.wiring import analyze_recording


def _analyze(rec: Path) -> dict[str, object]:
    return analyze_recording(open_recording(rec), load_config(None, [])).summary


def _append_row(path: Path, row: str) -> None:
    with path.open("a") as fh:
        fh.write(row + "\n")


def _imu_row(t: float) -> str:
    return f"{t},0.1,0.0,9.81,0,0,0"


def _undeclare(rec: Path) -> Path:
    """``rec`` as a file written before ``[recording] duration_s`` existed (no declared duration)."""
    meta = rec / "meta.toml"
    text = meta.read_text()
    assert re.search(r"^duration_s = ", text, re.M)
    meta.write_text(re.sub(r"^duration_s = .*\n", "", text, flags=re.M))
    return rec


@pytest.mark.parametrize("t", [100_000.0, -5_000.0, 1e9])
def test_a_stray_imu_timestamp_is_dropped_and_memory_does_not_follow_it(braking_rec: Path, t: float) -> None:
    _undeclare(braking_rec)  # the clock-jump check alone; with a declared duration see below
    clean = _analyze(braking_rec)
    n_rows = len((braking_rec / "imu.csv").read_text().splitlines()) - 1
    _append_row(braking_rec / "imu.csv", _imu_row(t))
    tracemalloc.start()
    with pytest.warns(RecordingWarning, match=rf"imu\.csv: data row\(s\) {n_rows + 1}: field 't_s'.*clock jump") as record:
        damaged = _analyze(braking_rec)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert damaged["distance_km"] == pytest.approx(clean["distance_km"], rel=1e-6)
    assert damaged["event_counts"] == clean["event_counts"]
    assert damaged["duration_s"] == pytest.approx(clean["duration_s"])
    assert peak < 200e6  # a 1e9 s span at 200 Hz would need terabytes
    assert len(record) == 1  # the dropped row is not also reported as out of order


def test_a_stray_gps_fix_time_is_dropped(braking_rec: Path) -> None:
    _undeclare(braking_rec)
    clean = _analyze(braking_rec)
    last = (braking_rec / "gps.csv").read_text().splitlines()[-1].split(",")
    _append_row(braking_rec / "gps.csv", ",".join(["100000", *last[1:]]))
    with pytest.warns(RecordingWarning, match=r"gps\.csv: data row\(s\) \d+: field 't_s'"):
        damaged = _analyze(braking_rec)
    assert damaged["distance_km"] == pytest.approx(clean["distance_km"], rel=1e-6)


def test_a_clock_that_jumps_for_a_long_stretch_is_refused(braking_rec: Path) -> None:
    _undeclare(braking_rec)
    rows = [_imu_row(1e6 + 0.01 * i) for i in range(200)]  # 2 s of samples a million s later
    _append_row(braking_rec / "imu.csv", "\n".join(rows))
    with pytest.raises(ValueError, match=r"imu\.csv: field 't_s': the IMU samples cover .* span"):
        open_recording(braking_rec)


def test_clocks_that_never_overlap_are_refused(braking_rec: Path) -> None:
    _undeclare(braking_rec)
    lines = (braking_rec / "gps.csv").read_text().splitlines()
    shifted = [lines[0]] + [",".join([f"{float(r.split(',')[0]) + 5000:.3f}", *r.split(",")[1:]]) for r in lines[1:]]
    (braking_rec / "gps.csv").write_text("\n".join(shifted) + "\n")
    with pytest.raises(ValueError, match=r"gps\.csv: field 't_s'.*never overlap imu\.csv"):
        open_recording(braking_rec)


def test_a_gps_fix_thousands_of_km_away_is_dropped(braking_rec: Path) -> None:
    clean = _analyze(braking_rec)
    lines = (braking_rec / "gps.csv").read_text().splitlines()
    f = lines[10].split(",")
    f[1] = str(float(f[1]) - 70.0)  # ~7,800 km south
    lines[10] = ",".join(f)
    (braking_rec / "gps.csv").write_text("\n".join(lines) + "\n")
    with pytest.warns(RecordingWarning, match=r"gps\.csv: fix\(es\) 10: fields 'lat','lon'.*dropped"):
        damaged = _analyze(braking_rec)
    assert damaged["distance_km"] == pytest.approx(clean["distance_km"], rel=0.02)


def test_can_speed_that_disagrees_with_gps_is_not_used(braking_rec: Path) -> None:
    gps = open_recording(braking_rec).gps
    assert gps is not None
    clean = _analyze(braking_rec)
    speed_kmh = np.nan_to_num(gps.speed_mps) * 3.6  # km/h written where m/s is expected
    (braking_rec / "can.csv").write_text(
        "t_s,speed_mps\n" + "".join(f"{t:.3f},{v:.3f}\n" for t, v in zip(gps.t_s, speed_kmh, strict=True))
    )
    with pytest.warns(RecordingWarning, match=r"can\.csv: field 'speed_mps'.*CAN speed not used"):
        damaged = _analyze(braking_rec)
    assert damaged["speed_source"] == clean["speed_source"]
    assert damaged["distance_km"] == pytest.approx(clean["distance_km"], rel=1e-6)


def _declared(rec: Path) -> float:
    m = re.search(r"^duration_s = (\S+)$", (rec / "meta.toml").read_text(), re.M)
    assert m, "the simulator declares the recording's duration"
    return float(m.group(1))


def _shift_times(path: Path, scale: float = 1.0, offset: float = 0.0) -> None:
    lines = path.read_text().splitlines()
    body = [",".join([repr(float(r.split(",")[0]) * scale + offset), *r.split(",")[1:]]) for r in lines[1:]]
    path.write_text("\n".join([lines[0], *body]) + "\n")


def test_the_simulator_declares_a_duration_that_holds_every_sample(braking_rec: Path) -> None:
    duration = _declared(braking_rec)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecordingWarning)  # nothing outside it, nothing missing
        rec = open_recording(braking_rec)
    assert rec.imu is not None and rec.gps is not None
    for t in (rec.imu.t_s, rec.gps.t_s):
        assert t[0] >= 0.0 and t[-1] <= duration


@pytest.mark.parametrize(
    ("name", "at"), [("imu.csv", 5.0), ("imu.csv", -4.0), ("gps.csv", 30.0), ("gps.csv", -3.0), ("can.csv", 8.0)]
)
def test_a_sample_outside_the_declared_duration_is_dropped_naming_its_row(
    braking_rec: Path, name: str, at: float
) -> None:
    """A few seconds past the end (or before time zero): not a clock jump (find_gaps would keep
    it as a gap), but outside what meta.toml declares."""
    if name == "can.csv":  # the simulated drive has none: CAN speed as the GPS measured it
        gps = open_recording(braking_rec).gps
        assert gps is not None
        (braking_rec / "can.csv").write_text(
            "t_s,speed_mps\n" + "".join(f"{t:.3f},{v:.3f}\n" for t, v in zip(gps.t_s, np.nan_to_num(gps.speed_mps), strict=True))
        )
    clean = _analyze(braking_rec)
    duration = _declared(braking_rec)
    t = duration + at if at > 0 else at
    path = braking_rec / name
    last = path.read_text().splitlines()[-1].split(",")
    n_rows = len(path.read_text().splitlines()) - 1
    _append_row(path, ",".join([f"{t:.3f}", *last[1:]]))
    pattern = (
        rf"{re.escape(name)}: data row\(s\) {n_rows + 1}: field 't_s': 1 \w+ sample\(s\) outside the declared "
        rf"duration 0\.\.{duration:g} s \(meta\.toml \[recording\] duration_s, \+-2\.0 s\) \(t_s {t:g}\): dropped"
    )
    with pytest.warns(RecordingWarning, match=pattern) as record:
        damaged = _analyze(braking_rec)
    assert not [w for w in record if "gap" in str(w.message) or "order" in str(w.message)]
    assert damaged["distance_km"] == pytest.approx(clean["distance_km"], rel=1e-6)
    assert damaged["event_counts"] == clean["event_counts"]
    assert damaged["duration_s"] == pytest.approx(clean["duration_s"])


def test_samples_just_past_the_declared_duration_are_within_the_tolerance(braking_rec: Path) -> None:
    duration = _declared(braking_rec)
    _append_row(braking_rec / "imu.csv", _imu_row(duration + 1.5))  # inside the 2 s tolerance
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordingWarning)  # the 1.5 s gap is reported as a gap
        rec = open_recording(braking_rec)
    assert rec.imu is not None and rec.imu.t_s[-1] == pytest.approx(duration + 1.5)


@pytest.mark.parametrize(("name", "scale", "offset"), [("imu.csv", 1000.0, 0.0), ("gps.csv", 1.0, 5000.0)])
def test_a_series_mostly_outside_the_declared_duration_is_refused(
    braking_rec: Path, name: str, scale: float, offset: float
) -> None:
    """Milliseconds written as seconds, or a clock of its own: dropping most of a file is not a
    repair."""
    _shift_times(braking_rec / name, scale, offset)
    with pytest.raises(
        ValueError, match=rf"{re.escape(name)}: field 't_s': \d+ of \d+ \w+ samples .* lie outside the declared duration.*refused"
    ):
        open_recording(braking_rec)


def test_a_declared_duration_the_sensors_do_not_fill_is_refused_or_reported(braking_rec: Path) -> None:
    duration = _declared(braking_rec)
    meta = braking_rec / "meta.toml"
    text = meta.read_text()
    meta.write_text(text.replace(f"duration_s = {duration!r}", f"duration_s = {duration * 1000!r}"))
    with pytest.raises(ValueError, match=r"meta\.toml: \[recording\] duration_s: .* end at .*not in seconds"):
        open_recording(braking_rec)
    meta.write_text(text.replace(f"duration_s = {duration!r}", f"duration_s = {duration + 30!r}"))
    with pytest.warns(RecordingWarning, match=r"meta\.toml: \[recording\] duration_s: .* the last 3\d\.\d s of the drive have no sensor data"):
        open_recording(braking_rec)


@pytest.mark.parametrize(("value", "message"), [("-20.0", r"-20\.0 out of range"), ("0", r"0 out of range"), ('"20 s"', r"must be a number, got '20 s'")])
def test_a_bad_declared_duration_names_the_key(braking_rec: Path, value: str, message: str) -> None:
    meta = braking_rec / "meta.toml"
    meta.write_text(re.sub(r"^duration_s = .*$", f"duration_s = {value}", meta.read_text(), flags=re.M))
    with pytest.raises(ValueError, match=r"meta\.toml: \[recording\] duration_s: " + message):
        open_recording(braking_rec)


def test_a_recording_without_a_declared_duration_reads_as_before(braking_rec: Path) -> None:
    declared = _analyze(braking_rec)
    _undeclare(braking_rec)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecordingWarning)
        old = _analyze(braking_rec)
    assert old["distance_km"] == pytest.approx(declared["distance_km"], rel=1e-9)
    assert old["event_counts"] == declared["event_counts"]


def test_a_gps_clock_in_milliseconds_is_refused_without_a_declared_duration(braking_rec: Path) -> None:
    """The clocks against each other: fixes spanning 1000x the IMU's time (ms as s) overlap it,
    thin out to one fix every 1000 s, and still cannot be the same drive."""
    _undeclare(braking_rec)
    _shift_times(braking_rec / "gps.csv", 1000.0)
    with pytest.raises(ValueError, match=r"gps\.csv: field 't_s': samples from .* span over 10x the .* of imu\.csv .*not in seconds"):
        open_recording(braking_rec)


def test_a_sensor_that_stopped_early_in_a_long_drive_is_not_taken_for_a_clock_in_ms() -> None:
    """A GPS that stops five minutes into a two-hour drive leaves the IMU spanning 24x the GPS
    (over the 10x + 1 h limit) but denser, not sparser: read with the GPS's gap. Found in
    review: the whole recording was refused as 'timestamps not in seconds?'. The same spans in
    ms (1000x longer and sparser) are still refused, whichever file it is."""
    imu, gps = np.arange(0.0, 7200.0, 0.01), np.arange(0.0, 300.0, 1.0)
    check_clocks({Path("imu.csv"): imu, Path("gps.csv"): gps})
    with pytest.raises(ValueError, match=r"gps\.csv: field 't_s': .* span over 10x .*not in seconds"):
        check_clocks({Path("imu.csv"): imu[:2000], Path("gps.csv"): np.arange(0.0, 20.0, 1.0) * 1000})
    with pytest.raises(ValueError, match=r"imu\.csv: field 't_s': .* span over 10x .*not in seconds"):
        check_clocks({Path("imu.csv"): imu[:360_000] * 1000, Path("gps.csv"): np.arange(0.0, 3600.0, 1.0)})


def _set_meta(rec: Path, table: str, body: str, *, replace: bool = True) -> None:
    """Give ``[table]`` of the recording's meta.toml ``body`` (in place of what it held)."""
    meta = rec / "meta.toml"
    text = meta.read_text()
    if f"[{table}]" in text and not replace:
        text = text.replace(f"[{table}]\n", f"[{table}]\n{body}\n", 1)
    else:
        text = re.sub(rf"\[{table}\]\n(?:[^\[\n][^\n]*\n|\n)*", "", text) + f"\n[{table}]\n{body}\n"
    meta.write_text(text)


META_ERRORS = [
    ("camera", "width = 1280\nheight = 720\nfx = -1000.0", r"\[camera\] fx: -1000\.0 out of range"),
    ("camera", "width = 1280\nheight = 720\nfx = 0.0", r"\[camera\] fx: 0\.0 out of range"),
    ("camera", 'width = "wide"\nheight = 720', r"\[camera\] width: must be an integer, got 'wide'"),
    ("camera", "width = 1280\nheight = 720\nhfov_deg = 200.0", r"\[camera\] hfov_deg: 200\.0 out of range"),
    ("cabin_camera", "width = 640", r"\[cabin_camera\] needs width and height"),
    ("imu", "mounting = [[1, 0], [0, 1]]", r"\[imu\] mounting: mounting rotation must be 3x3"),
]


@pytest.mark.parametrize(("table", "line", "message"), META_ERRORS)
def test_meta_nonsense_is_an_error_naming_file_table_and_key(braking_rec: Path, table: str, line: str, message: str) -> None:
    _set_meta(braking_rec, table, line)
    with pytest.raises(ValueError, match=r"meta\.toml: " + message):
        open_recording(braking_rec)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('timezone = "Asia/Tokyo"', 'timezone = "Mars/Olympus_Mons"', r"\[recording\] timezone: 'Mars/Olympus_Mons' is not an IANA"),
        ("format_version = 1", "format_version = 99", r"\[recording\] format_version: 99 is not supported"),
        ('type = "car"', 'type = "spaceship"', r"\[vehicle\] type: 'spaceship' is not one of car, van, truck, bus"),
    ],
)
def test_meta_values_are_checked(braking_rec: Path, old: str, new: str, message: str) -> None:
    meta = braking_rec / "meta.toml"
    assert old in meta.read_text()
    meta.write_text(meta.read_text().replace(old, new))
    with pytest.raises(ValueError, match=r"meta\.toml: " + message):
        open_recording(braking_rec)


def test_a_misspelt_key_is_reported_with_a_suggestion(braking_rec: Path) -> None:
    _set_meta(braking_rec, "vehicle", 'tpye = "van"', replace=False)
    with pytest.warns(RecordingWarning, match=r"\[vehicle\] tpye: unknown key \(did you mean 'type'\?\): ignored"):
        open_recording(braking_rec)


def test_a_start_time_without_zone_is_read_as_utc_with_a_warning(braking_rec: Path) -> None:
    meta = braking_rec / "meta.toml"
    text = meta.read_text()
    m = re.search(r"start_utc = (\S+)Z", text)
    assert m
    meta.write_text(text.replace(m.group(0), f"start_utc = {m.group(1)}"))
    with pytest.warns(RecordingWarning, match=r"start_utc: .* has no zone: read as UTC"):
        rec = open_recording(braking_rec)
    assert rec.meta.start_utc is not None and rec.meta.start_utc.utcoffset() is not None


@pytest.mark.parametrize("name", ["imu.csv", "meta.toml", "gps.csv"])
def test_binary_garbage_names_the_file_and_line(braking_rec: Path, name: str) -> None:
    path = braking_rec / name
    data = path.read_bytes()
    nl = [i for i, b in enumerate(data) if b == 0x0A]
    path.write_bytes(data[: nl[2] + 1] + bytes([0xFF, 0xFE, 0x00, 0x81]) + data[nl[2] + 1 :])
    with pytest.raises(ValueError, match=rf"{re.escape(name)}:4: not UTF-8 text"):
        open_recording(braking_rec)


def test_the_cli_shows_a_message_not_a_traceback(braking_rec: Path, tmp_path: Path) -> None:
    _set_meta(braking_rec, "camera", 'width = "wide"\nheight = 720')
    res = CliRunner().invoke(app, ["analyze", str(braking_rec), "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 2
    assert "meta.toml: [camera] width: must be an integer" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out" / "summary.json").exists()
    json.dumps(res.output)


def test_an_input_over_the_size_limit_is_refused_before_it_is_read(braking_rec: Path, tmp_path: Path) -> None:
    imu = braking_rec / "imu.csv"
    header = imu.read_text().splitlines()[0]
    imu.write_text(header + "\n")
    with imu.open("r+b") as fh:
        fh.truncate(2 << 30)  # 2 GiB, sparse: no disk used, as in the issue
    tracemalloc.start()
    with pytest.raises(ValueError, match=r"imu\.csv: 2048\.0 MiB, over the 1024 MiB limit .*input\.max_file_mb"):
        open_recording(braking_rec)
    with pytest.raises(ValueError, match=r"imu\.csv: 2048\.0 MiB, over the 8 MiB limit"):
        open_recording(braking_rec, max_file_mb=8)
    assert tracemalloc.get_traced_memory()[1] < 50e6
    tracemalloc.stop()
    res = CliRunner().invoke(app, ["analyze", str(braking_rec), "-o", str(tmp_path / "out"), "-q", "--set", "input.max_file_mb=100"])
    assert res.exit_code == 2 and "over the 100 MiB limit" in res.output and "Traceback" not in res.output


def test_a_huge_binary_line_names_the_line_without_reading_it_whole(braking_rec: Path) -> None:
    imu = braking_rec / "imu.csv"
    lines = imu.read_bytes().split(b"\n")
    lines[5] = b"\0" * (1 << 20)  # 1 MiB of NUL bytes on one line
    imu.write_bytes(b"\n".join(lines))
    with pytest.raises(ValueError, match=r"imu\.csv:6: (line longer than|not a number|expected)"):
        open_recording(braking_rec)


def _tiny_video(path: Path, seconds: float, fps: int = 2) -> None:
    """A small real MP4 (64x48, ``fps`` frames a second) to check the video clock against."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i % 255, np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def test_the_video_clock_is_checked_against_the_sensors_and_the_declared_duration(braking_rec: Path) -> None:
    duration = _declared(braking_rec)
    _tiny_video(braking_rec / "video.mp4", duration)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecordingWarning)  # a video that fits: no warning
        assert open_recording(braking_rec).video is not None
    _tiny_video(braking_rec / "video.mp4", duration + 10)
    with pytest.warns(RecordingWarning, match=r"video\.mp4: frames at t_s 0\.000 to .* reach outside the declared duration"):
        open_recording(braking_rec)
    _set_meta(braking_rec, "camera", "width = 64\nheight = 48\ntime_offset_s = 3000.0")
    with pytest.warns(RecordingWarning, match=r"video\.mp4: frames at t_s 3000\.000 to .* never overlap the sensors"):
        rec = open_recording(braking_rec)
    assert rec.imu is not None and rec.video is not None  # warned, never refused
