"""The live camera source: ffmpeg into a bounded ring, drops counted when the consumer is slow,
a decoder killed mid-run restarted by the watchdog within 2 s with the gap reported, a stalled
source (connected, never sending) restarted too."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from saferoad.adapters.video.live import FfmpegFrameSource


def test_killed_decoder_comes_back_within_2_s_and_the_gap_is_reported(shared_dir: Path) -> None:
    video = shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"
    src = FfmpegFrameSource(str(video), 320, 180, realtime=True, loop_file=True, stall_s=2.0)
    try:
        first = src.read(timeout_s=15)
        assert first is not None and first.image.shape == (180, 320, 3)
        t_end = time.monotonic() + 1.0
        while time.monotonic() < t_end:
            assert src.read(timeout_s=2) is not None
        pid = src.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        frame = None
        while frame is None or frame.t_s + src._t0 <= killed:
            frame = src.read(timeout_s=5)
            assert frame is not None, "the source did not come back"
        back = frame.t_s + src._t0 - killed
        assert back <= 2.0, f"back after {back:.2f} s"
        assert src.stats.restarts == 1 and src.pid != pid
        (gap,) = src.stats.gaps
        assert gap[0] <= killed <= gap[1] and gap[1] - gap[0] <= 2.5
        assert "decoder exited" in (src.stats.last_error or "")
    finally:
        src.close()


def test_slow_consumer_drops_oldest_frames_and_memory_stays_bounded(shared_dir: Path) -> None:
    video = shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"
    src = FfmpegFrameSource(str(video), 320, 180, realtime=False, ring=4)
    try:
        got = []
        for _ in range(5):
            f = src.read(timeout_s=15)
            assert f is not None
            got.append(f.index)
            time.sleep(0.3)  # inference far slower than decoding
        assert src.stats.dropped > 0 and len(src._ring) <= 4
        assert got == sorted(got) and got[-1] - got[0] > 4  # the frames taken skip the dropped ones
        assert src.stats.frames == src.stats.delivered + src.stats.dropped + len(src._ring)
    finally:
        src.close()


def test_stalled_source_is_restarted() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)  # accepts connections into its backlog, never answers
        port = server.getsockname()[1]
        src = FfmpegFrameSource(f"http://127.0.0.1:{port}/cam.mjpg", 64, 48, stall_s=0.5)
        try:
            deadline = time.monotonic() + 10
            while src.stats.restarts < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert src.stats.restarts >= 2 and src.stats.frames == 0
            assert "no frame for 0.5 s" in (src.stats.last_error or "")
        finally:
            src.close()


def test_check_opens_the_camera_or_says_why_not(shared_dir: Path) -> None:
    from typer.testing import CliRunner

    from saferoad.entrypoints.cli.app import app

    video = shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"
    res = CliRunner().invoke(app, ["edge", "--check", "--no-spool", "--set", f"edge.camera={video}",
                                   "--set", "edge.camera_width=320", "--set", "edge.camera_height=180"])  # fmt: skip
    assert res.exit_code == 0 and "frames of 320x180" in res.output and "configuration valid" in res.output, res.output
    # the decoder exits at once ("No such file"): said then, by the exited-decoder branch ("...: decoder
    # exited"), not after waiting out 2 stalls + 5 s (65 s with this stall) for a first frame, which
    # words it "no frame from ... (decoder exited ...)"
    res = CliRunner().invoke(app, ["edge", "--check", "--no-spool", "--set", "edge.camera=/nonexistent/cam.mp4",
                                   "--set", "edge.camera_stall_s=30"])  # fmt: skip
    said = " ".join(res.output.split())
    assert res.exit_code != 0 and "No such file" in said, res.output
    assert "no frame from /nonexistent/cam.mp4: decoder exited" in said, res.output
