"""Loop recording: continuous segments, oldest deleted first within the budget, segments holding
an event not yet uploaded locked (kept even over the budget, the overflow reported) until the
upload, then released."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from saferoad.adapters.loop.segments import LoopStore
from saferoad.adapters.recording import open_recording
from saferoad.adapters.spool import SqliteSpool
from saferoad.domain.retention import Segment, plan_retention
from saferoad.entrypoints.cli.app import app
from saferoad.entrypoints.wiring import simulate


def test_plan_deletes_oldest_unlocked_and_never_a_locked_one() -> None:
    segs = [Segment(f"s{i}", 60.0 * i, 60.0 * (i + 1), 100) for i in range(6)]
    plan = plan_retention(segs, [(70.0, 80.0)], budget_bytes=300)  # s1 locked
    assert plan.delete == ("s0", "s2", "s3") and plan.locked == ("s1",) and plan.over_budget_bytes == 0
    plan = plan_retention(segs, [(0.0, 400.0)], budget_bytes=300)  # every segment locked
    assert plan.delete == () and plan.over_budget_bytes == 300  # all locked: kept, overflow reported
    assert plan_retention(segs, [], budget_bytes=10_000).delete == ()


def test_recorder_loop_within_budget_events_locked_until_uploaded(tmp_path: Path, ingest_server: Any) -> None:
    rec = tmp_path / "rec"
    simulate("harsh_braking", rec, assignments=["duration_s=90", "at_s=15"], seed=7, video=False)
    loop_dir = tmp_path / "loop"
    spool = str(tmp_path / "spool.db")
    # one 10 s segment (100 Hz IMU, 10 Hz GPS) compresses to about 54 kB here: the budget holds
    # about four; the braking at 15 s locks the three segments its clip window (7-22 s) touches
    budget_mb = 220_000 / 2**20
    runner = CliRunner()
    args = ["edge", "--replay", str(rec), "--speed", "0", "--spool", spool, "-o", str(tmp_path / "out"),
            "--set", f"edge.loop_dir={loop_dir}", "--set", "edge.loop_segment_s=10", "--set", f"edge.loop_budget_mb={budget_mb}"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    loop = json.loads((tmp_path / "out" / "edge.json").read_text())["loop"]
    assert loop["segments_written"] >= 9 and loop["segments_deleted"] >= 3  # 90 s in 10 s segments

    store = LoopStore(loop_dir, 10.0, int(budget_mb * 2**20))
    db = SqliteSpool(Path(spool))
    windows = db.pending_windows(8.0, 4.0)
    assert len(windows) == 1
    left = store.segments()
    locked = [s for s in left if any(s.start_s <= b and a <= s.end_s for a, b in windows)]
    unlocked = [s for s in left if s not in locked]
    t0 = min(s.start_s for s in left)
    assert [round(s.start_s - t0) for s in locked] == [0, 10, 20], "the event's segments are kept"
    # the unlocked segments left are the newest ones, and all of it fits the budget
    assert unlocked and sum(s.size for s in left) <= store.budget_bytes
    assert all(u.start_s > max(x.end_s for x in locked) for u in unlocked)
    # each segment holds its samples, readable
    with np.load(loop_dir / left[-1].name) as z:
        assert z["imu"].shape[1] == 7 and z["gps"].shape[1] == 6

    # after the upload nothing is locked: retention brings the folder within the budget
    ingest_server.start()
    res = runner.invoke(app, ["edge", "--upload", "--spool", spool, "--set", f"edge.ingest_url={ingest_server.url}"],
                        env={"SAFEROAD_DEVICE_TOKEN": ingest_server.token})  # fmt: skip
    assert res.exit_code == 0, res.output
    assert db.pending_windows(8.0, 4.0) == []
    plan = store.retain(db.pending_windows(8.0, 4.0))
    assert plan.locked == () and plan.over_budget_bytes == 0
    assert sum(s.size for s in store.segments()) <= store.budget_bytes


def test_an_alerted_event_locks_its_segments_before_it_is_final(tmp_path: Path) -> None:
    """The braking at 12 s is final only about 11 s after it ended, but alerted early (about 2 s
    after): from then on its clip window's segments are locked, so a budget of about one segment
    does not delete its first segment when the 10-20 s segment closes (before the event is final)."""
    rec = tmp_path / "rec"
    simulate("harsh_braking", rec, assignments=["duration_s=40", "at_s=12"], seed=7, video=False)
    loop_dir = tmp_path / "loop"
    budget_mb = 80_000 / 2**20  # one 10 s segment (~54 kB), not two
    args = ["edge", "--replay", str(rec), "--speed", "0", "--spool", str(tmp_path / "spool.db"), "-o", str(tmp_path / "out"),
            "--set", f"edge.loop_dir={loop_dir}", "--set", "edge.loop_segment_s=10", "--set", f"edge.loop_budget_mb={budget_mb}"]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "out" / "edge.json").read_text())
    assert out["early_alerts"] == {"confirmed": 1, "retracted": 0}  # the lock came from the early alert
    assert out["loop"]["segments_deleted"] >= 1  # the budget did bite
    left = LoopStore(loop_dir, 10.0, int(budget_mb * 2**20)).segments()
    t0 = min(s.start_s for s in left)
    # the oldest segment left is the drive's first (segments are named in absolute time): the
    # relative check below alone would also pass with the 0-10 s segment deleted
    meta = open_recording(rec).meta
    assert meta.start_utc is not None
    assert t0 == pytest.approx(meta.start_utc.timestamp(), abs=0.5), (t0, meta.start_utc)
    first = json.loads((tmp_path / "out" / "events.jsonl").read_text().splitlines()[0])
    assert first["type"] == "harsh_braking"
    # the segments of its clip window (4-18 s) are all there, the first one included
    assert [round(s.start_s - t0) for s in left][:2] == [0, 10], [round(s.start_s - t0) for s in left]
