"""The live camera's decoder log is drained while the decoder runs: a camera whose stream is
corrupt makes ffmpeg log every damaged packet, far more than the 64 KiB a pipe holds. Nobody
reading it, ffmpeg blocks on its next log write, sends no more frames and the watchdog restarts
it forever (the "stalled sources" Frigate's users report). Drained, the frames keep coming."""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

from saferoad.adapters.video.live import LOG_TAIL_LINES, FfmpegFrameSource

PIPE_BYTES = 64 * 1024
"""What a Linux pipe holds by default (pipe(7)): a writer beyond it blocks until it is read."""


def corrupt_stream(shared_dir: Path, out: Path) -> Path:
    """The shared highway clip as an H.264 MPEG-TS (what a camera streams), with bytes flipped in
    every other 188-byte packet's payload (headers intact): decodable, with errors on every frame."""
    video = shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"
    clean = out / "clean.ts"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(video), "-an", "-c:v", "libx264",
                    "-preset", "ultrafast", "-s", "320x180", "-f", "mpegts", str(clean)], check=True)  # fmt: skip
    data = bytearray(clean.read_bytes())
    rng = random.Random(1)
    for packet in range(0, len(data) // 188, 2):
        for _ in range(3):
            data[packet * 188 + 4 + rng.randrange(180)] ^= 0xFF
    bad = out / "corrupt.ts"
    bad.write_bytes(bytes(data))
    return bad


def test_a_decoder_logging_far_more_than_a_pipe_holds_keeps_delivering_frames(shared_dir: Path, tmp_path: Path) -> None:
    bad = corrupt_stream(shared_dir, tmp_path)
    # decoded as fast as it goes (not at its 25 fps): ~100 kB of log a second, the pipe's 64 KiB in
    # well under a second; a real flaky camera at 25 fps logs ~2.4 kB/s and fills it in ~30 s
    src = FfmpegFrameSource(str(bad), 320, 180, loop_file=True, stall_s=1.0)
    try:
        first = src.read(timeout_s=15)
        assert first is not None
        t_end = time.monotonic() + 5.0
        longest, last = 0.0, time.monotonic()
        while time.monotonic() < t_end:
            frame = src.read(timeout_s=3)
            now = time.monotonic()
            assert frame is not None, f"no frame for 3 s (restarts {src.stats.restarts}: {src.stats.last_error})"
            longest, last = max(longest, now - last), now
        assert src.stats.restarts == 0, f"restarted {src.stats.restarts} times: {src.stats.last_error}"
        assert longest < 1.0, f"{longest:.2f} s without a frame"
        print(f"log {src.stats.log_bytes} bytes in ~5 s, {src.stats.frames} frames, longest wait {longest:.3f} s")
        assert src.stats.log_bytes > 4 * PIPE_BYTES, f"only {src.stats.log_bytes} bytes of log"
        tail = list(src.stats.log_tail)
        assert 0 < len(tail) <= LOG_TAIL_LINES and any("h264" in line for line in tail), tail
    finally:
        src.close()


def test_the_exit_message_names_the_decoders_last_log_lines(tmp_path: Path) -> None:
    missing = tmp_path / "none.ts"
    src = FfmpegFrameSource(str(missing), 64, 48, loop_file=True, stall_s=5.0)
    try:
        deadline = time.monotonic() + 10
        while src.stats.restarts < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert src.stats.restarts >= 1 and src.stats.frames == 0
        err = src.stats.last_error or ""
        assert err.startswith("decoder exited (") and "No such file or directory" in err, err
    finally:
        src.close()
