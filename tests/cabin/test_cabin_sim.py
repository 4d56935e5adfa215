"""Simulated drives (the simulator's cabin.csv and ground truth) through the cabin stage and
the ``saferoad cabin`` command: exact event types and times."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from saferoad.adapters.recording import open_recording
from saferoad.application.context import AnalysisContext
from saferoad.application.stages import cabin as cabin_stage
from saferoad.application.stages import motion as motion_stage
from saferoad.config import SaferoadConfig
from saferoad.domain.types import EventType
from saferoad.entrypoints.cli.app import app
from saferoad.entrypoints.wiring import analysis_ports, simulate


def _analyze(rec_dir: Path, out: Path) -> AnalysisContext:
    ctx = AnalysisContext(open_recording(rec_dir), SaferoadConfig(), out, ports=analysis_ports())
    out.mkdir(parents=True, exist_ok=True)
    motion_stage.run(ctx)
    assert ctx.speed is not None
    cabin_stage.run(ctx)
    return ctx


def _cabin_events(ctx: AnalysisContext) -> list[tuple[str, float, float]]:
    kinds = {EventType.DROWSINESS, EventType.DISTRACTION, EventType.CAMERA_OBSTRUCTED}
    return [(e.type.value, e.start_s, e.end_s) for e in ctx.events if e.type in kinds]


def _labels(rec_dir: Path) -> list[tuple[str, float, float]]:
    rows = [json.loads(x) for x in (rec_dir / "labels.jsonl").read_text().splitlines() if x.strip()]
    return [
        (r["type"], r["start_s"], r["end_s"])
        for r in rows
        if r["type"] in ("drowsiness", "distraction")
    ]


def _assert_match(
    found: list[tuple[str, float, float]], labels: list[tuple[str, float, float]]
) -> None:
    assert [f[0] for f in found] == [lab[0] for lab in labels]
    for (_, s, e), (_, ls, le) in zip(found, labels, strict=True):
        assert s == pytest.approx(ls, abs=0.5)
        assert e == pytest.approx(le, abs=0.5)


@pytest.mark.parametrize(
    ("scenario", "params", "n_expected"),
    [
        ("drowsy", [], 1),
        ("drowsy", ["closure_s=3.0", "second_closure_s=2.0", "at_s=10"], 2),
        ("drowsy", ["closure_s=1.0"], 0),  # a slow blink, below the micro-sleep threshold
        ("distracted", [], 1),  # 4 s look plus a 1 s mirror glance that is not an event
        ("distracted", ["yaw_deg=-50", "look_s=2.5"], 1),
        ("distracted", ["yaw_deg=0", "pitch_deg=35", "look_s=3"], 1),  # phone in the lap
        ("distracted", ["look_s=1.5"], 0),  # too short
        ("distracted", ["yaw_deg=20"], 0),  # within the road scene
    ],
)
def test_simulated_episodes(
    tmp_path: Path, scenario: str, params: list[str], n_expected: int
) -> None:
    rec = tmp_path / "rec"
    simulate(scenario, rec, assignments=params, seed=3, video=False)
    labels = _labels(rec)
    assert len(labels) == n_expected
    ctx = _analyze(rec, tmp_path / "out")
    _assert_match(_cabin_events(ctx), labels)
    table = pq.read_table(tmp_path / "out" / "cabin.parquet")
    assert table.num_rows > 100
    assert ctx.summary["cabin"]["face_share"] == 1.0


def test_alert_drive_has_no_cabin_events(tmp_path: Path) -> None:
    # the ordinary city drive with the cabin track switched on: blinks only
    rec = tmp_path / "rec"
    simulate("normal", rec, assignments=["cabin.enabled=true"], seed=5, video=False)
    assert (rec / "cabin.csv").is_file()
    ctx = _analyze(rec, tmp_path / "out")
    assert _cabin_events(ctx) == []


def test_stage_skips_recordings_without_cabin(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    simulate("harsh_braking", rec, seed=1, video=False)
    ctx = _analyze(rec, tmp_path / "out")
    assert "cabin" not in ctx.summary
    assert not (tmp_path / "out" / "cabin.parquet").exists()


def test_stopped_vehicle_no_distraction(tmp_path: Path) -> None:
    import numpy as np

    from saferoad.domain.types import SpeedSeries
    from saferoad.entrypoints.wiring import run_cabin_track

    rec = tmp_path / "rec"
    simulate("distracted", rec, seed=2, video=False)
    stopped = SpeedSeries(np.array([0.0, 100.0]), np.array([0.0, 0.0]), "can")
    assert run_cabin_track(rec / "cabin.csv", speed=stopped).events == []


def test_cli_on_signal_track(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    simulate("distracted", rec, seed=4, video=False)
    res = CliRunner().invoke(app, ["cabin", str(rec / "cabin.csv"), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    events = [json.loads(x) for x in (tmp_path / "out" / "events.jsonl").read_text().splitlines()]
    assert [e["type"] for e in events] == ["distraction"]
    assert (tmp_path / "out" / "cabin.parquet").is_file()
    # a recording folder: its cabin.csv (no cabin.mp4 there)
    res = CliRunner().invoke(app, ["cabin", str(rec), "-o", str(tmp_path / "out2")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out2" / "events.jsonl").read_text() == (
        tmp_path / "out" / "events.jsonl"
    ).read_text()


def test_cli_bad_track_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "cabin.csv"
    bad.write_text("frame,t_s\n0,0\n")
    res = CliRunner().invoke(app, ["cabin", str(bad), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "missing column" in res.output
    res = CliRunner().invoke(
        app, ["cabin", str(tmp_path / "none.mp4"), "-o", str(tmp_path / "out")]
    )
    assert res.exit_code == 2
    assert "not found" in res.output
