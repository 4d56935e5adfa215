"""What the ``analyze`` command tells a person at the terminal about its input: each
documented repair once, on stderr, and what the sensors cannot show."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from saferoad.entrypoints.cli.app import app


def _analyze(rec: Path, out: Path) -> tuple[str, dict[str, object]]:
    res = CliRunner().invoke(app, ["analyze", str(rec), "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    return res.output, json.loads((out / "summary.json").read_text())


def test_repairs_and_limits_are_shown_once(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    res = CliRunner().invoke(app, ["simulate", "harsh_braking", "-o", str(rec), "--no-video"])
    assert res.exit_code == 0, res.output
    lines = (rec / "imu.csv").read_text().splitlines()
    lines.insert(40, lines[40])  # a repeated row
    (rec / "imu.csv").write_text("\n".join(lines) + "\n")
    text, summary = _analyze(rec, tmp_path / "out")
    repaired = [ln for ln in text.splitlines() if ln.startswith("warning: input_repaired")]
    assert len(repaired) == 1 and "1 repeated IMU timestamp(s): kept the first of each" in repaired[0]
    assert "RecordingWarning" not in text  # the Python warning saying the same is not printed too
    assert summary["motion_limitations"] == []  # IMU with gyroscope, GPS: nothing missing
    logged = [json.loads(x)["event"] for x in (tmp_path / "out" / "log.jsonl").read_text().splitlines()]
    assert "input_repaired" in logged and "span_end" in logged  # the file keeps everything


def test_a_log_without_gyroscope_or_speed_says_what_it_cannot_show(tmp_path: Path, shared_dir: Path) -> None:
    trip = tmp_path / "trip17"
    trip.mkdir()
    src = shared_dir / "data" / "imu" / "driver-behavior-dataset" / "trip17"
    for name in ("acelerometro_terra.csv", "aceleracaoLinear_terra.csv", "groundTruth.csv", "viagem.json"):
        (trip / name).symlink_to(src / name)  # no giroscopio_terra.csv
    text, summary = _analyze(trip, tmp_path / "out")
    limits = summary["motion_limitations"]
    assert isinstance(limits, list) and len(limits) == 2
    assert "no yaw rate (no gyroscope)" in limits[0] and "no speed (no GPS or CAN)" in limits[1]
    assert text.count("warning: motion_limited") == 2


def test_a_failed_run_keeps_the_last_outputs_and_log(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    assert CliRunner().invoke(app, ["simulate", "harsh_braking", "-o", str(rec), "--no-video"]).exit_code == 0
    out = tmp_path / "out"
    _analyze(rec, out)
    before = {p.name: p.read_bytes() for p in (out / "log.jsonl", out / "events.jsonl", out / "summary.json")}
    assert not (out / "log.jsonl.partial").exists()
    lines = (rec / "imu.csv").read_text().splitlines()
    lines[7] = lines[7].replace(",", ",oops,", 1)  # a malformed row
    (rec / "imu.csv").write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(app, ["analyze", str(rec), "-o", str(out), "-q"])
    assert res.exit_code == 2 and "imu.csv" in res.output and ":8" in res.output
    assert {name: (out / name).read_bytes() for name in before} == before
    assert (out / "log.jsonl.partial").is_file()  # this run's log, for whoever looks into it
