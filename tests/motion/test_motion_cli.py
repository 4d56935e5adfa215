"""``saferoad analyze`` and ``saferoad score-events`` end to end on a written recording."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from saferoad.adapters.recording import write_recording
from saferoad.domain.recording import RecordingMeta
from saferoad.domain.types import Direction, EventLabel
from saferoad.entrypoints.cli.app import app

from .conftest import make_drive

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def rec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = make_drive(seed=7)
    labels = [EventLabel(t, s, e, Direction(di) if di else None) for t, di, s, e in d.expected]
    labels.append(EventLabel("normal", 75.0, 78.0))
    meta = RecordingMeta(vehicle_id="V9", start_utc=datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    return write_recording(tmp_path_factory.mktemp("rec") / "drive", meta, d.imu, d.gps, None, labels)


def test_analyze_writes_everything(rec_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["analyze", str(rec_dir), "-o", str(out), "--trace", str(out / "trace.json")])
    assert res.exit_code == 0, res.output
    assert "harsh_braking" in res.output
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert {e["type"] for e in events} == {"harsh_braking", "harsh_acceleration", "harsh_cornering", "aggressive_lane_change"}
    for e in events:
        assert {"type", "start_s", "end_s", "direction", "severity", "confidence"} <= set(e)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["speed_source"] == "imu+gps"
    assert summary["distance_km"] > 1.0
    assert summary["mounting"]["method"] == "speed+yaw"
    assert summary["time_zero_utc"].startswith("2026-11-20T08:00:00")
    # contract 1: every kind and band, ascending; the harsh band is the events
    man = summary["manoeuvres"]
    assert list(man) == ["braking", "acceleration", "cornering", "lane_change"]
    assert all(list(per) == ["moderate", "hard", "harsh"] for per in man.values())
    kinds = {"harsh_braking": "braking", "harsh_acceleration": "acceleration",
             "harsh_cornering": "cornering", "aggressive_lane_change": "lane_change"}
    for typ, kind in kinds.items():
        assert man[kind]["harsh"] == sum(e["type"] == typ for e in events)
    log_lines = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert any(rec.get("span") == "motion.engine" for rec in log_lines)
    trace = json.loads((out / "trace.json").read_text())
    names = {ev["name"] for ev in trace["traceEvents"]}
    assert {"read", "analyze", "motion.engine"} <= names
    tl = pq.read_table(out / "timeline.parquet")
    assert tl.schema.names == ["t_s", "lat", "lon", "speed_mps", "long_acc_mps2", "lat_acc_mps2", "yaw_rate_dps"]
    assert tl.num_rows == pytest.approx(1300, abs=2)


def test_analyze_set_override_changes_result(rec_dir: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["analyze", str(rec_dir), "-o", str(tmp_path), "-q", "--set", "motion.braking_g=0.9", "--set", "motion.acceleration_g=0.9"])
    assert res.exit_code == 0, res.output
    types = {json.loads(line)["type"] for line in (tmp_path / "events.jsonl").read_text().splitlines()}
    assert "harsh_braking" not in types and "harsh_acceleration" not in types


def test_score_events_table_and_json(rec_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert runner.invoke(app, ["analyze", str(rec_dir), "-o", str(out), "-q"]).exit_code == 0
    res = runner.invoke(app, ["score-events", str(out), str(rec_dir)])
    assert res.exit_code == 0, res.output
    assert "overall" in res.output and "1.000" in res.output
    res = runner.invoke(app, ["score-events", str(out / "events.jsonl"), str(rec_dir / "labels.jsonl"), "--json"])
    data = json.loads(res.output)
    assert data["overall"]["f1"] == 1.0 and data["normal_flagged"] == 0
    assert len(data["matches"]) == 4


def test_user_errors_are_clean(tmp_path: Path) -> None:
    res = runner.invoke(app, ["analyze", str(tmp_path / "missing"), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "no such recording" in " ".join(res.output.split())
    res = runner.invoke(app, ["score-events", str(tmp_path), str(tmp_path)])
    assert res.exit_code == 2 and "events.jsonl" in " ".join(res.output.split())


def test_detector_option_is_a_config_override(rec_dir: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["analyze", str(rec_dir), "-o", str(tmp_path / "a"), "-q", "--detector", "bogus"])
    assert res.exit_code == 2 and "perception.detector" in res.output
    res = runner.invoke(app, ["analyze", str(rec_dir), "-o", str(tmp_path / "b"), "-q", "--detector", "replay"])
    assert res.exit_code == 0, res.output


def test_reader_port() -> None:
    from saferoad.adapters.recording import SaferoadFolderReader
    from saferoad.ports.sensors import RecordingReader

    assert isinstance(SaferoadFolderReader(), RecordingReader)
