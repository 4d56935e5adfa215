"""Time to rebuild a video whose MP4 index was lost (issue 14, defect 2): the NAL walk of
:func:`saferoad.adapters.video.repair.recover_video` (mdat read as H.264 NAL units, frames
muxed into a new MP4, the first 30 decoded strictly) against the remux it does for a file whose
index survived (every packet demuxed and muxed again), on the same video in the same run.

    .venv/bin/python benchmarks/bench_video_rebuild.py [--frames 3000]

The video: ``--frames`` frames of 640x360 at 10 fps from the simulator's encoder
(:func:`saferoad.adapters.simulation.render.encode_video`, x264 ultrafast, SPS/PPS in-band),
a moving textured scene. The rebuild input is the file without its ``moov`` box (a power cut
just before the index was written: every frame is in the media data). Prints the seconds and
frames per second of each, best of three.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from saferoad.adapters.simulation.render import encode_video
from saferoad.adapters.video.avc import find_mdat
from saferoad.adapters.video.repair import recover_video

W, H, FPS = 640, 360, 10


def frames(n: int):  # type: ignore[no-untyped-def]
    texture = np.random.default_rng(0).integers(0, 24, (H, W + 400, 3), dtype=np.uint8)
    for i in range(n):
        img = texture[:, (3 * i) % 400 : (3 * i) % 400 + W].copy()
        img[:, (7 * i) % W : (7 * i) % W + 30] = (40, 200, 230)
        yield img


def remux(src: Path, dst: Path) -> int:
    """The baseline: what recover_video does when the index survived (all packets whole)."""
    n = 0
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = inp.streams.video[0]
        ostream = out.add_stream_from_template(stream)
        for p in inp.demux(stream):
            if p.dts is None:
                continue
            p.stream = ostream
            out.mux(p)
            n += 1
    return n


def best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=3000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        whole = work / "whole.mp4"
        encode_video(whole, frames(args.frames), FPS, W, H)
        data = whole.read_bytes()
        mdat = find_mdat(data)
        assert mdat is not None
        cut = work / "cut.mp4"
        cut.write_bytes(data[: mdat.end])
        print(f"video: {args.frames} frames {W}x{H}, {len(data) / 2**20:.1f} MiB")
        kept: list[int] = []

        def rebuild() -> None:
            check = recover_video(cut, work, fps=FPS)
            kept.append(check.packets_kept)

        t_rebuild = best(rebuild)
        assert kept[-1] == args.frames, kept
        t_remux = best(lambda: remux(whole, work / "remuxed.mp4"))
        print(f"rebuild from the media data (index lost): {t_rebuild:.3f} s, {args.frames / t_rebuild:.0f} frames/s")
        print(f"baseline remux (index intact):            {t_remux:.3f} s, {args.frames / t_remux:.0f} frames/s")


if __name__ == "__main__":
    main()
