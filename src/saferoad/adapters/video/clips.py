"""Event clips and snapshots: a short MP4 around each video event and a JPEG of its key frame,
both with the tracked boxes drawn.

One decoding pass over the recording's video serves every clip (it seeks over long stretches
without a clip): each frame whose time falls
in a clip's window (``key - before`` to ``key + after``; Lytx keeps 8 s before and 4 s after a
trigger) is annotated and encoded into that clip (H.264 through PyAV, ``yuv420p``, so any
browser plays it). The snapshot is the frame nearest the key moment. Boxes come from the
tracks the road stage found; on frames the detector skipped (a stride) the latest earlier
tracks are drawn.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from saferoad.domain.types import ImageArray, RoadClass, TrackedObject
from saferoad.observability import get_logger
from saferoad.ports.clips import ClipRequest, ClipResult

log = get_logger("video.clips")

__all__ = ["ClipRequest", "ClipResult", "cut_clips", "draw_tracks"]

COLOURS = {
    RoadClass.VEHICLE: (80, 200, 80),
    RoadClass.PERSON: (60, 180, 255),
    RoadClass.BICYCLE: (255, 200, 60),
    RoadClass.TRAFFIC_LIGHT: (255, 255, 0),
    RoadClass.STOP_SIGN: (200, 60, 255),
}
LEAD_COLOUR = (40, 40, 255)
SEEK_GAP_S = 4.0
"""With no clip open and the next window further ahead than this, seek rather than decode."""


def draw_tracks(
    image: ImageArray, objects: Sequence[TrackedObject], *, highlight: frozenset[int] = frozenset(),
    caption: str | None = None,
) -> ImageArray:
    """A copy of ``image`` with each object's box, id, class and distance drawn."""
    out = image.copy()
    h = out.shape[0]
    thick = max(1, round(h / 360))
    scale = max(0.4, h / 900)
    for o in objects:
        lead = o.is_lead or o.track_id in highlight
        colour = LEAD_COLOUR if lead else COLOURS.get(o.cls, (200, 200, 200))
        x1, y1, x2, y2 = (round(v) for v in o.xyxy)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thick + (1 if lead else 0))
        label = f"{o.track_id} {o.cls.value}"
        if o.distance_m is not None and math.isfinite(o.distance_m):
            label += f" {o.distance_m:.1f}m"
        lamp = o.attributes.get("lamp")
        if lamp:
            label += f" {lamp}"
        cv2.putText(out, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, scale, colour,
                    thick, cv2.LINE_AA)
    if caption:
        (tw, th), base = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, scale * 1.2, thick)
        cv2.rectangle(out, (0, 0), (tw + 20, th + base + 16), (0, 0, 0), -1)
        cv2.putText(out, caption, (10, th + 8), cv2.FONT_HERSHEY_SIMPLEX, scale * 1.2,
                    (255, 255, 255), thick, cv2.LINE_AA)
    return out


class _TrackLookup:
    """Tracks by time; the latest tracked frame at or before a time (within ``hold_s``)."""

    def __init__(self, tracks: Mapping[float, Sequence[TrackedObject]], hold_s: float) -> None:
        self._t = sorted(tracks)
        self._objs = [tracks[t] for t in self._t]
        self._hold = hold_s

    def at(self, t: float) -> Sequence[TrackedObject]:
        i = bisect.bisect_right(self._t, t + 1e-6) - 1
        if i < 0 or t - self._t[i] > self._hold:
            return ()
        return self._objs[i]


def _even(x: float) -> int:
    return max(2, round(x / 2) * 2)


def cut_clips(
    video: Path | str,
    requests: Sequence[ClipRequest],
    tracks: Mapping[float, Sequence[TrackedObject]],
    out_dir: Path,
    *,
    time_offset_s: float = 0.0,
    max_width: int = 1280,
    hold_s: float = 0.5,
) -> list[ClipResult]:
    """Cut ``requests`` from ``video`` (a file or an FFmpeg input URL) in one decoding pass; writes
    ``out_dir/clips/NAME.mp4`` and ``out_dir/snapshots/NAME.jpg``.

    ``tracks`` maps a frame's time (recording clock) to its tracked objects. Returns one
    :class:`ClipResult` per request, in order (``clip`` None when no frame fell in its window).
    """
    clips_dir, snaps_dir = out_dir / "clips", out_dir / "snapshots"
    if not requests:
        return []
    clips_dir.mkdir(parents=True, exist_ok=True)
    snaps_dir.mkdir(parents=True, exist_ok=True)
    lookup = _TrackLookup(tracks, hold_s)
    order = sorted(range(len(requests)), key=lambda i: requests[i].start_s)
    writers: dict[int, tuple[av.container.OutputContainer, av.video.stream.VideoStream]] = {}
    counts = [0] * len(requests)
    best_snap: list[tuple[float, ImageArray | None]] = [(math.inf, None)] * len(requests)
    done: set[int] = set()
    try:
        container = av.open(str(video))
    except (av.error.FFmpegError, OSError) as err:
        raise ValueError(f"{video}: cannot open video for clips: {err}") from None
    try:
        vstream = container.streams.video[0]
        rate = vstream.average_rate or vstream.guessed_rate or Fraction(10)
        fps = Fraction(rate).limit_denominator(1000)
        src_w, src_h = vstream.codec_context.width, vstream.codec_context.height
        scale = min(1.0, max_width / src_w) if src_w else 1.0
        out_w, out_h = _even(src_w * scale), _even(src_h * scale)
        tb = vstream.time_base or Fraction(1, 90000)
        first_pts: int | None = None
        for frame in container.decode(vstream):  # the clock's zero: the first frame's pts
            if frame.pts is not None:
                first_pts = frame.pts
                break
        if first_pts is None:
            raise ValueError(f"{video}: no video frames to cut clips from")
        last_end = max(r.end_s for r in requests)
        last_target = -math.inf
        while True:
            pending = [requests[i].start_s for i in order if i not in done]
            if not pending:
                break
            target = min(pending)
            last_target = target
            # jump to (the keyframe before) a second ahead of the next window
            seek_s = max(0.0, target - time_offset_s - 1.0)
            container.seek(first_pts + int(seek_s / tb), stream=vstream, backward=True)
            jumped = False
            for frame in container.decode(vstream):
                if frame.pts is None:
                    continue
                t = float((frame.pts - first_pts) * tb) + time_offset_s
                if t > last_end + 1e-6:
                    break
                active = [i for i in order if i not in done and requests[i].start_s - 1e-6 <= t]
                for i in active:
                    if t > requests[i].end_s + 1e-6:
                        _close(writers.pop(i, None))
                        done.add(i)
                active = [i for i in active if i not in done]
                if not active:
                    upcoming = [requests[i].start_s for i in order if i not in done]
                    if not upcoming:
                        break
                    nxt = min(upcoming)
                    if nxt - t > SEEK_GAP_S and nxt > last_target:
                        jumped = True  # a long stretch without clips: seek instead of decoding
                        break
                    continue
                image: ImageArray = np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
                objs = lookup.at(t)
                for i in active:
                    req = requests[i]
                    drawn = draw_tracks(image, objs, highlight=req.highlight, caption=req.caption)
                    if i not in writers:
                        writers[i] = _open_writer(clips_dir / f"{req.name}.mp4", fps, out_w, out_h)
                    out_c, out_s = writers[i]
                    small = drawn if scale == 1.0 else cv2.resize(
                        drawn, (out_w, out_h), interpolation=cv2.INTER_AREA
                    )
                    vf = av.VideoFrame.from_ndarray(
                        np.ascontiguousarray(small, dtype=np.uint8), format="bgr24"
                    )
                    for packet in out_s.encode(vf):
                        out_c.mux(packet)
                    counts[i] += 1
                    dt = abs(t - (req.key_s if req.snapshot_s is None else req.snapshot_s))
                    if dt < best_snap[i][0]:
                        best_snap[i] = (dt, drawn)
            if not jumped:
                break
    finally:
        for w in writers.values():
            _close(w)
        container.close()
    results = []
    for i, req in enumerate(requests):
        clip = clips_dir / f"{req.name}.mp4" if counts[i] else None
        snap = None
        snap_image = best_snap[i][1]
        if snap_image is not None:
            snap = snaps_dir / f"{req.name}.jpg"
            if not cv2.imwrite(str(snap), snap_image, [cv2.IMWRITE_JPEG_QUALITY, 88]):
                raise OSError(f"{snap}: could not write the snapshot")
        results.append(ClipResult(clip, snap, counts[i], (req.start_s, req.end_s)))
    log.info("clips_written", clips=sum(1 for r in results if r.clip), video=str(video))
    return results


def _open_writer(
    path: Path, fps: Fraction, width: int, height: int
) -> tuple[av.container.OutputContainer, av.video.stream.VideoStream]:
    out = av.open(str(path), mode="w")
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    stream = out.add_stream(codec, rate=fps)
    assert isinstance(stream, av.video.stream.VideoStream)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    if codec == "libx264":
        # SPS/PPS repeated in-band before every key frame (x264 repeat-headers; the MP4's avcC
        # keeps them too): a clip cut short before its index is written (a crash mid-clip) is
        # rebuilt from its media data by adapters/video/repair.py, as the simulator's videos are
        stream.options = {"preset": "veryfast", "crf": "26", "x264-params": "repeat-headers=1"}
    return out, stream


def _close(w: tuple[av.container.OutputContainer, av.video.stream.VideoStream] | None) -> None:
    if w is None:
        return
    out, stream = w
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
