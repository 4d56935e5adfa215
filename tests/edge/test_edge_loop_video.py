"""The road camera's video loop (real ffmpeg, the shared highway clip played as a live camera):
continuous MPEG-TS segments named by absolute time, one retention with the sensor segments
(oldest unlocked first within the budget), and a recorder killed with SIGKILL mid-segment leaves
playable segments, the cut one playable up to the cut and named at the next start."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from saferoad.adapters.loop.segments import LoopStore
from saferoad.adapters.video.live import FfmpegFrameSource
from saferoad.adapters.video.loop_video import (
    RECORDING,
    LoopVideoSpec,
    VideoLoopFolder,
    recover_runs,
    video_segments,
)

FPS = 10.0


def _frames(path: Path) -> int:
    """Frames that decode (FFmpeg's strict error detection: a broken stream raises)."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        return sum(1 for _ in c.decode(stream))


def _record(video: Path, folder: Path, seconds: float, codec: str = "libx264") -> int:
    src = FfmpegFrameSource(str(video), 320, 180, realtime=True, loop_file=True, fps=FPS,
                            loop_video=LoopVideoSpec(folder, 1.0, codec))  # fmt: skip
    n = 0
    try:
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            if src.read(timeout_s=5) is not None:
                n += 1
    finally:
        src.close()
    return n


def test_video_segments_are_continuous_and_share_the_sensor_retention(shared_dir: Path, tmp_path: Path) -> None:
    video = shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"
    loop = tmp_path / "loop"
    read = _record(video, loop, 4.5)
    segs = video_segments(loop)
    assert len(segs) >= 4, segs
    assert not any((loop / RECORDING).iterdir()), "every run's segments moved at close"
    total = 0
    for s in segs:
        n = _frames(s.path)
        total += n
        assert n == pytest.approx((s.end - s.start) * FPS, abs=1), (s, n)  # named by the frames it holds
    for a, b in itertools.pairwise(segs):
        # one stream, no gap (the names step by the frame clock's moves: small over 4.5 s)
        assert a.run == b.run and abs(b.start - a.end) <= 2 / FPS, (a, b)
    assert abs(total - read) <= 2, (total, read)  # the frames inference got are the frames recorded
    # retention: the sensor store's rule over both; a window on the second segment locks it
    sizes = [s.path.stat().st_size for s in segs]
    store = LoopStore(loop, 1.0, budget_bytes=sizes[-1] + sizes[-2])
    locked = segs[1]
    plan = store.retain([(locked.start + 0.3, locked.start + 0.4)])
    assert plan.locked == (locked.path.name,)
    assert segs[0].path.name in plan.delete and locked.path.name not in plan.delete
    left = [s.path.name for s in video_segments(loop)]
    assert locked.path.name in left and segs[0].path.name not in left and segs[-1].path.name in left
    # a clip window over the border of two segments is one file holding both
    folder = VideoLoopFolder(loop)
    a, b = segs[-3], segs[-2]
    joined = folder.video_for(a.end - 0.25, a.end + 0.25, a.end - 0.25, tmp_path / "work")
    if a.path.name in left and b.path.name in left:
        assert joined is not None and joined[1] == pytest.approx(a.start, abs=1 / FPS)
        assert _frames(joined[0]) == _frames(a.path) + _frames(b.path)


def test_copy_mode_keeps_the_sources_packets(tmp_path: Path, shared_dir: Path) -> None:
    """An H.264 source (as RTSP cameras send) is segmented without re-encoding, at its key frames."""
    src = tmp_path / "h264.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "3", "-i", str(shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"),
                    "-an", "-vf", "scale=320:180", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", str(src)], check=True)  # fmt: skip
    loop = tmp_path / "loop"
    _record(src, loop, 3.5, codec="copy")
    segs = video_segments(loop)
    assert len(segs) >= 3
    with av.open(str(segs[0].path)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and (s.codec_context.width, s.codec_context.height) == (320, 180)
    assert all(_frames(s.path) > 0 for s in segs)


CHILD = """
import sys, time
from pathlib import Path
from saferoad.adapters.video.live import FfmpegFrameSource
from saferoad.adapters.video.loop_video import LoopVideoSpec
src = FfmpegFrameSource(sys.argv[1], 320, 180, realtime=True, loop_file=True, fps=10.0,
                        loop_video=LoopVideoSpec(Path(sys.argv[2]), 1.0))
while True:
    src.read(timeout_s=1)
"""


def test_kill9_mid_segment_leaves_playable_segments(shared_dir: Path, tmp_path: Path) -> None:
    video = shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"
    loop = tmp_path / "loop"
    # the recorder and its ffmpeg in a process group of their own: a power cut kills both
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(video), str(loop)], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while len(video_segments(loop)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(video_segments(loop)) >= 2, "no segment finished"
        time.sleep(0.55)  # half-way through the next segment
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finished = video_segments(loop)
    for s in finished:
        assert _frames(s.path) == pytest.approx((s.end - s.start) * FPS, abs=1)
    (run,) = list((loop / RECORDING).iterdir())
    parts = sorted(run.glob("part_*.ts"))
    cut = parts[-1]
    assert cut.stat().st_size > 0
    in_cut = _frames(cut)
    assert in_cut >= 1, "the cut segment plays up to the cut"
    # the next start finds the run and names its cut segment by the frames it holds
    assert recover_runs(LoopVideoSpec(loop, 1.0)) >= 1
    assert not any((loop / RECORDING).iterdir())
    after = video_segments(loop)
    last = after[-1]
    assert len(after) >= len(finished) + 1 and abs(last.start - after[-2].end) <= 1 / FPS
    assert _frames(last.path) == in_cut and last.end - last.start == pytest.approx(in_cut / FPS, abs=0.011)
