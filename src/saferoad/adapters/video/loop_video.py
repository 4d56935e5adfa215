"""The road camera's own video loop, as dashcams record it: continuous MPEG-TS segments of
``segment_s`` written by the camera's ffmpeg process beside its decoded frames, named by their
absolute start and end (µs since the epoch) like the sensor segments (ms), so one retention
(``adapters/loop/segments.LoopStore``: oldest first within the budget, segments holding an event
not yet uploaded locked) covers both.

How ffmpeg writes them (its ``segment`` muxer, second output of the decoding process):

* ``libx264`` (raw sources: V4L2, MJPEG over HTTP, a file): the very frames handed to inference
  (same ``fps`` and ``scale`` filters, ``split``) encoded ``ultrafast`` at ``crf``, a key frame
  every ``gop_s`` and one forced at each segment boundary, so segments are ``segment_s`` long;
* ``copy`` (an H.264 stream, RTSP): the camera's packets as they come, no re-encoding; segments
  are cut at the camera's own key frames (at or after ``segment_s``).

Why MPEG-TS: it has no index to write at the end (an MP4 killed before its ``moov`` needs the
NAL-scan repair), each segment carries SPS/PPS before its key frames (libx264 repeats them when the
muxer asks for no global header; ``h264_mp4toannexb`` inserts them when copying), and with
``flush_packets=1`` every packet reaches the file as it is muxed: a segment cut by a kill -9
plays up to the cut. Byte-concatenated segments of one run are one continuous stream (their
timestamps continue), which is how a clip spanning two segments is cut.

Each decoder run writes into ``FOLDER/.recording/run_<ms>/`` (``part_NNNNN.ts`` and ffmpeg's
``list.csv``: each finished segment with its start and end in stream time). Finished segments
are fsynced and renamed into ``FOLDER/vid_<start>_<end>_r<run>.ts`` as they appear. A segment's
start is the time the recorder gave its first frame: the least-delayed arrival
(:class:`~saferoad.domain.frame_clock.FrameClock`, the estimator the recorder times the same
frames with, over the same arrivals), as it stood when that frame arrived; its end, the start plus
its length in stream time. The estimate moves as the decoder's delay does (its window is 10 s), so
consecutive names may step by that much; a clip is placed by the segment holding its key moment.
A step is only ever forward: a segment of a run starts no earlier than the previous one ended
(when the estimate moves back - frames arriving less delayed than the first ones did - the
segment keeps the previous end as its start), so one run's segments never overlap.
The latest estimate is kept in ``base.json`` for a run that must be finished by the next start. A run that ended (decoder restarted, source closed, or the recorder killed: found
at the next start) has its last, unfinished segment probed and renamed with the times of the
frames it holds; one with no whole frame is removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from saferoad.adapters.spool.sqlite import write_durably
from saferoad.domain.frame_clock import FrameClock
from saferoad.observability import get_logger

log = get_logger("video.loop")

VIDEO_NAME = re.compile(r"^vid_(\d{16})_(\d{16})_r(\d+)\.ts$")
"""Start and end in microseconds since the epoch (a clip's window edge falls on a frame's time:
milliseconds would move it by up to half a millisecond, to either side of that frame)."""
RECORDING = ".recording"
CODECS = ("copy", "libx264")


@dataclass(frozen=True, slots=True)
class LoopVideoSpec:
    """Where and how the camera's ffmpeg writes its video loop."""

    folder: Path
    segment_s: float
    codec: str = "libx264"
    """``libx264`` (encode the decoded frames) or ``copy`` (the source's H.264 packets)."""
    crf: int = 23
    gop_s: float = 1.0
    """libx264: a key frame at least this often (a clip's seek decodes at most this much)."""

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"loop video codec {self.codec!r}: expected one of {', '.join(CODECS)}")
        if not self.segment_s > 0 or not self.gop_s > 0:
            raise ValueError("loop video: segment_s and gop_s must be > 0")

    def output_args(self, run_dir: Path, fps: float | None) -> list[str]:
        """ffmpeg's arguments for the segment output (after its ``-map``)."""
        seg = f"{self.segment_s:g}"
        if self.codec == "copy":
            codec = ["-c:v", "copy"]
        else:
            gop = max(1, round(self.gop_s * (fps or 30.0)))
            codec = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", str(self.crf), "-pix_fmt", "yuv420p",
                     "-g", str(gop), "-force_key_frames", f"expr:gte(t,n_forced*{seg})"]  # fmt: skip
        return [
            *codec, "-f", "segment", "-segment_time", seg, "-segment_format", "mpegts",
            "-segment_format_options", "flush_packets=1",
            "-segment_list", str(run_dir / "list.csv"), "-segment_list_type", "csv",
            str(run_dir / "part_%05d.ts"),
        ]  # fmt: skip


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ms(t: float) -> str:
    return f"{round(t * 1e3):013d}"


def _us(t: float) -> str:
    return f"{round(t * 1e6):016d}"


class LoopRun:
    """One decoder run's segments: frames place its stream time on the wall clock, finished
    segments are moved into the loop folder (:meth:`collect`), the unfinished one when the
    run ended (:meth:`finish`)."""

    def __init__(self, spec: LoopVideoSpec, fps: float | None, run_dir: Path | None = None) -> None:
        self.spec = spec
        self.fps = fps
        self.wall_minus_mono = time.time() - time.monotonic()
        if run_dir is None:
            run_dir = spec.folder / RECORDING / f"run_{_ms(time.time())}"
            run_dir.mkdir(parents=True, exist_ok=True)
        self.dir = run_dir
        self.run_id = run_dir.name.removeprefix("run_")
        self._clock = None if fps is None else FrameClock(1.0 / fps)
        self.frames = 0
        self.base: float | None = None
        """Wall time (epoch s) of the run's stream time 0 (the latest estimate)."""
        self._bases: deque[tuple[int, float]] = deque()
        """(first frame, base) each time the estimate moved: the base each frame was timed by."""
        self._bases_lock = threading.Lock()
        """:meth:`frame` runs on the camera's reader thread, :meth:`base_at` on its watchdog's
        (:meth:`collect`): an append during the lookup's walk would raise in the watchdog."""
        self._saved_base: float | None = None
        self.listed = 0
        self.last_end = 0.0
        """Stream time where the last moved segment ended."""
        self._wall_end: float | None = None
        """Wall time (epoch s) the last moved segment's name ends at: the next one starts no
        earlier (the estimate moves back when frames arrive less delayed than the first did)."""
        self._list_size = -1

    @classmethod
    def resume(cls, spec: LoopVideoSpec, run_dir: Path) -> LoopRun:
        """A run left by an earlier process (its ``base.json``; moved segments are gone)."""
        run = cls(spec, None, run_dir)
        try:
            saved = json.loads((run_dir / "base.json").read_text())
            run.base, run.fps = float(saved["base"]), saved.get("fps")
        except (OSError, ValueError, KeyError, TypeError):
            run.base = None
        return run

    def frame(self, arrival_mono: float) -> None:
        """The run's next decoded frame arrived (monotonic seconds)."""
        k = self.frames
        self.frames += 1
        if self._clock is not None and self.fps is not None:
            mono0 = self._clock.time(k, arrival_mono) - k / self.fps
        elif k == 0:
            mono0 = arrival_mono
        else:
            return
        base = mono0 + self.wall_minus_mono
        if base != self.base:
            self.base = base
            with self._bases_lock:
                self._bases.append((k, base))
        if self._saved_base is None:
            self._save()

    def base_at(self, stream_t: float) -> float:
        """The base the frame at ``stream_t`` was timed by (the latest for a resumed run)."""
        assert self.base is not None
        k = round(stream_t * self.fps) if self.fps else 0
        found = self.base
        with self._bases_lock:
            for k_from, base in reversed(self._bases):
                if k_from <= k:
                    found = base
                    break
            while len(self._bases) > 1 and self._bases[1][0] <= k:
                self._bases.popleft()  # segments finish in order: earlier frames are never asked again
        return found

    def _save(self) -> None:
        if self.base is None:
            return
        write_durably(self.dir / "base.json", json.dumps({"base": self.base, "fps": self.fps}).encode())
        self._saved_base = self.base

    def collect(self) -> int:
        """Move the segments ffmpeg finished since the last call; how many."""
        lst = self.dir / "list.csv"
        try:
            size = lst.stat().st_size
        except FileNotFoundError:
            return 0
        if size == self._list_size or self.base is None:
            return 0
        self._list_size = size
        rows = [r.split(",") for r in lst.read_text().splitlines() if r.strip()]
        moved = 0
        for name, a, b in (r[:3] for r in rows[self.listed :] if len(r) >= 3 and r[2]):
            moved += self._move(self.dir / name, float(a), float(b))  # (moved before a kill: gone)
            self.listed += 1
            self.last_end = float(b)
        if moved and self.base != self._saved_base:
            self._save()
        return moved

    def _move(self, part: Path, a: float, b: float) -> int:
        if not part.is_file():
            return 0
        with part.open("rb+") as fh:
            os.fsync(fh.fileno())
        start = self.base_at(a) + a
        if self._wall_end is not None:
            start = max(start, self._wall_end)  # consecutive segments of a run never overlap
        self._wall_end = start + b - a
        dst = self.spec.folder / f"vid_{_us(start)}_{_us(start + b - a)}_r{self.run_id}.ts"
        os.replace(part, dst)
        _fsync_dir(self.spec.folder)
        return 1

    def finish(self) -> int:
        """The run ended (its ffmpeg is gone): move what is left, the unfinished segment named
        by the frames it holds; remove the run's folder. How many segments were moved."""
        moved = self.collect()
        done = {f"part_{i:05d}.ts" for i in range(self.listed)}
        for part in sorted(self.dir.glob("part_*.ts")):
            if part.name in done or self.base is None:
                continue
            span = probe_span(part)
            if span is None:
                continue  # no whole frame: nothing to keep
            start = self.last_end
            moved += self._move(part, start, start + span)
            self.last_end = start + span
        shutil.rmtree(self.dir, ignore_errors=True)
        return moved


def probe_span(path: Path) -> float | None:
    """Seconds of video an MPEG-TS segment holds (first frame to one period after the last,
    the frames that decode); None when none does (a segment cut before its first frame)."""
    try:
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            tb = stream.time_base or Fraction(1, 90000)
            pts = [f.pts for f in c.decode(stream) if f.pts is not None]
    except (av.error.FFmpegError, OSError, IndexError):
        return None
    if not pts:
        return None
    period = float((pts[-1] - pts[0]) * tb) / (len(pts) - 1) if len(pts) > 1 else 0.1
    return float((pts[-1] - pts[0]) * tb) + period


def recover_runs(spec: LoopVideoSpec) -> int:
    """Runs an earlier process left (it was killed): their segments moved, the unfinished one
    probed. How many segments were recovered."""
    root = spec.folder / RECORDING
    if not root.is_dir():
        return 0
    n = 0
    for run_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        n += LoopRun.resume(spec, run_dir).finish()
    if n:
        log.info("loop_video_recovered", segments=n, folder=str(spec.folder))
    return n


@dataclass(frozen=True, slots=True)
class VideoSegment:
    path: Path
    start: float
    end: float
    run: str


def video_segments(folder: Path) -> list[VideoSegment]:
    """The finished video segments in ``folder``, oldest first."""
    out = []
    for p in folder.iterdir() if folder.is_dir() else ():
        if (span := video_span(p.name)) is not None:
            out.append(VideoSegment(p, *span))
    return sorted(out, key=lambda s: (s.start, s.path.name))


def video_span(name: str) -> tuple[float, float, str] | None:
    """A finished video segment's start and end (epoch s) and run, read from its name
    (``VIDEO_NAME``); None: not a video segment's name."""
    m = VIDEO_NAME.match(name)
    return None if m is None else (int(m.group(1)) / 1e6, int(m.group(2)) / 1e6, m.group(3))


class VideoLoopFolder:
    """The loop folder's finished video segments as the recorder's clip cutter reads them
    (``ports.live_camera.VideoLoop``)."""

    def __init__(self, folder: Path) -> None:
        if "|" in str(folder.resolve()):  # FFmpeg's concat protocol splits its URL at '|'
            raise ValueError(f"{folder}: edge.loop_dir: a video loop folder's path may not hold '|'")
        self.folder = folder

    def covered_until(self) -> float | None:
        segs = video_segments(self.folder)
        return max(s.end for s in segs) if segs else None

    def video_for(self, start: float, end: float, key: float) -> tuple[str, float] | None:
        """The finished segments of one run that overlap ``start`` .. ``end`` (epoch s) as one
        input FFmpeg opens - the segment's path, or where the window spans two or more an FFmpeg
        ``concat:`` URL over their paths (MPEG-TS: the bytes concatenated, read in place; nothing
        is copied) - and the wall time of its first frame as the segment holding ``key`` places
        it; the run holding most of the window where a restart split it. None: no video."""
        segs = [s for s in video_segments(self.folder) if s.start <= end and start <= s.end]
        if not segs:
            return None
        runs: dict[str, list[VideoSegment]] = {}
        for s in segs:
            runs.setdefault(s.run, []).append(s)
        best = max(runs.values(), key=lambda g: sum(min(end, s.end) - max(start, s.start) for s in g))
        # the run's stream is continuous: its first frame lies the earlier segments' lengths
        # before the start of the segment holding the key moment (timed as the recorder timed
        # the frames around it)
        i = next((j for j, s in enumerate(best) if s.start <= key < s.end), 0 if key < best[0].start else len(best) - 1)
        first = best[i].start - sum(s.end - s.start for s in best[:i])
        return concat_input(best), first


def concat_input(segs: Sequence[VideoSegment]) -> str:
    """One FFmpeg input over ``segs`` in order: the path of one, else the concat protocol's
    ``concat:a.ts|b.ts`` (MPEG-TS concatenates; a byte-joined copy read the same way)."""
    paths = [str(s.path.resolve()) for s in segs]
    return paths[0] if len(paths) == 1 else "concat:" + "|".join(paths)
