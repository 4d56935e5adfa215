"""What the road camera's video loop costs: the camera's ffmpeg process (CPU cores, from
``/proc``) while it decodes a live 720p/30 fps camera for inference, without the loop (the
baseline, same run) and with it - ``libx264`` (the decoded frames encoded ultrafast at the
configured CRF: V4L2 / MJPEG / file sources) and ``copy`` (an H.264 camera's packets segmented
as they come: RTSP). The camera: the shared 720p highway clip served live (``ffmpeg -re``,
looped, 30 fps); for ``copy`` the same clip first encoded as a camera sends it (H.264, a key
frame each second). The consumer only takes frames (no inference), so the figure is the
decoder's. Also the bytes written per minute of video.

    .venv/bin/python benchmarks/bench_edge_loop_video.py [--seconds 8] [--crf 23]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from saferoad.adapters.video.live import FfmpegFrameSource
from saferoad.adapters.video.loop_video import LoopVideoSpec, video_segments

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAFEROAD_SHARED", REPO.parent / "shared")).resolve()
TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _run(video: Path, seconds: float, spec: LoopVideoSpec | None) -> tuple[float, int, float]:
    """(cores used by the camera's ffmpeg, frames taken, bytes written per minute)."""
    src = FfmpegFrameSource(str(video), 1280, 720, realtime=True, loop_file=True, fps=30, loop_video=spec)
    try:
        assert src.read(timeout_s=20) is not None, src.stats.last_error
        pid = src.pid
        assert pid is not None
        cpu0, t0, n = _cpu_s(pid), time.monotonic(), 0
        while time.monotonic() - t0 < seconds:
            if src.read(timeout_s=2) is not None:
                n += 1
        cores = (_cpu_s(pid) - cpu0) / (time.monotonic() - t0)
        took = time.monotonic() - t0
    finally:
        src.close()
    written = 0.0
    if spec is not None:
        segs = video_segments(spec.folder)
        span = sum(s.end - s.start for s in segs)
        written = sum(s.path.stat().st_size for s in segs) / span * 60 if span else 0.0
    return cores, round(n / took * 60), written


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--crf", type=int, default=23)
    args = ap.parse_args()
    clip = SHARED / "data" / "video" / "highway_vehicles_720p.mp4"
    with tempfile.TemporaryDirectory() as tmp:
        camera_h264 = Path(tmp) / "camera.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "7", "-i", str(clip), "-an", "-r", "30",
                        "-c:v", "libx264", "-preset", "veryfast", "-g", "30", str(camera_h264)], check=True)  # fmt: skip
        runs = {
            "no loop (baseline)": _run(clip, args.seconds, None),
            f"libx264 ultrafast crf {args.crf}": _run(clip, args.seconds, LoopVideoSpec(Path(tmp) / "x264", 10.0, "libx264", args.crf)),
            "no loop, H.264 camera (baseline)": _run(camera_h264, args.seconds, None),
            "copy, H.264 camera": _run(camera_h264, args.seconds, LoopVideoSpec(Path(tmp) / "copy", 10.0, "copy")),
        }
    load = os.getloadavg()[0]
    print(f"the camera's ffmpeg, 1280x720 at 30 fps decoded for inference, {args.seconds:.0f} s each (load average {load:.1f}):")
    for name, (cores, fpm, written) in runs.items():
        extra = f", {written / 2**20:.1f} MiB per minute of video" if written else ""
        print(f"  {name:34s} {cores:.2f} cores, {fpm} frames per minute taken{extra}")
    base = runs["no loop (baseline)"][0]
    x264 = runs[f"libx264 ultrafast crf {args.crf}"][0]
    copy_base = runs["no loop, H.264 camera (baseline)"][0]
    copy = runs["copy, H.264 camera"][0]
    print(f"loop video cost: libx264 +{x264 - base:.2f} cores over its baseline; copy {copy - copy_base:+.2f} cores over its baseline")


if __name__ == "__main__":
    main()
