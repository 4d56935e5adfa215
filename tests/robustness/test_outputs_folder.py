"""The analyze output folder (issue #14 defects 3 and 8; saferoad.adapters.outputs): one mode
for every file, a run that fails leaves the previous one whole, ingest refuses what a run did
not finish."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from saferoad.adapters.outputs import FILE_MODE, MANIFEST, check_complete, run_folder
from saferoad.application.ingest import MalformedOutput
from saferoad.config import load_config
from saferoad.entrypoints.cli.app import app
from saferoad.entrypoints.wiring import find_outputs, load_output


@pytest.fixture(scope="module")
def video_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = tmp_path_factory.mktemp("outputs") / "rec"
    args = ["simulate", "harsh_braking", "-o", str(rec), "--seed", "4", "--set", "duration_s=10", "--set", "at_s=3"]
    assert CliRunner().invoke(app, args).exit_code == 0
    return rec


def _analyze(rec: Path, out: Path) -> int:
    return CliRunner().invoke(app, ["analyze", str(rec), "-o", str(out), "-q", "--detector", "replay"]).exit_code


def test_every_output_file_has_one_mode_and_is_listed(video_rec: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _analyze(video_rec, out) == 0
    files = [p for p in out.rglob("*") if p.is_file()]
    names = {p.relative_to(out).as_posix() for p in files}
    assert {"events.jsonl", "summary.json", "timeline.parquet", "tracks.parquet", "log.jsonl", MANIFEST} <= names
    assert any(n.startswith("clips/") for n in names) and any(n.startswith("snapshots/") for n in names)
    modes = {p.relative_to(out).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in files}
    assert set(modes.values()) == {FILE_MODE}, modes  # events.jsonl and summary.json were 0600
    manifest = check_complete(out, sizes=True)
    assert set(manifest["files"]) == names - {MANIFEST}


def test_a_failed_run_leaves_the_previous_run_whole(video_rec: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _analyze(video_rec, out) == 0
    before = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    broken = Path(shutil.copytree(video_rec, tmp_path / "broken"))
    (broken / "imu.csv").write_text("t_s,ax,ay,az\n0,1,2\n")
    assert _analyze(broken, out) == 2
    after = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after.pop("log.jsonl.partial")  # the failed run's log, for whoever looks
    assert after == before  # clips included: no shorter clip replaced a longer one
    assert not [p for p in tmp_path.iterdir() if ".run-" in p.name]


def test_ingest_refuses_an_unfinished_folder_and_skips_killed_runs(video_rec: Path, tmp_path: Path) -> None:
    out = tmp_path / "outs" / "trip"
    assert _analyze(video_rec, out) == 0
    cfg = load_config()
    assert load_output(out, cfg).ids.driver
    # a run killed before its swap leaves a hidden folder beside the outputs: not an output
    killed = tmp_path / "outs" / ".trip.run-0123abcd-999999-dead"
    shutil.copytree(out, killed)
    (killed / MANIFEST).unlink()
    assert find_outputs(tmp_path / "outs") == [out]
    # a folder without run.json (interrupted, or an old saferoad's) is refused
    (out / MANIFEST).unlink()
    with pytest.raises(MalformedOutput, match=r"run\.json: missing: not a finished analyze run"):
        load_output(out, cfg)


def test_a_run_that_raises_inside_the_folder_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps({"old": True}))
    with pytest.raises(RuntimeError), run_folder(out) as folder:
        (folder / "summary.json").write_text("{}")
        raise RuntimeError("stage failed")
    assert json.loads((out / "summary.json").read_text()) == {"old": True}
    assert os.listdir(tmp_path) == ["out"]


def test_ingest_refuses_an_output_replaced_while_it_reads(video_rec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import saferoad.application.ingest as ingest

    out = tmp_path / "out"
    assert _analyze(video_rec, out) == 0
    real = ingest.read_timeline

    def read_then_replace(path: Path, **kw: object) -> object:
        timeline = real(path, **kw)  # type: ignore[arg-type]
        assert _analyze(video_rec, out) == 0  # a new run swapped in half-way through the read
        return timeline

    monkeypatch.setattr(ingest, "read_timeline", read_then_replace)
    with pytest.raises(MalformedOutput, match=r"replaced by a new analyze run while being read"):
        load_output(out, load_config())


def test_only_abandoned_run_folders_are_removed(tmp_path: Path) -> None:
    from saferoad.adapters.outputs import HOST, remove_abandoned

    out = tmp_path / "out"
    dead = tmp_path / f".out.run-{HOST}-999999999-aa"  # no such process
    alive = tmp_path / f".out.run-{HOST}-{os.getppid()}-bb"  # a process that runs
    foreign = tmp_path / ".out.run-0123abcd-5-cc"  # another machine's, fresh
    for p in (dead, alive, foreign):
        p.mkdir()
    assert remove_abandoned(out) == 1
    assert not dead.exists() and alive.exists() and foreign.exists()
    os.utime(foreign, (0, 0))  # untouched since 1970
    assert remove_abandoned(out) == 1 and not foreign.exists()
