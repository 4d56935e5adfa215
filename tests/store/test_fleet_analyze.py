"""``saferoad analyze FLEET_DIR`` without a manifest, resuming, failures; ``saferoad ingest``
counting what it finds (issue 15 item 5)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from saferoad.application.fleet import fleet_items, scan_outputs, up_to_date
from saferoad.config import load_config
from saferoad.entrypoints.cli.app import app
from saferoad.entrypoints.wiring import detect_format, simulate


def _sim(folder: Path, name: str, seed: int) -> None:
    simulate(
        name, folder, seed=seed, video=False,
        assignments=["duration_s=20", "at_s=8", f"meta.start_utc=2026-11-1{seed}T08:00:00Z"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No manifest: two recordings in nested folders, and a folder that is not a recording."""
    root = tmp_path_factory.mktemp("fleet")
    _sim(root / "day1" / "a", "harsh_braking", 1)
    _sim(root / "day2" / "b", "harsh_acceleration", 2)
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not a recording")
    return root


def _invoke(args: list[str]) -> tuple[int, str]:
    res = CliRunner().invoke(app, args)
    return res.exit_code, " ".join(res.output.split())


def test_folder_of_recordings_resumes_and_reanalyses_what_changed(fleet: Path, tmp_path: Path) -> None:
    cfg = load_config(None)
    out = tmp_path / "out"
    items = fleet_items(fleet, out, detect_format)
    assert [it.name for it in items] == ["day1/a", "day2/b"]
    code, text = _invoke(["analyze", str(fleet), "-o", str(out), "--workers", "2"])
    assert code == 0 and "2 recording(s)" in text and "2 analysed" in text, text
    for it in items:
        score = json.loads((it.out / "summary.json").read_text())["score"]
        # a 20 s drive is under scoring.min_trip_distance_km: no trip score, and why
        assert score["value"] is None and "2 km needed" in score["reason"] and score["rates"]
        assert up_to_date(it, cfg)
    # a changed input makes its recording stale, the other stays up to date
    gps = fleet / "day2" / "b" / "gps.csv"
    gps.write_text(gps.read_text())  # same bytes, new modification time
    assert up_to_date(items[0], cfg) and not up_to_date(items[1], cfg)
    code, text = _invoke(["analyze", str(fleet), "-o", str(out), "--workers", "1"])
    assert code == 0 and "1 analysed" in text and "1 up to date" in text, text
    # another config is another analysis
    assert not up_to_date(items[0], load_config(overrides={"motion": {"braking_g": 0.4}}))


def test_a_failing_recording_is_named_and_the_rest_go_on(fleet: Path, tmp_path: Path) -> None:
    broken = tmp_path / "fleet"
    shutil.copytree(fleet, broken)
    (broken / "day1" / "a" / "imu.csv").write_text("t_s,ax\n0,x\n")
    out = tmp_path / "out"
    code, text = _invoke(["analyze", str(broken), "-o", str(out), "--workers", "1"])
    assert code == 1 and "1 analysed" in text and "1 failed" in text, text
    assert "failed: day1/a" in text and "imu.csv" in text


def test_a_fleet_run_keeps_the_input_size_limit(fleet: Path, tmp_path: Path) -> None:
    """``input.max_file_mb`` holds for every recording of a fleet, as for one recording."""
    big = tmp_path / "fleet"
    shutil.copytree(fleet, big)
    with (big / "day1" / "a" / "imu.csv").open("r+b") as fh:
        fh.truncate(200 << 20)  # 200 MiB, sparse
    out = tmp_path / "out"
    code, text = _invoke(
        ["analyze", str(big), "-o", str(out), "--workers", "1", "--set", "input.max_file_mb=100"]
    )
    assert code == 1 and "1 analysed" in text and "1 failed" in text, text
    assert "failed: day1/a" in text and "over the 100 MiB limit" in text, text


def test_ingest_says_what_it_found_added_and_skipped(fleet: Path, tmp_path: Path) -> None:
    out, db = tmp_path / "out", f"sqlite:///{tmp_path / 't.db'}"
    assert _invoke(["analyze", str(fleet), "-o", str(out), "--workers", "1"])[0] == 0
    # an interrupted analysis: outputs without a summary
    (out / "day3" / "c").mkdir(parents=True)
    (out / "day3" / "c" / "events.jsonl").write_text("")
    scan = scan_outputs(out)
    assert [p.name for p in scan.complete] == ["a", "b"] and list(scan.skipped) == [str(out / "day3" / "c")]
    code, text = _invoke(["ingest", str(out), "--db", db])
    assert code == 0, text
    assert "found 3 analyze output(s)" in text and "2 added, 0 replaced, 0 unchanged, 1 skipped" in text
    assert "skipped: " in text and "no summary.json" in text
    code, text = _invoke(["ingest", str(out), "--db", db])
    assert "0 added, 0 replaced, 2 unchanged, 1 skipped" in text, text
    code, text = _invoke(["scores", "--week", "2026-W46", "--db", db, "--json"])
    rows = json.loads(text)
    assert rows and {"driver", "score", "distance_km", "n_events"} <= set(rows[0])
    with pytest.raises(ValueError, match="no analyze output here"):
        scan_outputs(fleet / "notes")
