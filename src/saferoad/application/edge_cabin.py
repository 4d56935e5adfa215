"""The cabin camera streamed in the edge recorder.

Analyze's cabin stage runs the face pipeline over the whole cabin video, then the rules; on the
device the frames come one at a time. :class:`CabinStream` takes the frames recorded before each
step's end (replay: the recording's ``cabin.mp4`` read lazily on the simulated clock), runs
each through the same face pipeline and phone detector analyze uses
(:func:`saferoad.application.cabin.frame_samples`) into the same
:class:`~saferoad.domain.cabin.monitor.CabinMonitor` (``classify_eyes=True``, as analyze on a
video), fed the freshest ego speed at the frame's time. A recorded ``cabin.csv`` track goes the
same way (``classify_eyes=False``, as analyze on a track).

**Bounded state**: one frame read ahead (the next step's first), and the monitor's own windows
(baselines and PERCLOS over ``cabin.baseline_window_s`` / ``perclos_window_s``, the episode
being built). **Latency**: the monitor emits an episode's event at the first frame after the
episode ended (a drowsiness cluster: the first frame ``cabin.cluster_gap_s`` after its last
slow closure), so the event goes out in the recorder step that brought that frame: at most one
``edge.tick_s`` after the completing frame's time, plus the time to analyse the step's frames.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from saferoad.application.cabin import cabin_models, frame_samples, thresholds_from_config
from saferoad.config.cabin import CabinConfig
from saferoad.domain.cabin.monitor import CabinMonitor
from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.frame_clock import FrameClock
from saferoad.domain.types import CameraIntrinsics, Event, Frame
from saferoad.ports.cabin import CabinPorts, ClosablePhoneDetector, FaceAnalyzer
from saferoad.ports.frames import FrameSource
from saferoad.ports.live_camera import LiveFrameSource

SpeedAt = Callable[[float], float | None]


class CabinStream:
    """Cabin samples (from video frames or a track) into the streaming cabin monitor."""

    def __init__(
        self,
        samples: Iterator[CabinSample],
        config: CabinConfig,
        *,
        classify_eyes: bool,
        source: str,
        closers: list[Callable[[], None]] | None = None,
    ) -> None:
        self.monitor = CabinMonitor(thresholds_from_config(config), classify_eyes=classify_eyes)
        self.source = source
        self._samples = samples
        self._next: CabinSample | None = None
        self._done = False
        self._closers = closers or []
        self.frames = 0
        """Samples (frames) that went through the monitor."""
        self.busy_s = 0.0
        """Wall time spent on them: decoding, face pipeline, phone detector, rules."""

    @classmethod
    def from_track(cls, samples: list[CabinSample], config: CabinConfig, source: str) -> CabinStream:
        """A recorded ``cabin.csv`` track (its ``eyes_closed`` trusted, as analyze does)."""
        return cls(iter(samples), config, classify_eyes=False, source=source)

    @classmethod
    def from_video(
        cls,
        video: str | Path,
        config: CabinConfig,
        ports: CabinPorts,
        intrinsics: CameraIntrinsics | None = None,
        models_root: Path | None = None,
    ) -> CabinStream:
        """A cabin video through the face pipeline and phone detector analyze's cabin stage
        builds from ``ports`` (the same models, the same settings). If a part fails to open (the
        phone model, the video), the parts built before it are closed and the error raised."""
        built: list[Callable[[], None]] = []  # in the order opened
        try:
            ana, phone = cabin_models(ports, config, intrinsics, models_root)
            built.append(ana.close)
            if phone is not None:
                built.append(phone.close)
            frames: FrameSource = ports.open_video(video)
            built.append(frames.close)
            closers: list[Callable[[], None]] = [frames.close, ana.close]
            if phone is not None:
                closers.append(phone.close)
            return cls(frame_samples(frames, ana, phone), config, classify_eyes=True, source=str(video), closers=closers)
        except BaseException as err:
            for close in reversed(built):
                try:
                    close()
                except Exception as close_err:  # the failure to open is the error to raise
                    err.add_note(f"closing a cabin part after that failure also failed: {close_err!r}")
            raise

    def _peek(self) -> CabinSample | None:
        if self._next is None and not self._done:
            self._next = next(self._samples, None)
            self._done = self._next is None
        return self._next

    def first_t(self) -> float | None:
        """The first sample's time (reads one frame ahead), None for an empty stream."""
        s = self._peek()
        return None if s is None else s.t_s

    def arrive(self, until: float, speed_at: SpeedAt) -> list[tuple[float, list[Event]]]:
        """The samples recorded before ``until`` (sensor time) have arrived: each through the
        monitor; returns, per sample that completed events, its time and those events."""
        out: list[tuple[float, list[Event]]] = []
        t0 = time.perf_counter()
        while (s := self._peek()) is not None and s.t_s < until:
            self._next = None
            self._update(s, speed_at, out)
        self.busy_s += time.perf_counter() - t0
        return out

    def push(self, samples: list[CabinSample], speed_at: SpeedAt) -> list[tuple[float, list[Event]]]:
        """Samples analysed elsewhere (the live camera's thread), in time order, through the monitor."""
        out: list[tuple[float, list[Event]]] = []
        for s in samples:
            self._update(s, speed_at, out)
        return out

    def _update(self, s: CabinSample, speed_at: SpeedAt, out: list[tuple[float, list[Event]]]) -> None:
        _, evs = self.monitor.update(s, speed_at(s.t_s))
        self.frames += 1
        if evs:
            out.append((s.t_s, evs))

    def finish(self, speed_at: SpeedAt) -> list[tuple[float, list[Event]]]:
        """Every sample left, then what the monitor still has open (at the last sample's time)."""
        out = self.arrive(float("inf"), speed_at)
        evs = self.monitor.finish()
        if evs:
            out.append((max((e.end_s for e in evs), default=0.0), evs))
        self.close()
        return out

    def close(self) -> None:
        """Close what the stream holds (the video, the face pipeline, the phone detector), each
        one even where one before it fails; then the first failure is raised (any other noted
        on it). Again: nothing."""
        closers, self._closers = self._closers, []
        error: Exception | None = None
        for close in closers:
            try:
                close()
            except Exception as err:
                if error is None:
                    error = err
                else:
                    error.add_note(f"closing another cabin part also failed: {err!r}")
        if error is not None:
            raise error


class LiveCabin:
    """The live cabin camera: frames from a :class:`~saferoad.ports.live_camera.LiveFrameSource`
    (the road camera's class: an ffmpeg child into a ring that drops the oldest, a watchdog)
    analysed on a thread of its own - face pipeline and phone detector, as analyze - into cabin
    samples that wait, bounded, for the recorder's next step; the step runs them through the
    cabin monitor (:meth:`take_events`). Frames are timed on the recorder's clock (seconds since
    ``origin``): by index on a :class:`~saferoad.domain.frame_clock.FrameClock` where the
    camera's rate is configured, else by arrival."""

    def __init__(
        self,
        source: LiveFrameSource,
        config: CabinConfig,
        ports: CabinPorts,
        origin: float,
        *,
        intrinsics: CameraIntrinsics | None = None,
        frame_period_s: float | None = None,
        beat: Callable[[str, float], None] | None = None,
        max_waiting: int = 256,
    ) -> None:
        self.source = source
        self.origin = origin
        self.clock = None if frame_period_s is None else FrameClock(frame_period_s)
        self.beat = beat
        self.analyzer: FaceAnalyzer
        self.phone: ClosablePhoneDetector | None
        self.analyzer, self.phone = cabin_models(ports, config, intrinsics, None)
        self.rules = CabinStream(iter(()), config, classify_eyes=True, source="live")
        self.waiting: deque[CabinSample] = deque(maxlen=max_waiting)
        self.dropped_queue = 0
        self.late = 0
        self.analysed = 0
        self.analyse_s = 0.0
        self.error: str | None = None
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="edge-cabin", daemon=True)

    def start(self) -> LiveCabin:
        self._thread.start()
        return self

    def _frames(self) -> Iterator[Frame]:
        last_t = -math.inf
        restarts = self.source.stats.restarts
        while not self.stop.is_set():
            f = self.source.read(timeout_s=0.25)
            if f is None:
                continue
            t = f.t_s + self.source.started_at - self.origin
            if self.clock is not None:
                if self.source.stats.restarts != restarts:
                    restarts = self.source.stats.restarts
                    self.clock.reset()  # a new decoder: its frames line up from its own start
                t = self.clock.time(f.index, t)
            if t <= last_t:
                self.late += 1
                continue
            last_t = t
            self._began = time.perf_counter()
            yield replace(f, t_s=t)

    _began = 0.0

    def _run(self) -> None:
        try:
            for s in frame_samples(self._frames(), self.analyzer, self.phone):
                self.analysed += 1
                self.analyse_s += time.perf_counter() - self._began
                if self.beat is not None:
                    self.beat("cabin_camera", time.monotonic())
                with self._lock:
                    if len(self.waiting) == self.waiting.maxlen:
                        self.dropped_queue += 1
                    self.waiting.append(s)
        except Exception as err:  # the recorder goes on without the cabin camera, and says why
            self.error = f"{type(err).__name__}: {err}"

    def take_events(self, speed_at: SpeedAt) -> list[tuple[float, list[Event]]]:
        """The samples analysed since the last step through the cabin monitor."""
        with self._lock:
            items = list(self.waiting)
            self.waiting.clear()
        return self.rules.push(items, speed_at)

    def finish(self, speed_at: SpeedAt) -> list[tuple[float, list[Event]]]:
        """Stop the camera and the thread; what is left through the monitor, then its end."""
        self.close()
        out = self.take_events(speed_at)
        evs = self.rules.monitor.finish()
        if evs:
            out.append((max(e.end_s for e in evs), evs))
        return out

    def close(self) -> None:
        if self.stop.is_set():
            return
        self.stop.set()
        self._thread.join(timeout=5)
        self.source.close()
        self.analyzer.close()
        if self.phone is not None:
            self.phone.close()

    def status(self) -> dict[str, object]:
        st = self.source.stats
        return {
            "decoded": st.frames,
            "analysed": self.analysed,
            "dropped_ring": st.dropped,
            "dropped_queue": self.dropped_queue,
            "late": self.late,
            "ms_per_frame": round(self.analyse_s / self.analysed * 1e3, 2) if self.analysed else None,
            "restarts": st.restarts,
            "last_error": self.error or st.last_error,
        }
