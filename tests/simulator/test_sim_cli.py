"""The ``simulate``, ``simulate-fleet`` and ``demo`` commands, run through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
import yaml
from typer.testing import CliRunner

from saferoad.adapters.recording import open_recording
from saferoad.config import load_config
from saferoad.entrypoints.cli.app import app
from saferoad.entrypoints.wiring import analyze_recording

runner = CliRunner()


def _labels(folder: Path) -> list[dict[str, object]]:
    lines = (folder / "labels.jsonl").read_text().splitlines()
    return [d for d in map(json.loads, lines) if d["type"] != "normal"]


def test_list_documents_every_scenario_and_parameter() -> None:
    res = runner.invoke(app, ["simulate", "--list"])
    assert res.exit_code == 0, res.output
    for name in ("normal", "harsh_braking", "tailgating", "stop_sign", "red_light", "drowsy", "demo"):
        assert name in res.output
    for key in ("decel_g", "headway_s", "min_speed_kmh", "imu.rate_hz", "camera.night", "meta.driver_id"):
        assert key in res.output


@pytest.mark.parametrize(("decel_g", "events"), [(0.30, 0), (0.50, 1)])
def test_set_braking_deceleration_changes_labels_and_detection(tmp_path: Path, decel_g: float, events: int) -> None:
    """Raised above motion.braking_g (0.38 g) the braking is an event for the labels and for
    the motion engine alike; lowered below it, for neither."""
    out = tmp_path / "rec"
    res = runner.invoke(app, ["simulate", "harsh_braking", "-o", str(out), "--no-video", "--set", f"decel_g={decel_g}", "--seed", "4"])
    assert res.exit_code == 0, res.output
    assert len(_labels(out)) == events
    found = analyze_recording(open_recording(out), load_config(None), None).events
    assert [e.type.value for e in found] == ["harsh_braking"] * events


@pytest.mark.parametrize(("min_speed_kmh", "expected"), [(5.0, []), (15.0, ["rolling_stop"])])
def test_set_rolling_stop_speed_changes_the_outcome(tmp_path: Path, min_speed_kmh: float, expected: list[str]) -> None:
    """A rolling stop whose lowest speed is raised above road_events.stop_speed_mps
    (9.66 km/h) becomes an event; lowered below it, it does not."""
    from saferoad.adapters.replay.detector import ReplayDetector

    out = tmp_path / "rec"
    res = runner.invoke(app, ["simulate", "stop_sign", "-o", str(out), "--no-video", "--set", f"min_speed_kmh={min_speed_kmh}"])
    assert res.exit_code == 0, res.output
    assert [d["type"] for d in _labels(out)] == expected
    rec = open_recording(out)
    found = analyze_recording(rec, load_config(None), None, detector=ReplayDetector(rec.detections)).events
    assert [e.type.value for e in found] == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "no_such_scenario", "-o", "X"], "unknown scenario"),
        (["simulate", "harsh_braking", "-o", "X", "--set", "decel=0.5"], "unknown harsh_braking parameter"),
        (["simulate", "harsh_braking", "-o", "X", "--set", "decel_g=strong"], "expected a number"),
        (["simulate", "harsh_braking", "-o", "X", "--set", "decel_g"], "expected KEY=VALUE"),
        (["simulate", "harsh_braking", "-o", "X", "--set", "meta.colour=red"], "unknown meta key"),
        (["simulate", "harsh_braking", "-o", "X", "--set", "meta.start_utc=yesterday"], "not an ISO 8601 time"),
        (["simulate", "harsh_braking"], "give a SCENARIO and -o REC"),
        (["simulate-fleet", "--trips", "0", "-o", "X"], "at least 1"),
    ],
)
def test_bad_arguments_are_clear_errors(tmp_path: Path, args: list[str], message: str) -> None:
    args = [str(tmp_path / a) if a == "X" else a for a in args]
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert message in " ".join(res.output.split())


def test_simulate_writes_a_readable_recording_with_video(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    res = runner.invoke(
        app,
        ["simulate", "red_light", "-o", str(out), "--set", "duration_s=20", "--set", "at_s=10",
         "--set", "camera.night=true", "--set", "meta.driver_id=D-42", "--set", "can.enabled=true"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rec = open_recording(out)
    assert rec.meta.driver_id == "D-42" and rec.video is not None and rec.can_speed is not None
    assert rec.meta.camera is not None and rec.meta.camera.width == 640
    with av.open(str(rec.video)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(frames) == 201 and frames[0].shape == (360, 640, 3)
    assert float(frames[0][:60].mean()) < 60  # a night sky


def test_simulate_fleet_writes_trips_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    res = runner.invoke(app, ["simulate-fleet", "--trips", "6", "-o", str(out), "--seed", "3"])
    assert res.exit_code == 0, res.output
    doc = yaml.safe_load((out / "manifest.yaml").read_text())
    assert len(doc["recordings"]) == 6
    drivers = set()
    for entry in doc["recordings"]:
        rec = open_recording(out / entry["path"])
        assert (out / entry["labels"]).is_file()
        assert rec.meta.fleet_id == "sim-fleet" and rec.meta.driver_id == entry["tags"]["driver"]
        drivers.add(entry["tags"]["style"])
    assert drivers == {"careful", "normal", "aggressive"}
    again = tmp_path / "again"
    runner.invoke(app, ["simulate-fleet", "--trips", "6", "-o", str(again), "--seed", "3"])
    assert (again / "manifest.yaml").read_text() == (out / "manifest.yaml").read_text()


@pytest.mark.slow
def test_demo_runs_end_to_end_and_finds_the_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = runner.invoke(app, ["demo", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "recording" / "video.mp4").is_file()
    assert (out / "analysis" / "events.jsonl").is_file()
    text = " ".join(res.output.split())
    for etype in (
        "harsh_acceleration", "drowsiness", "tailgating", "harsh_cornering", "harsh_braking",
        "rolling_stop", "distraction",
    ):
        assert etype in text
    assert "longest closure 2.0 s" in text and "head turned 47°" in text
    assert "ground truth: 7 event(s); found 7" in text
    assert "not found" not in text


def test_labels_follow_the_config_file(tmp_path: Path) -> None:
    """The same scenario is labelled by the thresholds of the config it will be analysed with."""
    cfg = tmp_path / "strict.toml"
    cfg.write_text("[motion]\nbraking_g = 0.55\n", encoding="utf-8")
    out = tmp_path / "rec"
    res = runner.invoke(app, ["simulate", "harsh_braking", "-o", str(out), "--no-video", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert _labels(out) == []
    found = analyze_recording(open_recording(out), load_config(cfg), None).events
    assert found == []
