"""The road camera's video loop (real ffmpeg, a video played as a live camera): continuous
MPEG-TS segments named by absolute time, one retention with the sensor segments (oldest unlocked
first within the budget), and the live recorder (``saferoad edge``) killed with SIGKILL
mid-segment leaves playable segments, the cut one playable up to the cut and named at the next
start."""

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
    LoopRun,
    LoopVideoSpec,
    VideoLoopFolder,
    video_segments,
)
from saferoad.entrypoints.wiring import simulate

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
    # a clip window over the border of two segments is one input holding both, read in place
    folder = VideoLoopFolder(loop)
    a, b = segs[-3], segs[-2]
    joined = folder.video_for(a.end - 0.25, a.end + 0.25, a.end - 0.25)
    if a.path.name in left and b.path.name in left:
        assert joined is not None and joined[1] == pytest.approx(a.start, abs=1 / FPS)
        assert joined[0] == f"concat:{a.path.resolve()}|{b.path.resolve()}"  # nothing copied
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


def _edge(rec_dir: Path, loop: Path, tmp_path: Path, *extra: str) -> list[str]:
    """``saferoad edge`` live on the drive's video as its camera (10 fps, 320x180), 1 s video segments."""
    return [
        str(Path(sys.executable).parent / "saferoad"), "edge", "--spool", str(tmp_path / "spool.db"),
        "--set", f"edge.camera={rec_dir / 'video.mp4'}", "--set", "edge.camera_width=320", "--set", "edge.camera_height=180",
        "--set", "edge.camera_fps=10", "--set", f"edge.loop_dir={loop}", "--set", "edge.loop_video_segment_s=1",
        "--set", "perception.detector=replay", "--set", f"perception.replay_path={rec_dir / 'detections.json'}",
        "--set", "lanes.enabled=false", *extra,
    ]  # fmt: skip


def test_kill9_of_the_recorder_mid_segment_leaves_playable_segments(tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    simulate("lead_braking", rec_dir, assignments=["duration_s=20", "at_s=4"], seed=1)
    loop = tmp_path / "loop"
    # the live recorder (saferoad edge) and its ffmpeg in a process group: a power cut kills both
    proc = subprocess.Popen(_edge(rec_dir, loop, tmp_path), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(video_segments(loop)) < 2 and time.monotonic() < deadline and proc.poll() is None:
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
    # the next start finds the run and names its cut segment by the frames it holds, then records on
    res = subprocess.run(_edge(rec_dir, loop, tmp_path, "--duration", "2"), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert not any((loop / RECORDING).iterdir())
    runs = {s.run for s in video_segments(loop)}
    assert len(runs) == 2, runs  # the killed run and the new one
    after = [s for s in video_segments(loop) if s.run == finished[0].run]
    last = after[-1]
    assert len(after) >= len(finished) + 1 and abs(last.start - after[-2].end) <= 1 / FPS
    assert _frames(last.path) == in_cut and last.end - last.start == pytest.approx(in_cut / FPS, abs=0.011)
    assert all(_frames(s.path) > 0 for s in video_segments(loop))


def test_a_restarted_decoder_starts_a_new_run_and_keeps_the_cut_segment(shared_dir: Path, tmp_path: Path) -> None:
    video = shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"
    loop = tmp_path / "loop"
    src = FfmpegFrameSource(str(video), 320, 180, realtime=True, loop_file=True, fps=FPS,
                            loop_video=LoopVideoSpec(loop, 1.0))  # fmt: skip
    try:
        t_end = time.monotonic() + 30
        while src.loop_segments < 1 and time.monotonic() < t_end:
            src.read(timeout_s=5)
        t_end = time.monotonic() + 0.55  # half-way through the second segment
        while time.monotonic() < t_end:
            src.read(timeout_s=5)
        pid = src.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # the watchdog restarts it
        t_end = time.monotonic() + 3.0
        while time.monotonic() < t_end:
            src.read(timeout_s=5)
        assert src.stats.restarts == 1
    finally:
        src.close()
    segs = video_segments(loop)
    runs = sorted({s.run for s in segs})
    assert len(runs) == 2, segs
    first = [s for s in segs if s.run == runs[0]]
    second = [s for s in segs if s.run == runs[1]]
    assert len(first) >= 2 and second  # the killed run's cut segment kept, named by its frames
    assert all(_frames(s.path) == pytest.approx((s.end - s.start) * FPS, abs=1) for s in segs)
    gap = src.stats.gaps[0]
    # the video's gap is the decoder's (last frame before to first after), plus the few frames
    # x264 and the muxer still held when the decoder was killed (2 in trial runs)
    video_gap = second[0].start - first[-1].end
    assert gap[1] - gap[0] - 1 / FPS <= video_gap <= gap[1] - gap[0] + 0.5, (video_gap, gap)
    # a window over the restart: the run that holds most of it, never the two joined
    a, b = first[-1].start + 0.05, second[0].start + 0.05
    joined = VideoLoopFolder(loop).video_for(a, b, a)
    assert joined is not None and _frames(joined[0]) == _frames(first[-1].path)


def test_a_loop_folder_ffmpegs_concat_cannot_name_is_refused(tmp_path: Path) -> None:
    """A window over two segments is read through FFmpeg's ``concat:a|b``, which splits at '|'."""
    with pytest.raises(ValueError, match=r"edge\.loop_dir.*'\|'"):
        VideoLoopFolder(tmp_path / "a|b")
    assert VideoLoopFolder(tmp_path / "ab").video_for(0.0, 1.0, 0.5) is None  # no segments: no video


def test_a_runs_segments_never_overlap_when_the_frame_clock_moves_back(tmp_path: Path) -> None:
    """The timing of a failed full-file run: the run's first frames arrived 0.21 s late (a busy
    machine), the next ones on time, so the least-delayed estimate moved 0.21 s back between the
    first and the second segment; the second was named 0.21 s before the first ended."""
    loop = tmp_path / "loop"
    run = LoopRun(LoopVideoSpec(loop, 1.0), FPS)
    t0 = 1000.0
    for k in range(30):
        run.frame(t0 + k / FPS + (0.21 if k < 10 else 0.0))  # frames 0-9 late, 10-29 on time
    for i in range(3):
        (run.dir / f"part_{i:05d}.ts").write_bytes(b"\x47" * 188)
    (run.dir / "list.csv").write_text("".join(f"part_{i:05d}.ts,{i}.000000,{i + 1}.000000\n" for i in range(3)))
    assert run.collect() == 3
    segs = video_segments(loop)
    assert len(segs) == 3
    for prev, nxt in itertools.pairwise(segs):
        assert nxt.start >= prev.end - 1e-6, (prev, nxt)  # the second no longer starts 0.21 s early
        assert nxt.end - nxt.start == pytest.approx(1.0, abs=1e-5)  # the segment's length kept
    # the first segment is where the recorder timed its first frame (the estimate then)
    assert segs[0].start == pytest.approx(t0 + 0.21 + run.wall_minus_mono, abs=1e-5)
