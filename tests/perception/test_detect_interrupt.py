"""A ``saferoad detect`` stopped part-way (issue 19): SIGTERM or Ctrl-C ends it as an error
does, with every frame processed so far in ``tracks.parquet``, ``detect.json`` saying it was
interrupted and no ``.tracks.parquet.*.tmp`` left; a run killed outright (SIGKILL) leaves its
temporary, which the next run to the folder removes, naming it in a warning. Real processes,
killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from saferoad.adapters.outputs import HOST
from saferoad.adapters.outputs.tracks import TracksFile, stale_temporaries

_CLI = "from saferoad.entrypoints.cli.app import main; main()"
LOOPS = 8  # the 38-frame clip 8 times: 304 frames, far more than a run gets through before the kill


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory, highway_clip: Path) -> Path:
    out = tmp_path_factory.mktemp("clip") / "long.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-stream_loop", str(LOOPS - 1), "-i", str(highway_clip), "-c", "copy", str(out)],
        check=True, timeout=120,
    )  # fmt: skip
    return out


def _temporaries(folder: Path) -> list[Path]:
    return sorted(folder.glob(".tracks.parquet.*.tmp")) if folder.is_dir() else []


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_and_wait_for_frames(source: Path, out: Path) -> subprocess.Popen[str]:
    """``saferoad detect`` in a child, returned once it is in its frame loop (the tracks
    temporary exists) and has spent another 1.5 s of CPU there: frames processed, on any load."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLI, "detect", str(source), "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while not _temporaries(out):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never opened tracks.parquet"
        time.sleep(0.02)
    at_loop = _cpu_s(proc.pid)
    while _cpu_s(proc.pid) < at_loop + 1.5:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return proc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_run_keeps_the_frames_and_leaves_no_temporary(
    tmp_path: Path, long_clip: Path, signum: signal.Signals
) -> None:
    out = tmp_path / "out"
    proc = _start_and_wait_for_frames(long_clip, out)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    assert f"interrupted ({signum.name})" in " ".join(err.split())
    assert _temporaries(out) == []
    summary = json.loads((out / "detect.json").read_text())
    assert summary["error"] == f"interrupted ({signum.name})"
    assert 0 < summary["frames"] < 38 * LOOPS
    table = pq.read_table(out / "tracks.parquet")
    assert table.num_rows == summary["rows"] > 0
    assert max(table.column("frame").to_pylist()) < summary["frames"]


def test_a_killed_runs_temporary_is_removed_by_the_next_run_with_a_warning(
    tmp_path: Path, long_clip: Path, highway_clip: Path
) -> None:
    out = tmp_path / "out"
    proc = _start_and_wait_for_frames(long_clip, out)
    proc.kill()
    proc.communicate(timeout=60)
    (left,) = _temporaries(out)
    assert f".tracks.parquet.{HOST}-{proc.pid}." in left.name
    assert not (out / "tracks.parquet").exists()  # SIGKILL: nothing could be put in place

    res = subprocess.run(
        [sys.executable, "-c", _CLI, "detect", str(highway_clip), "-o", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "stale_temporaries_removed" in res.stderr and str(left) in res.stderr
    assert _temporaries(out) == []
    assert json.loads((out / "detect.json").read_text())["frames"] == 38


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_the_temporaries_of_dead_writers_are_stale(tmp_path: Path) -> None:
    path = tmp_path / "tracks.parquet"
    day = 24 * 3600
    live_child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "dead": f".tracks.parquet.{HOST}-{_dead_pid()}.abc123.tmp",
            "live": f".tracks.parquet.{HOST}-{live_child.pid}.abc123.tmp",
            "mine": f".tracks.parquet.{HOST}-{os.getpid()}.abc123.tmp",
            "old format, fresh": ".tracks.parquet.k2j4_x9q.tmp",
            "old format, 2 days": ".tracks.parquet.zz81qa_p.tmp",
            "other host, fresh": ".tracks.parquet.0000beef-12.abc123.tmp",
            "other host, 2 days": ".tracks.parquet.0000beef-13.abc123.tmp",
            "another file's": f".other.parquet.{HOST}-{_dead_pid()}.abc123.tmp",
        }
        for what, name in names.items():
            (tmp_path / name).write_bytes(b"PAR1")
            if "2 days" in what:
                old = time.time() - 2 * day
                os.utime(tmp_path / name, (old, old))
        stale = {p.name for p in stale_temporaries(path)}
        assert stale == {names["dead"], names["old format, 2 days"], names["other host, 2 days"]}

        f = TracksFile(path)  # sweeps them, then writes its own (named after this process)
        assert {p.name for p in f.removed_stale} == stale
        f.close()
        left = {p.name for p in tmp_path.iterdir()}
        assert left == (set(names.values()) - stale) | {"tracks.parquet"}
    finally:
        live_child.kill()
        live_child.wait()
