"""Bytes written per live clip: the clip cutter given the loop's video of a clip window. Before
(the baseline, same run): the run's overlapping segments byte-joined into one file in the
cutting folder (as ``VideoLoopFolder.video_for`` did up to this change); now: the segment
itself, or FFmpeg's ``concat:`` URL over two, read in place. The clip cut from either
(``cut_clips``: MP4 + JPEG) writes the same, measured once (the border window, through
``concat:``). Bytes written: ``wchar`` of ``/proc/self/io`` (bytes handed to write()).

The loop: the shared 720p highway clip looped and stream-copied into MPEG-TS segments of
``edge.loop_segment_s`` (the video segment length's default, 60 s) - H.264 at the clip's own
rate (~4.2 Mbit/s, ~30 MiB a minute; a camera's libx264 at CRF 23 writes more). Windows: the
defaults' ``clip_before_s`` + ``clip_after_s`` inside one segment and across the border of two.

    .venv/bin/python benchmarks/bench_loop_clip_bytes.py [--segment-s 60]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from saferoad.adapters.video.clips import cut_clips
from saferoad.adapters.video.loop_video import VideoLoopFolder, probe_span, video_segments
from saferoad.config import SaferoadConfig
from saferoad.ports.clips import ClipRequest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAFEROAD_SHARED", REPO.parent / "shared")).resolve()
T0 = 1_700_000_000.0  # the run's first frame (epoch s)


def _wchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise RuntimeError("/proc/self/io has no wchar")


def _loop(folder: Path, segment_s: float) -> None:
    """Two and a bit segments of the shared clip, named as the loop names them (vid_START_END_r0)."""
    raw = folder / "raw"
    raw.mkdir(parents=True)
    src = SHARED / "data" / "video" / "highway_vehicles_720p.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", str(int(2.2 * segment_s / 1.52)), "-i", str(src), "-an", "-c", "copy",
                    "-f", "segment", "-segment_time", str(segment_s), "-segment_format", "mpegts", str(raw / "s%03d.ts")],
                   check=True)  # fmt: skip
    t = T0
    for p in sorted(raw.iterdir()):
        span = probe_span(p)
        assert span is not None, p
        p.rename(folder / f"vid_{round(t * 1e6):016d}_{round((t + span) * 1e6):016d}_r0.ts")
        t += span
    raw.rmdir()


def _cut(video: Path | str, first: float, start: float, end: float, out: Path) -> int:
    req = ClipRequest("clip", start, end, start + (end - start) * 2 / 3, "bench")
    (res,) = cut_clips(video, [req], {}, out, time_offset_s=first)
    assert res.clip is not None and res.frames > 0, res
    return res.frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--segment-s", type=float, default=SaferoadConfig().edge.loop_segment_s)
    args = ap.parse_args()
    rc = SaferoadConfig().road_events
    with tempfile.TemporaryDirectory() as tmp:
        loop = Path(tmp) / "loop"
        _loop(loop, args.segment_s)
        segs = video_segments(loop)
        border = segs[0].end
        windows = {"inside one segment": (segs[0].start + args.segment_s / 2 - rc.clip_before_s, segs[0].start + args.segment_s / 2 + rc.clip_after_s),
                   "across a border": (border - rc.clip_before_s, border + rc.clip_after_s)}  # fmt: skip
        full = segs[0].path.stat().st_size / 2**20
        print(
            f"loop: {len(segs)} segments, the first {segs[0].end - segs[0].start:.1f} s ({full:.1f} MiB)"
        )
        folder = VideoLoopFolder(loop)
        for name, (a, b) in windows.items():
            # before: the run's overlapping segments byte-joined into the cutting folder
            over = [s for s in segs if s.start <= b and a <= s.end]
            work = Path(tmp) / "before"
            work.mkdir()
            w0 = _wchar()
            with (work / "loop_window.ts").open("wb") as dst:
                for s in over:
                    with s.path.open("rb") as f:
                        shutil.copyfileobj(f, dst)
            before = _wchar() - w0
            shutil.rmtree(work)
            # now: the segment, or a concat: URL over the segments, read in place
            w0 = _wchar()
            found = folder.video_for(a, b, a + (b - a) * 2 / 3)
            now = _wchar() - w0
            assert found is not None
            print(f"{name} ({len(over)} segment(s)): {now} bytes written to hand the cutter its video "
                  f"(baseline byte-join: {before / 2**20:.2f} MiB)")  # fmt: skip
        # the cut itself, the same either way: the clip across the border, read through concat:
        a, b = windows["across a border"]
        found = folder.video_for(a, b, a + (b - a) * 2 / 3)
        assert found is not None and found[0].startswith("concat:"), found
        w0 = _wchar()
        frames = _cut(found[0], found[1], a, b, Path(tmp) / "cut")
        print(
            f"+ the clip cut from it (MP4 + JPEG, {frames} frames, max width {rc.clip_max_width}): {(_wchar() - w0) / 2**20:.2f} MiB written"
        )


if __name__ == "__main__":
    main()
