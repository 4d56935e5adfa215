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

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from saferoad.application.cabin import frame_samples, thresholds_from_config
from saferoad.config.cabin import CabinConfig
from saferoad.domain.cabin.monitor import CabinMonitor
from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.types import CameraIntrinsics, Event
from saferoad.ports.cabin import CabinPorts, ClosablePhoneDetector, FaceAnalyzer
from saferoad.ports.frames import FrameSource

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
        builds from ``ports`` (the same models, the same settings)."""
        ana: FaceAnalyzer = ports.face_analyzer(config, intrinsics, models_root)
        phone: ClosablePhoneDetector | None = None
        if config.phone_detector != "none":
            phone = ports.phone_detector(
                models_root=models_root, near_face=config.phone_near_face, hand_zone=config.phone_hand_zone,
                threads=config.intra_op_threads,
            )  # fmt: skip
        frames: FrameSource = ports.open_video(video)
        closers: list[Callable[[], None]] = [frames.close, ana.close]
        if phone is not None:
            closers.append(phone.close)
        return cls(frame_samples(frames, ana, phone), config, classify_eyes=True, source=str(video), closers=closers)

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
            _, evs = self.monitor.update(s, speed_at(s.t_s))
            self.frames += 1
            if evs:
                out.append((s.t_s, evs))
        self.busy_s += time.perf_counter() - t0
        return out

    def finish(self, speed_at: SpeedAt) -> list[tuple[float, list[Event]]]:
        """Every sample left, then what the monitor still has open (at the last sample's time)."""
        out = self.arrive(float("inf"), speed_at)
        evs = self.monitor.finish()
        if evs:
            out.append((max((e.end_s for e in evs), default=0.0), evs))
        self.close()
        return out

    def close(self) -> None:
        closers, self._closers = self._closers, []
        for close in closers:
            close()
