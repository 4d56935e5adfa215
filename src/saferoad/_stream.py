"""``saferoad.Pipeline``: the streaming rules as a push-based object (docs/api.md).

Samples go in as they are measured (arrays or chunks, each stream in time order); each push
returns the events that became final, :meth:`Pipeline.close` the rest. It runs the recorder's
own streaming classes - :class:`~saferoad.domain.motion.streaming.StreamingMotion` for harsh
driving and the ego speed, :class:`~saferoad.application.edge.SpeedingStream` for the speed
limit - as the live recorder (``application/edge_live.py``) drives them, without its threads,
feeds, spool or alerts: no rule logic of its own. Camera frames (:meth:`Pipeline.push_frame`)
go through the road stage's own :class:`~saferoad.application.edge.RoadStream` - perception,
road and lane rules - with a queue-fed frame source read on a worker thread (the live camera's
bridge from pushed frames to perception's pull), every ``perception.stride``-th frame as analyze
decodes a video; the turn signal (:meth:`Pipeline.push_turn_signal`) quiets ``lane_departure``
through the recorder's :class:`~saferoad.domain.lanes.turn_signal.LaneQuiet`; cabin frames
(:meth:`Pipeline.push_cabin_frame`) through analyze's face pipeline into the recorder's
:class:`~saferoad.application.edge_cabin.CabinStream`, on the caller's thread; the early
harsh-driving alerts (:meth:`Pipeline.take_early`) from the streaming motion's provisional events.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from saferoad._api import resolve_config
from saferoad.application.cabin import cabin_models, frame_samples
from saferoad.application.context import AnalysisContext
from saferoad.application.edge import (
    Odometer,
    RoadStream,
    SpeedingStream,
    _fuse_lanes,
    _with_clip_window,
    lane_quiet,
)
from saferoad.application.edge_cabin import CabinStream
from saferoad.application.stages.motion import params_from_config
from saferoad.application.stages.road import speed_limits
from saferoad.config import SaferoadConfig
from saferoad.domain.lanes.turn_signal import LEFT, OFF, RIGHT
from saferoad.domain.motion.streaming import StreamingMotion, StreamParams
from saferoad.domain.recording import Recording, RecordingMeta
from saferoad.domain.types import Event, Frame, GpsSeries, ImuSeries, SpeedSeries, TurnSignalSeries
from saferoad.entrypoints import wiring
from saferoad.observability import quiet_unless_configured
from saferoad.ports.cabin import ClosablePhoneDetector, FaceAnalyzer
from saferoad.ports.detector import Detector

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class _ImuAxes:
    frame: str = "device"
    gravity_removed: bool = False
    highpass_tau_s: float | None = None


def _times(stream: str, t_s: ArrayLike, last: float) -> FloatArray:
    """``t_s`` as a 1-D float array: finite, strictly increasing, after ``last``."""
    t = np.asarray(t_s, dtype=np.float64)
    if t.ndim == 0:
        t = t.reshape(1)
    if t.ndim != 1:
        raise ValueError(f"push_{stream}: t_s must be 1-D, got shape {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError(f"push_{stream}: t_s holds a NaN or infinite time")
    if len(t) > 1 and not (np.diff(t) > 0).all():
        k = int(np.argmax(np.diff(t) <= 0)) + 1
        raise ValueError(f"push_{stream}: t_s is not increasing at index {k} ({t[k]:.3f} s after {t[k - 1]:.3f} s)")
    if len(t) and t[0] <= last:
        raise ValueError(
            f"push_{stream}: t_s[0] = {t[0]:.3f} s is not after the previous {stream} sample ({last:.3f} s): "
            "each stream must be pushed in time order"
        )
    return t


def _column(stream: str, name: str, values: ArrayLike | None, n: int, width: int | None = None) -> FloatArray:
    """``values`` as ``(n,)`` (or ``(n, width)``) floats; None: NaN (a field the source lacks)."""
    shape = (n,) if width is None else (n, width)
    if values is None:
        return np.full(shape, np.nan)
    a = np.asarray(values, dtype=np.float64)
    if width is None and a.ndim == 0:
        a = a.reshape(1)
    if width is not None and a.ndim == 1 and n == 1:
        a = a.reshape(1, -1)
    if a.shape != shape:
        raise ValueError(f"push_{stream}: {name} has shape {a.shape}, expected {shape} (one row per time in t_s)")
    return a


def _image(method: str, image: ArrayLike, first: tuple[int, ...] | None) -> NDArray[np.uint8]:
    """``image`` as an H x W x 3 uint8 array (BGR), the size of the ``first`` frame's."""
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"{method}: image is {img.dtype} of shape {img.shape}, expected H x W x 3 uint8 (BGR)")
    if first is not None and img.shape != first:
        raise ValueError(f"{method}: image has shape {img.shape}, but the first frame's was {first}")
    return img


def _frame_time(method: str, t_s: float, last: float) -> float:
    t = float(t_s)
    if not math.isfinite(t):
        raise ValueError(f"{method}: t_s = {t_s!r} is not a finite time")
    if t <= last:
        raise ValueError(f"{method}: t_s = {t:.3f} s is not after the previous frame ({last:.3f} s): frames must be pushed in time order")
    return t


def _frame_index(method: str, index: int | None, pushed: int) -> int:
    """The frame's number: ``index``, default the frames pushed before; never going back."""
    idx = pushed if index is None else int(index)
    if idx < 0:
        raise ValueError(f"{method}: index {idx} is negative")
    if pushed and idx < pushed:
        raise ValueError(f"{method}: index {idx} is not after the previous frame's ({pushed - 1})")
    return idx


class _Cabin:
    """The cabin camera of a :class:`Pipeline`: analyze's face pipeline and phone detector
    (``frame_samples``, the cabin ports' models and settings) per pushed frame, on the caller's
    thread, into the recorder's :class:`CabinStream` (the :class:`CabinMonitor` analyze runs on
    a video, ``classify_eyes``), each sample with the freshest ego speed at its time."""

    def __init__(self, config: SaferoadConfig, ports: Any, meta: RecordingMeta) -> None:
        cfg = config.cabin
        self.analyzer: FaceAnalyzer
        self.phone: ClosablePhoneDetector | None
        self.analyzer, self.phone = cabin_models(ports.cabin, cfg, meta.cabin_camera, None)
        closers = [self.analyzer.close] + ([self.phone.close] if self.phone is not None else [])
        self.stream = CabinStream(iter(()), cfg, classify_eyes=True, source="pipeline", closers=closers)

    def push(self, frame: Frame, speed_at: Any) -> list[Event]:
        samples = list(frame_samples([frame], self.analyzer, self.phone))
        return [e for _, evs in self.stream.push(samples, speed_at) for e in evs]

    def finish(self, speed_at: Any) -> list[Event]:
        """The episodes still open, then the models closed."""
        return [e for _, evs in self.stream.finish(speed_at) for e in evs]


class _PushedFrames:
    """The frames :meth:`Pipeline.push_frame` hands over, as the road stage's frame source
    (``ports.open_frames``' place): perception pulls them on the worker thread from a queue.
    :meth:`wait_taken` returns once the worker asks for the frame after the ``n``-th pushed
    (every frame pushed so far has gone as far through perception as it can) or has stopped:
    counts, not a flag, so a push can never be mistaken for the one before it."""

    def __init__(self, width: int, height: int, fps: float, stride: int) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.stride = stride
        """``perception.stride``: the frames pushed are the camera's every one, those kept every
        ``stride``-th (the tracker's rate is ``fps / stride``, as a video's source says)."""
        self.error: Exception | None = None
        self.queue: queue.Queue[Frame | None] = queue.Queue()
        self._cond = threading.Condition()
        self._asked = 0
        """The number of the frame the worker waits for (frames it has taken)."""
        self.stopped = False

    def __iter__(self) -> Iterator[Frame]:
        taken = 0
        while True:
            with self._cond:
                self._asked = taken
                self._cond.notify_all()
            f = self.queue.get()
            if f is None:
                return
            taken += 1
            yield f

    def stop(self) -> None:
        """The worker ended (its last frame, or an error): no push waits on it."""
        with self._cond:
            self.stopped = True
            self._cond.notify_all()

    def wait_taken(self, n: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self.stopped or self._asked >= n)

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class _GivenDetector:
    """The detector factory of the analysis ports with the road stage's detector given."""

    base: Any
    detector: Detector

    def replay(self, path: Path) -> Detector:
        return self.base.replay(path)  # type: ignore[no-any-return]

    def for_recording(self, cfg: SaferoadConfig, recording: Recording) -> Detector:
        return self.detector

    def is_replay(self, detector: Detector) -> bool:
        return self.base.is_replay(detector)  # type: ignore[no-any-return]


class PerceptionFailed(RuntimeError):
    """The road camera's perception (detector, tracker) failed: raised by the
    :meth:`Pipeline.push_frame` that met it and every one after it, with ``events`` empty; by
    :meth:`Pipeline.close` only where no push had raised it (a failure at the end of the
    stream), with ``events`` the events close would have returned."""

    def __init__(self, message: str, events: list[Event]) -> None:
        super().__init__(message)
        self.events = events


class _Camera:
    """The road camera of a :class:`Pipeline`: analyze's :class:`RoadStream` (perception, the
    road and lane rules) over pushed frames; perception iterates them on a worker thread, and
    every push waits until the worker has taken its frame as far as it can, so what comes out
    does not depend on thread timing. The rules themselves run on the caller's thread."""

    def __init__(self, recording: Recording, config: SaferoadConfig, ports: Any, width: int, height: int, fps: float) -> None:
        self.source = _PushedFrames(width, height, fps, config.perception.stride)
        src = self.source
        self.road = RoadStream(recording, config, None, replace(ports, open_frames=lambda *_a, **_k: src))
        self._items: list[Any] = []
        self._pushed = 0
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        self.reported = False
        """Whether a push has raised :attr:`error` to the caller."""
        self._finished = False
        self._thread = threading.Thread(target=self._run, name="saferoad-pipeline-camera", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self.road.frames:
                with self._lock:
                    self._items.append(item)
        except BaseException as err:  # handed to the caller's thread by the next push
            self.error = err
        finally:
            self.source.stop()

    def push(self, frame: Frame) -> None:
        self._raise_failed()  # a worker that stopped takes no frame: never wait on it
        self._pushed += 1
        self.source.queue.put(frame)
        self.source.wait_taken(self._pushed)
        self._arrived()

    def _arrived(self) -> None:
        """The frames perception finished, waiting for their final ego speed (the lane
        observations to the lane stream), as :meth:`RoadStream.arrive` queues them; those
        finished before a failure too, then the failure is raised."""
        self._take_items()
        self._raise_failed()

    def _take_items(self) -> None:
        with self._lock:
            items, self._items = self._items, []
        self.road.waiting.extend(items)
        self.road.max_waiting = max(self.road.max_waiting, len(self.road.waiting))
        self.road._drain_lanes()

    def _raise_failed(self) -> None:
        if self.error is not None:
            self.reported = True
            raise self.failure([])

    def failure(self, events: list[Event]) -> PerceptionFailed:
        err = PerceptionFailed(f"push_frame: perception failed: {type(self.error).__name__}: {self.error}", events)
        err.__cause__ = self.error
        return err

    def finish(self) -> None:
        """No more frames: perception ends (its generator is exhausted, so the stream's own
        :meth:`RoadStream.finish` finds no frame left to pull). A failure is not raised here:
        :meth:`Pipeline.close` decides (its events are never lost to it). A second call does
        nothing."""
        if self._finished:
            return
        self._finished = True
        self.source.queue.put(None)
        self._thread.join()
        self._take_items()


class Pipeline:
    """The streaming sensor, road-camera and cabin-camera rules, pushed sample by sample (or chunk
    by chunk).

    ``config``: a loaded config or a TOML path (defaults when None); ``overrides`` a nested
    dict applied on top. Push each stream in time order (streams may interleave freely); every
    ``push_*`` returns the events that became final, :meth:`close` the rest at the end of the
    drive. An event is final once it ended ``edge.motion_guard_s`` before the newest sample
    (see docs/edge.md), so events come that much after they happen. The events are
    analyze's: same types, directions, severities, evidence; times within one resampled IMU
    sample (the streaming engine's stated equality, docs/edge.md).

    The IMU axes: ``imu_frame`` (``device``, ``earth`` or ``vehicle``), ``gravity_removed``,
    ``highpass_tau_s`` - or :meth:`like` to take them from an opened recording.

    Road camera frames (:meth:`push_frame`) go through analyze's road stage: perception with
    the config's detector (or ``detector``), the road and lane rules. The camera's intrinsics
    and mounting are ``meta``'s (a recording's ``meta.toml``; without them the config's
    ``perception.hfov_deg``), its frame rate ``camera_fps`` (the tracker's); :meth:`like`
    takes them, and the replay detector's ``detections.json``, from a recording. The turn
    signal (:meth:`push_turn_signal`) quiets ``lane_departure`` as analyze's; cabin camera
    frames (:meth:`push_cabin_frame`) go through analyze's face pipeline and phone detector
    into the cabin monitor; :meth:`take_early` gives the early harsh-driving alerts.
    """

    def __init__(
        self,
        config: SaferoadConfig | str | os.PathLike[str] | None = None,
        *,
        overrides: dict[str, Any] | None = None,
        imu_frame: str = "device",
        gravity_removed: bool = False,
        highpass_tau_s: float | None = None,
        meta: RecordingMeta | None = None,
        camera_fps: float | None = None,
        detector: Detector | None = None,
    ) -> None:
        """``meta``: the installation (ids, IMU mounting rotation, road camera), as a
        recording's ``meta.toml`` gives it; the config's ``motion.mounting`` takes precedence.
        ``camera_fps``: the road camera's frame rate (default ``edge.camera_fps``, else 30).
        ``detector``: the road camera's detector (default: the config's ``perception``)."""
        quiet_unless_configured()
        cfg = resolve_config(config, overrides)
        if imu_frame not in ("device", "earth", "vehicle"):
            raise ValueError(f"imu_frame: {imu_frame!r} is not one of device, earth, vehicle")
        self.config = cfg
        self._axes = _ImuAxes(imu_frame, gravity_removed, highpass_tau_s)
        meta = meta or RecordingMeta()
        # no recording folder behind the stream: the speed limit is the config's (limit and/or
        # zones), never a recording's own speed_zones.geojson
        live = Recording(Path(f"live:{meta.device_id}"), "live", meta)
        e = cfg.edge
        self._motion = StreamingMotion(
            params_from_config(cfg.motion, live),
            StreamParams(e.motion_window_s, e.motion_hop_s, e.motion_guard_s, e.motion_early_alert_s),
        )
        self._ports = wiring.analysis_ports()
        self._speeding = self._speeding_for(live)
        self._odo = Odometer()
        self._last = {"imu": -math.inf, "gps": -math.inf, "speed": -math.inf, "turn_signal": -math.inf}
        self._quiet = lane_quiet(cfg)
        """The turn signal's quiet on the final ``lane_departure`` events (``push_turn_signal``)."""
        self._early: list[Event] = []
        """Provisional harsh-driving events not taken yet (:meth:`take_early`), a window's at most."""
        self._closed = False
        self._gyro: bool | None = None
        if camera_fps is not None and not (math.isfinite(camera_fps) and camera_fps > 0):
            raise ValueError(f"camera_fps: {camera_fps!r} is not a positive frame rate")
        self._camera_fps = camera_fps or cfg.edge.camera_fps or 30.0
        self._detector = detector
        # the road stage's recording: a video it never opens (frames are pushed)
        self._camera_rec = replace(live, video=Path(f"live:{meta.device_id}:camera"))
        self._camera: _Camera | None = None
        self._end_worker: weakref.finalize[..., Pipeline] | None = None
        self._frames = 0
        self._last_frame = -math.inf
        self._frame_shape: tuple[int, ...] | None = None
        self._meta = meta
        self._cabin: _Cabin | None = None
        self._cabin_frames = 0
        self._last_cabin = -math.inf
        self._cabin_shape: tuple[int, ...] | None = None

    @classmethod
    def like(
        cls,
        recording: Recording,
        config: SaferoadConfig | str | os.PathLike[str] | None = None,
        *,
        overrides: dict[str, Any] | None = None,
    ) -> Pipeline:
        """A pipeline for samples of ``recording`` replayed (its samples are not read: push
        them): its IMU axes, its mounting and, where the config sets no speed limit, its own
        ``speed_zones.geojson`` (a simulated drive's), as analyze takes them."""
        imu = recording.imu
        pipe = cls(
            config,
            overrides=overrides,
            imu_frame="device" if imu is None else imu.frame,
            gravity_removed=False if imu is None else imu.gravity_removed,
            highpass_tau_s=None if imu is None else imu.horizontal_highpass_tau_s,
            meta=recording.meta,
        )
        # without a limit in the config, the recording's own speed_zones.geojson, as analyze finds it
        pipe._speeding = pipe._speeding_for(recording)
        if recording.video is not None:
            # its camera and the detector analyze runs on it (the replay detector: its
            # detections.json); the frame rate is its video's
            pipe._camera_rec = recording
            src = pipe._ports.open_frames(recording.video)
            try:
                pipe._camera_fps = float(src.fps) or pipe._camera_fps
            finally:
                src.close()
        return pipe

    # -- input ----------------------------------------------------------------------------

    def push_imu(self, t_s: ArrayLike, acc: ArrayLike, gyro: ArrayLike | None = None) -> list[Event]:
        """IMU samples: ``t_s`` (n,) seconds, ``acc`` (n, 3) m/s² (with gravity unless the
        pipeline was told ``gravity_removed``), ``gyro`` (n, 3) rad/s or None. Once a stream
        has pushed a gyro it must keep doing so (and vice versa)."""
        t = self._check("imu", t_s)
        a = _column("imu", "acc", acc, len(t), 3)
        g = None if gyro is None else _column("imu", "gyro", gyro, len(t), 3)
        if len(t) == 0:
            return []
        if self._gyro is not None and self._gyro != (g is not None):
            had = "with" if self._gyro else "without"
            raise ValueError(f"push_imu: gyro is {'None' if g is None else 'given'}, but the earlier IMU samples came {had} one")
        self._gyro = g is not None
        ax = self._axes
        series = ImuSeries(t, a, g, ax.frame, ax.gravity_removed, ax.highpass_tau_s)
        return self._step(imu=series)

    def push_gps(
        self,
        t_s: ArrayLike,
        lat: ArrayLike,
        lon: ArrayLike,
        speed_mps: ArrayLike | None = None,
        course_deg: ArrayLike | None = None,
        alt_m: ArrayLike | None = None,
    ) -> list[Event]:
        """GNSS fixes: ``t_s``, ``lat``, ``lon`` (degrees), optionally ``speed_mps``,
        ``course_deg``, ``alt_m`` (NaN where a fix lacks one), each (n,)."""
        t = self._check("gps", t_s)
        n = len(t)
        cols = [_column("gps", k, v, n) for k, v in (("lat", lat), ("lon", lon))]
        cols += [_column("gps", k, v, n) for k, v in (("speed_mps", speed_mps), ("course_deg", course_deg), ("alt_m", alt_m))]
        if n == 0:
            return []
        return self._step(gps=GpsSeries(t, *cols))

    def push_speed(self, t_s: ArrayLike, speed_mps: ArrayLike, source: str = "can") -> list[Event]:
        """Vehicle speed samples (the CAN bus's wheel speed): ``t_s``, ``speed_mps`` (n,)."""
        t = self._check("speed", t_s)
        v = _column("speed", "speed_mps", speed_mps, len(t))
        if len(t) == 0:
            return []
        return self._step(can=SpeedSeries(t, v, source))

    def push_turn_signal(self, t_s: ArrayLike, state: ArrayLike) -> list[Event]:
        """The turn signal (blinker) from the vehicle bus, as ``can.csv``'s ``turn_signal``:
        ``t_s`` (n,) seconds, ``state`` (n,) -1 left, 0 off, 1 right, each held until the next
        sample. A ``lane_departure`` toward the side it showed (during the departure or
        ``lanes.turn_signal_quiet_s`` before) is dropped, as analyze drops it. Push it with the
        speed samples of the same time (no later than ``edge.motion_guard_s`` behind them): a
        departure is judged when it becomes final. Returns the events that became final (none:
        the signal only quiets)."""
        t = self._check("turn_signal", t_s)
        s = _column("turn_signal", "state", state, len(t))
        bad = ~np.isin(s, (LEFT, OFF, RIGHT))
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(f"push_turn_signal: state[{k}] = {s[k]:g} is not -1 (left), 0 (off) or 1 (right)")
        if len(t) == 0:
            return []
        self._last["turn_signal"] = float(t[-1])
        self._quiet.push(TurnSignalSeries(t, s))
        return []

    def push_frame(self, t_s: float, image: ArrayLike, index: int | None = None) -> list[Event]:
        """One road camera frame: ``t_s`` seconds on the camera's clock (as its video's
        timestamps: ``meta``'s ``camera.time_offset_s`` is added, as analyze adds it),
        ``image`` H x W x 3 uint8 in **BGR** order (OpenCV's), every frame the size of the
        first. ``index``: its number in the camera's stream (the replay detector's key;
        default: the frames pushed before it). Push every frame the camera gives and no later
        than ``edge.motion_guard_s`` behind the sensors: those whose index is a multiple of
        ``perception.stride`` go to perception (each a step of the tracker, as a video's
        decoded frames in analyze), a copy of the image each; a frame waits for the final ego speed at its time, and one
        pushed after that speed went to the rules is judged after it; with no speed pushed
        (no IMU, GPS or CAN) every frame's objects wait until :meth:`close` (the speed may come
        later: docs/api.md). A kept frame's push blocks until perception has taken it, with no
        timeout: a detector that hangs hangs the push. Returns the events that became final
        (road events come out with the speed samples that pass them)."""
        if self._closed:
            raise ValueError("push_frame: the pipeline is closed")
        t = _frame_time("push_frame", t_s, self._last_frame)
        img = _image("push_frame", image, self._frame_shape)
        idx = _frame_index("push_frame", index, self._frames)
        kept = idx % self.config.perception.stride == 0  # analyze decodes the others and skips them
        if kept and self._camera is None:
            # a detector that cannot be built raises here, the frame not taken (the next push
            # tries again)
            h, w = int(img.shape[0]), int(img.shape[1])
            self._camera = _Camera(self._camera_rec, self.config, self._ports_with_detector(), w, h, self._camera_fps)
            # a pipeline dropped without close() ends its worker (else it waits on the queue for
            # good, holding the detector): the finalizer holds the queue, never the pipeline
            self._end_worker = weakref.finalize(self, self._camera.source.queue.put, None)
        self._frame_shape = img.shape
        self._last_frame = t
        self._frames = idx + 1
        if not kept:
            return []
        assert self._camera is not None
        # a copy: the frame outlives this push (a frame-parallel detector has up to 2 x
        # perception.workers frames in flight; the lamp colours and lane markings read its pixels
        # when perception yields it), and a camera loop refills one buffer for every frame
        self._camera.push(Frame(idx, t, np.array(img, order="C", copy=True)))
        return []

    def push_cabin_frame(self, t_s: float, image: ArrayLike, index: int | None = None) -> list[Event]:
        """One cabin (driver-facing) camera frame: ``t_s`` seconds on the sensors' clock,
        ``image`` H x W x 3 uint8 **BGR**, every frame the size of the first; ``index`` its
        number (default: the cabin frames pushed before). It goes through analyze's face
        pipeline and phone detector (the config's ``[cabin]`` models and settings, ``meta``'s
        ``cabin_camera``) on the calling thread, then the cabin monitor with the freshest ego
        speed at its time: push it after the sensor samples up to its time, as the recorder
        does. Returns the cabin events it completed (an episode's event comes at the first
        frame after it ended); :meth:`close` returns those still open."""
        if self._closed:
            raise ValueError("push_cabin_frame: the pipeline is closed")
        t = _frame_time("push_cabin_frame", t_s, self._last_cabin)
        img = _image("push_cabin_frame", image, self._cabin_shape)
        idx = _frame_index("push_cabin_frame", index, self._cabin_frames)
        if self._cabin is None:
            self._cabin = _Cabin(self.config, self._ports, self._meta)
        self._cabin_shape = img.shape
        self._last_cabin = t
        self._cabin_frames = idx + 1
        return self._cabin.push(Frame(idx, t, img), self._motion.speed_at)

    def close(self) -> list[Event]:
        """The end of the drive: every event still open is final; the pipeline takes no more.

        After a perception failure (already raised by the push that met it) close still
        returns the sensor events and the road events of the frames perception finished; a
        failure no push had raised yet is a :class:`PerceptionFailed` carrying them."""
        if self._closed:
            return []
        self._closed = True
        try:
            return self._finish()
        finally:
            # whatever failed above (a rule, the motion engine), the camera worker ends now,
            # not when the pipeline is garbage-collected, and the feed lets go of its frames
            if self._camera is not None:
                if self._end_worker is not None:
                    self._end_worker.detach()
                self._camera.finish()
                self._camera.road.close()
            if self._cabin is not None:
                self._cabin.stream.close()  # its models (done already unless something failed)

    def _finish(self) -> list[Event]:
        road = None if self._camera is None else self._camera.road
        out = _fuse_lanes(self._motion.finish(), road)
        final_speed = self._motion.take_final_speed()
        self._odo.add(final_speed)
        if self._camera is not None and road is not None:
            self._camera.finish()
            evs = self._quiet.final(road.speed(final_speed) + road.finish())
            out += _with_clip_window(evs, self.config.road_events)
        if self._speeding is not None:
            sp = self._speeding
            out += _with_clip_window(sp.speed(final_speed) + sp.finish(), self.config.road_events)
        if self._cabin is not None:
            out += self._cabin.finish(self._motion.speed_at)
        if self._camera is not None and self._camera.error is not None and not self._camera.reported:
            self._camera.reported = True
            raise self._camera.failure(out)
        return out

    def take_early(self) -> list[Event]:
        """The harsh-driving events seen before they are final, since the last call: the
        recorder's early (provisional) alerts (docs/edge.md). Each ended
        ``edge.motion_early_alert_s`` before the newest sample; its type or times may still
        change, or it may never become final (an alert to retract). One not taken within
        ``edge.motion_window_s`` of its end is dropped (a stale alert), so the pipeline holds a
        window's at most."""
        out, self._early = self._early, []
        return out

    def _keep_early(self) -> None:
        self._early += self._motion.take_provisional()
        newest = max(self._last["imu"], self._last["gps"], self._last["speed"])
        horizon = newest - self.config.edge.motion_window_s
        # each is looked at, not only the oldest: one announced later may have ended sooner
        # (a braking behind a long cornering), as the recorder's _retract_early
        self._early = [e for e in self._early if e.end_s >= horizon]

    # -- state ----------------------------------------------------------------------------

    @property
    def distance_km(self) -> float | None:
        """Distance so far, from the final ego speed (analyze's ``distance_km`` once closed)."""
        return self._odo.km if self._odo.samples > 1 else None

    @property
    def manoeuvres(self) -> dict[str, dict[str, int]]:
        """Graded manoeuvres final so far, per kind and band (``summary.json`` → ``manoeuvres``)."""
        return self._motion.manoeuvre_counts.to_dict()

    # -- internals ------------------------------------------------------------------------

    def _speeding_for(self, recording: Recording) -> SpeedingStream | None:
        """The speed-limit rule where analyze would find a limit for ``recording``; the fixes
        are pushed (``live_gps``), never read from it."""
        limits = speed_limits(AnalysisContext(recording, self.config, ports=self._ports))
        if limits is None:
            return None
        return SpeedingStream(recording, self.config, limits, self._ports, live_gps=True)

    def _ports_with_detector(self) -> Any:
        if self._detector is None:
            return self._ports
        return replace(self._ports, detectors=_GivenDetector(self._ports.detectors, self._detector))

    def _check(self, stream: str, t_s: ArrayLike) -> FloatArray:
        if self._closed:
            raise ValueError(f"push_{stream}: the pipeline is closed")
        return _times(stream, t_s, self._last[stream])

    def _step(self, imu: ImuSeries | None = None, gps: GpsSeries | None = None, can: SpeedSeries | None = None) -> list[Event]:
        for name, s in (("imu", imu), ("gps", gps), ("speed", can)):
            if s is not None:
                self._last[name] = float(s.t_s[-1])
        road = None if self._camera is None else self._camera.road
        out = _fuse_lanes(self._motion.push(imu, gps, can), road)
        self._keep_early()
        if self._speeding is not None:
            self._speeding.add_gps(gps)
        final_speed = self._motion.take_final_speed()
        self._odo.add(final_speed)
        if road is not None:
            out += _with_clip_window(self._quiet.final(road.speed(final_speed)), self.config.road_events)
        if self._speeding is not None:
            out += _with_clip_window(self._speeding.speed(final_speed), self.config.road_events)
        return out
