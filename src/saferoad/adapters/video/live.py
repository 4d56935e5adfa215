"""A live camera through an ``ffmpeg`` subprocess: V4L2 (``/dev/video0``), RTSP/HTTP URLs or a
file read at its native rate, decoded to BGR frames into a bounded ring.

The pattern Frigate uses for its cameras (``frigate/video/ffmpeg.py``): the decoder is a child
process (a codec crash or a hung network read never takes the recorder down), its raw frames
are read by a thread into a ring that never blocks the reader - when the consumer (inference)
falls behind, the oldest frame is dropped and counted, so memory stays flat however slow the
consumer is - and a watchdog restarts the child when no frame arrived for ``stall_s`` or it
exited. Every gap (last frame before the failure to first frame after the restart) is recorded.

The decoder's log (stderr) is drained by its own thread for as long as the child runs, as
Frigate's ``LogPipe`` does, into a bounded tail (the last ``LOG_TAIL_LINES`` lines, for the error
message and the status): a pipe nobody reads holds 64 KiB, and a decoder that keeps logging - a
flaky camera logs every corrupt packet - would block on its next write, stop sending frames and be
restarted by the watchdog again and again.

With ``loop_video`` the same ffmpeg process also writes the camera's video loop (MPEG-TS
segments, ``adapters/video/loop_video.py``): encoded from the very frames decoded here, or the
source's H.264 packets copied; each run's segments are moved into the loop folder as they finish,
the unfinished one when the run ends (and, after a kill -9 of the recorder, at the next start).
"""

from __future__ import annotations

import io
import math
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from saferoad.adapters.video.loop_video import LoopRun, LoopVideoSpec, recover_runs
from saferoad.domain.types import Frame

LOG_TAIL_LINES = 50
"""Lines of the decoder's log kept (the rest is read and counted, never kept)."""
LOG_LINE_MAX = 1000
"""Characters kept of one log line (a line without an end is cut there)."""

LIVE_PREFIXES = ("/dev/", "rtsp://", "http")
"""Sources that are live (a device or a stream); anything else is a file."""


def is_live(url: str) -> bool:
    return url.startswith(LIVE_PREFIXES)


@dataclass
class SourceStats:
    frames: int = 0
    """Frames read from the decoder."""
    delivered: int = 0
    dropped: int = 0
    """Frames the consumer never took (the ring was full)."""
    restarts: int = 0
    gaps: list[tuple[float, float]] = field(default_factory=list)
    """(last frame before, first frame after) each restart, monotonic seconds."""
    last_error: str | None = None
    log_bytes: int = 0
    """Bytes the decoder wrote to its log (stderr), all runs."""
    log_tail: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL_LINES))
    """The decoder's last log lines, all runs."""


class FfmpegFrameSource:
    """``read()`` returns the oldest frame in the ring (or None after ``timeout_s``); timestamps
    are arrival times on the monotonic clock, from the source's start."""

    def __init__(
        self,
        url: str,
        width: int,
        height: int,
        *,
        realtime: bool = False,
        ring: int = 8,
        stall_s: float = 2.0,
        ffmpeg: str = "ffmpeg",
        loop_file: bool = False,
        fps: float | None = None,
        loop_video: LoopVideoSpec | None = None,
    ) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"camera size {width}x{height}: must be positive and even")
        self.url = url
        self.width, self.height = width, height
        self.realtime = realtime
        self.stall_s = stall_s
        self.ffmpeg = ffmpeg
        self.loop_file = loop_file
        self.fps = fps
        """Resample the stream to this rate (ffmpeg's fps filter); None: as it comes."""
        self.loop_video = loop_video
        """Also write the video loop's segments (None: decode only)."""
        self.loop_segments = 0
        """Video loop segments finished and moved into the loop folder."""
        self._run: LoopRun | None = None
        self.stats = SourceStats()
        self._ring: deque[Frame] = deque(maxlen=ring)
        self._cond = threading.Condition()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_reader: threading.Thread | None = None
        self._log_lock = threading.Lock()
        """A run's reader may still drain its dead decoder's last lines as the next one starts."""
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._last_frame = -math.inf
        self._gap_from: float | None = None
        self._index = 0
        if loop_video is not None:
            self.loop_segments += recover_runs(loop_video)  # a previous recorder's, killed
        self._start()
        self._watchdog = threading.Thread(target=self._watch, name="camera-watchdog", daemon=True)
        self._watchdog.start()

    # -- consumer ---------------------------------------------------------------------------

    def read(self, timeout_s: float = 1.0) -> Frame | None:
        with self._cond:
            if not self._ring:
                self._cond.wait(timeout_s)
            if not self._ring:
                return None
            self.stats.delivered += 1
            return self._ring.popleft()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def started_at(self) -> float:
        """Monotonic time of the source's start: a frame's ``t_s`` counts from it."""
        return self._t0

    @property
    def backlog(self) -> int:
        """Frames waiting in the ring (the consumer is behind when this grows)."""
        return len(self._ring)

    @property
    def last_frame_at(self) -> float | None:
        """Monotonic time the newest frame came from the decoder (the camera's heartbeat)."""
        return self._last_frame if math.isfinite(self._last_frame) else None

    def close(self) -> None:
        self._stop.set()
        self._watchdog.join(timeout=5)
        # the video loop's last segment is finished by ffmpeg itself on SIGTERM (a kill would cut it)
        self._kill(graceful=self.loop_video is not None)
        self._end_run()

    def _end_run(self) -> None:
        run, self._run = self._run, None
        if run is not None:
            self.loop_segments += run.finish()

    # -- decoder ----------------------------------------------------------------------------

    def _cmd(self) -> list[str]:
        cmd = [self.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error"]
        if self.realtime:
            cmd.append("-re")
        if self.loop_file:
            cmd += ["-stream_loop", "-1"]
        if self.url.startswith("/dev/video"):
            cmd += ["-f", "v4l2"]
        elif self.url.startswith("rtsp://"):
            cmd += ["-rtsp_transport", "tcp"]
        vf = f"scale={self.width}:{self.height}" if self.fps is None else f"fps={self.fps},scale={self.width}:{self.height}"
        raw = ["-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"]
        lv, run = self.loop_video, self._run
        if lv is None or run is None:
            return [*cmd, "-i", self.url, "-an", "-vf", vf, *raw]
        rec = lv.output_args(run.dir, self.fps)
        if lv.codec == "copy":  # the source's packets; the frames decoded beside them
            return [*cmd, "-i", self.url, "-map", "0:v:0", "-vf", vf, *raw, "-map", "0:v:0", *rec]
        # the very frames inference gets, encoded: one filter chain split in two
        graph = f"[0:v:0]{vf},split=2[raw][rec]"
        return [*cmd, "-i", self.url, "-filter_complex", graph, "-map", "[raw]", *raw, "-map", "[rec]", *rec]

    def _start(self) -> None:
        if self.loop_video is not None:
            self._run = LoopRun(self.loop_video, self.fps)
        self._proc = subprocess.Popen(self._cmd(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        threading.Thread(target=self._read, args=(self._proc, self._run), name="camera-reader", daemon=True).start()
        self._log_reader = threading.Thread(target=self._drain_log, args=(self._proc,), name="camera-log", daemon=True)
        self._log_reader.start()

    def _drain_log(self, proc: subprocess.Popen[bytes]) -> None:
        """Read the decoder's stderr until it closes (the child exited), keeping the last lines."""
        assert proc.stderr is not None
        stderr = cast(io.RawIOBase, proc.stderr)  # bufsize=0: whatever the pipe holds, one read
        tail, partial = self.stats.log_tail, b""
        while chunk := stderr.read(65536):
            *lines, partial = (partial + chunk).replace(b"\r", b"\n").split(b"\n")
            partial = partial[-LOG_LINE_MAX:]
            with self._log_lock:
                self.stats.log_bytes += len(chunk)
                tail.extend(t for line in lines[-LOG_TAIL_LINES:] if (t := line[:LOG_LINE_MAX].decode(errors="replace").strip()))
        if partial.strip():
            with self._log_lock:
                tail.append(partial.decode(errors="replace").strip())

    def _read(self, proc: subprocess.Popen[bytes], run: LoopRun | None) -> None:
        size = self.width * self.height * 3
        assert proc.stdout is not None
        stdout = cast(io.RawIOBase, proc.stdout)  # bufsize=0: the pipe's raw file
        while not self._stop.is_set() or (run is not None and proc.poll() is None):
            buf = bytearray(size)  # a fresh one per frame: the image below is a view of it
            view, got = memoryview(buf), 0
            while got < size:
                n = stdout.readinto(view[got:])
                if not n:
                    return  # the decoder exited: the watchdog restarts it
                got += n
            now = time.monotonic()
            if run is not None:
                run.frame(now)
            if self._stop.is_set():
                continue  # closing: drained so that ffmpeg can finish the video loop's segment
            image = np.frombuffer(buf, dtype=np.uint8).reshape(self.height, self.width, 3)
            with self._cond:
                if self._gap_from is not None:
                    self.stats.gaps.append((self._gap_from, now))
                    self._gap_from = None
                if len(self._ring) == self._ring.maxlen:
                    self.stats.dropped += 1  # the oldest goes: never block the decoder
                self._ring.append(Frame(self._index, now - self._t0, image))
                self._index += 1
                self.stats.frames += 1
                self._last_frame = now
                self._cond.notify()

    def _kill(self, graceful: bool = False) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            if graceful:
                proc.terminate()
                try:
                    proc.wait(timeout=3)
                    return
                except subprocess.TimeoutExpired:
                    pass
            proc.kill()
            proc.wait(timeout=5)

    def _watch(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(0.1):
            if self._run is not None:
                self.loop_segments += self._run.collect()
            proc = self._proc
            now = time.monotonic()
            exited = proc is not None and proc.poll() is not None
            stalled = now - max(self._last_frame, started) > self.stall_s
            if not (exited or stalled):
                continue
            if exited and not self.loop_file and proc is not None and proc.returncode == 0 and not is_live(self.url):
                return  # a file that simply ended
            err = ""
            if exited and self._log_reader is not None:
                self._log_reader.join(timeout=1.0)  # its last lines: the pipe ends with the child
                with self._log_lock:
                    err = " | ".join(list(self.stats.log_tail)[-3:])[-300:]
            self.stats.last_error = (
                f"decoder exited ({proc.returncode if proc else '?'}): {err}"
                if exited else f"no frame for {self.stall_s} s"
            )
            with self._cond:
                if self._gap_from is None:
                    self._gap_from = self._last_frame if math.isfinite(self._last_frame) else started
            self._kill()
            ended, self._run = self._run, None
            self.stats.restarts += 1
            started = time.monotonic()
            self._start()
            if ended is not None:
                # after the restart: naming its cut segment decodes it (seconds for a minute of
                # video), which must not lengthen the camera's gap
                self.loop_segments += ended.finish()
