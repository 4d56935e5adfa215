"""What a cut video still holds: check a recording's video before analysis, recover the rest.

A power cut leaves an MP4 whose end is missing. When its index (``moov``) was written first
(faststart) or per fragment, the packets before the cut are intact: :func:`recover_video`
copies every packet that lies wholly inside the file into a new MP4 (a remux: no decoding, no
quality loss), so frames, tracking and clips work on what exists. When the index was to be
written at the end, the cut removed it together with the codec parameters, and no frame can
be decoded: the video is reported unusable and analysis goes on with the sensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av


@dataclass(frozen=True, slots=True)
class VideoCheck:
    """``path``: the video to analyse (the original, a recovered copy, or None when nothing
    is readable); ``damage``: what was wrong, in words (None when the file is whole)."""

    path: Path | None
    damage: str | None = None
    packets_kept: int = 0
    packets_declared: int = 0

    def summary(self, name: str) -> dict[str, object]:
        return {
            "file": name,
            "problem": self.damage,
            "recovered": self.path is not None,
            "frames_kept": self.packets_kept,
            "frames_declared": self.packets_declared,
        }


def recover_video(src: Path, work_dir: Path) -> VideoCheck:
    """Check ``src``; when it is cut short, remux its intact packets to ``work_dir``."""
    size = src.stat().st_size
    try:
        container = av.open(str(src))
    except (av.error.FFmpegError, OSError) as err:
        return VideoCheck(None, f"{src}: cannot open video ({err}): no frame is recoverable (cut before its index was written?)")
    try:
        if not container.streams.video:
            return VideoCheck(None, f"{src}: no video stream")
        stream = container.streams.video[0]
        declared = int(stream.frames or 0)
        whole, cut, error = 0, 0, None
        try:
            for p in container.demux(stream):
                if p.dts is None:
                    continue
                if _reaches_end(p, size):
                    cut += 1
                else:
                    whole += 1
        except (av.error.FFmpegError, OSError) as err:
            error = err
    finally:
        container.close()
    if error is None and (not declared or whole + cut >= declared):  # all there
        return VideoCheck(src, None, whole + cut, declared)
    out = work_dir / f"{src.stem}.recovered.mp4"
    kept = _remux_whole_packets(src, out, size)
    why = f"demuxing stopped: {error}" if error is not None else "cut short"
    if kept == 0:
        return VideoCheck(None, f"{src}: {why}; no whole frame left", 0, declared)
    return VideoCheck(
        out,
        f"{src}: {why}: {kept} of {declared or '?'} frames intact, analysed from a remuxed copy",
        kept,
        declared,
    )


def _reaches_end(p: Any, size: int) -> bool:
    """A packet that ends at (or past) the end of a file whose index lists more packets than
    it holds: the demuxer returns what is there of the last one, so it is cut."""
    return p.pos is not None and p.pos >= 0 and p.pos + p.size >= size


def _remux_whole_packets(src: Path, dst: Path, size: int) -> int:
    kept = 0
    with av.open(str(src)) as inp:
        stream = inp.streams.video[0]
        with av.open(str(dst), mode="w") as out:
            ostream = out.add_stream_from_template(stream)
            try:
                for p in inp.demux(stream):
                    if p.dts is None or _reaches_end(p, size):
                        continue
                    p.stream = ostream
                    out.mux(p)
                    kept += 1
            except (av.error.FFmpegError, OSError):
                pass  # the rest of the file is unreadable: keep what was copied
    return kept
