"""``saferoad demo --edge N``: the demo drive also goes through the edge recorder, alerts printed
as they are raised, and the recorder's events compared with analyze's."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from saferoad.entrypoints.cli.app import app


def test_demo_runs_the_edge_recorder(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["demo", "-o", str(tmp_path / "demo"), "--no-video", "--edge", "0"])
    assert res.exit_code == 0, res.output
    assert "early alert harsh_braking" in res.output and "alert drowsiness" in res.output
    assert "the same events as analyze" in res.output
    assert (tmp_path / "demo" / "edge-spool.db").is_file()
