"""The loop's disk budget holds the unfinished video segment too: the camera's ffmpeg writes its
segment in ``.recording/`` for a whole ``segment_s`` before it lands in the loop folder, and a
retention that counted only the finished ones let the folder exceed the budget by up to that
segment every time. ``edge.json`` reports the video segments beside the sensor ones."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pytest

from saferoad.adapters.loop.segments import NAME, LoopStore
from saferoad.adapters.video.loop_video import RECORDING, video_segments
from saferoad.config import load_config, parse_assignments
from saferoad.domain.retention import Segment, plan_retention
from saferoad.entrypoints.edge_live import build_live_recorder
from saferoad.entrypoints.wiring import simulate


def test_plan_keeps_room_for_the_segments_being_written() -> None:
    segs = [Segment(f"s{i}", 10.0 * i, 10.0 * (i + 1), 100) for i in range(4)]
    assert plan_retention(segs, [], 400).delete == ()
    plan = plan_retention(segs, [], 400, reserve_bytes=150)  # 150 being written: two must go
    assert plan.delete == ("s0", "s1") and plan.kept_bytes == 200 and plan.reserved_bytes == 150
    assert plan.over_budget_bytes == 0
    plan = plan_retention(segs, [(0.0, 40.0)], 400, reserve_bytes=150)  # all locked: the overflow
    assert plan.delete == () and plan.over_budget_bytes == 150
    with pytest.raises(ValueError, match="reserve_bytes"):
        plan_retention(segs, [], 400, reserve_bytes=-1)


def test_the_overflow_is_bytes_on_disk_and_the_reservation_short_of_room_is_its_own_figure() -> None:
    segs = [Segment(f"s{i}", 10.0 * i, 10.0 * (i + 1), 100) for i in range(4)]
    # every finished segment locked, 150 reserved for the one being written, which holds 0 / 50 now
    plan = plan_retention(segs, [(0.0, 40.0)], 400, reserve_bytes=150, held_bytes=0)
    assert plan.over_budget_bytes == 0 and plan.reserve_short_bytes == 150  # the folder is at the budget
    plan = plan_retention(segs, [(0.0, 40.0)], 400, reserve_bytes=150, held_bytes=50)
    assert plan.over_budget_bytes == 50 and plan.reserve_short_bytes == 100
    plan = plan_retention(segs, [], 400, reserve_bytes=150, held_bytes=50)  # room made: neither
    assert plan.delete == ("s0", "s1") and plan.over_budget_bytes == plan.reserve_short_bytes == 0
    with pytest.raises(ValueError, match="held_bytes"):
        plan_retention(segs, [], 400, reserve_bytes=150, held_bytes=151)


def _loop(folder: Path) -> Path:
    """A loop folder with two finished 1 s video segments of 1000 bytes (epoch 1000 .. 1002 s)
    and a growing one holding 200 bytes."""
    (folder / RECORDING / "run0").mkdir(parents=True)
    for start in (1000, 1001):
        (folder / f"vid_{start * 10**6:016d}_{(start + 1) * 10**6:016d}_r0.ts").write_bytes(bytes(1000))
    (folder / RECORDING / "run0" / "part_000.ts").write_bytes(bytes(200))
    return folder


def test_a_tight_budget_with_nothing_locked_reports_no_overflow(tmp_path: Path) -> None:
    """Two finished 1 s video segments of 1000 bytes and a growing one holding 200: the
    reservation is 1000 (the largest segment) + 1.5 s at 1000 B/s = 2500, more than the 2000-byte
    budget. Retention deletes both finished segments; the folder (200 bytes) is within the budget,
    so no overflow is reported - only the 500 reserved bytes the budget has no room for."""
    store = LoopStore(_loop(tmp_path / "loop"), 1.0, budget_bytes=2000)
    plan = store.retain([])
    assert len(plan.delete) == 2 and plan.locked == () and plan.reserved_bytes == 2500
    lp = store.figures()
    assert lp["max_over_budget_bytes"] == 0 and lp["max_reserve_short_bytes"] == 500, lp
    assert lp["recording_bytes"] == 200 and lp["reserved_bytes"] == 2500
    # the same two locked (an event waiting for upload): 2000 kept + 200 being written is a real
    # overflow of 200, and 2300 more would not fit once the growing segment lands at its reservation
    plan = LoopStore(_loop(tmp_path / "locked"), 1.0, budget_bytes=2000).retain([(1000.0, 1002.0)])
    assert plan.delete == () and len(plan.locked) == 2
    assert (plan.over_budget_bytes, plan.reserve_short_bytes) == (200, 2300)


def _segment_bytes(loop: Path) -> int:
    """Bytes of the loop's segments on disk now, finished and unfinished (the unfinished first: one
    that lands between the two looks is missed, never counted twice)."""
    total = 0
    for part in (loop / RECORDING).glob("run_*/part_*.ts"):
        with contextlib.suppress(FileNotFoundError):
            total += part.stat().st_size
    for p in loop.iterdir() if loop.is_dir() else ():
        if NAME.match(p.name):
            with contextlib.suppress(FileNotFoundError):
                total += p.stat().st_size
    return total


def test_the_live_video_loop_never_exceeds_its_budget_with_the_segment_being_written(tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    simulate("lead_braking", rec_dir, assignments=["duration_s=12", "at_s=4"], seed=1)
    loop = tmp_path / "loop"
    # 640x360 at 10 fps in 1 s segments: ~26 kB each here; room for the one being written (its
    # largest + 1.5 s at the highest bitrate, ~65 kB) and about three finished ones
    budget_mb = 0.15
    budget = int(budget_mb * 2**20)
    cfg = load_config(None, parse_assignments([
        "perception.detector=replay", f"perception.replay_path={rec_dir / 'detections.json'}", "lanes.enabled=false",
        f"edge.camera={rec_dir / 'video.mp4'}", "edge.camera_width=640", "edge.camera_height=360", "edge.camera_fps=10",
        f"edge.loop_dir={loop}", "edge.loop_video_segment_s=1", f"edge.loop_budget_mb={budget_mb}",
    ]))  # fmt: skip
    used: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            used.append(_segment_bytes(loop))

    sampler = threading.Thread(target=sample, daemon=True)
    live = build_live_recorder(cfg, sinks=[], spool=None, status_path=None)
    sampler.start()
    try:
        report = live.run(duration_s=8.0)
    finally:
        live.close()
        stop.set()
        sampler.join(timeout=5)
    lp = report.loop
    left = video_segments(loop)
    left_bytes = sum(s.path.stat().st_size for s in left)
    print(f"loop: {lp}; {len(used)} samples, most on disk {max(used)} bytes (budget {budget}); "
          f"{len(left)} video segments left, {left_bytes} bytes")  # fmt: skip
    assert max(used) <= budget, f"{max(used)} bytes on disk, budget {budget}"
    assert lp["budget_bytes"] == budget and lp["max_used_bytes"] <= budget and lp["max_over_budget_bytes"] == 0
    # the video segments are counted: all of them written (landed), the oldest deleted, bytes agree
    assert lp["video_segments_written"] >= 6 and lp["video_segments_deleted"] >= 2, lp
    assert lp["video_segments_written"] - lp["video_segments_deleted"] == len(left)
    assert lp["video_bytes_written"] - lp["video_bytes_deleted"] == left_bytes
    assert lp["segments_written"] == lp["sensor_segments_written"] + lp["video_segments_written"]
    assert lp["sensor_segments_written"] == 0  # no sensor feed here
    # the camera closed, nothing is being written: no room reserved at the last pass
    assert lp["recording_bytes"] == 0 and lp["reserved_bytes"] == 0
    # the live status reports the loop too
    assert live.last_status is not None and live.last_status["loop"] == lp
    # (and the camera's: its decoder's log, drained as it comes - a clean file logs nothing)
    cam = live.last_status["camera"]
    assert cam["decoder_log_bytes"] == 0 and cam["decoder_log"] == [], cam
