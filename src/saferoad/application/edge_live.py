"""The recorder live: a road camera and sensor feeds on the wall clock through the streaming
rules, alerts and spool of :class:`~saferoad.application.edge.EdgeRecorder`.

Stages, each on its own thread and each with a heartbeat (the last time it did its work):

* ``camera``: the live frame source (an ffmpeg child into a ring that drops the oldest frame
  when the consumer is behind; a watchdog restarts a stalled decoder) - beats per decoded frame;
* ``inference``: perception (detector, tracker, geometry) and the lane markings (the
  replay's lane-marking port, when ``lanes.enabled``) on every ``stride``-th frame, the
  stride adapting to keep up (:class:`~saferoad.domain.stride.AdaptiveStride`); frames skipped
  by the stride and frames the ring dropped are counted and reported per minute;
* one per sensor feed (``imu_udp``, ``gps_udp``, ``gps_serial``) - beats per sample;
* ``rules``: every ``edge.tick_s`` the samples that arrived go to the streaming motion rules,
  the inferred frames wait for their final ego speed and go to the road rules, their lane
  observations to the windowed ``lane_departure`` stream and its fast alert, events go to
  the spool and the alert sinks exactly as in a replay.

Every ``edge.status_interval_s`` a status record - per-stage heartbeat age, stale stages,
frames and drops, the sensor feeds' counts, the CPU and memory of the recorder and its decoder
against their budgets - goes to the status sinks (MQTT: retained) and to a status file next to
the spool (``edge --status`` prints it). Over the CPU budget the inference stride is raised.

Time: a sample's time is its sensor's own clock aligned to the recorder's at its first sample
(seconds since the recorder started); a frame's is its arrival from the decoder. So sensors keep
their exact spacing (the motion rules see what ``analyze`` sees) and the camera lags by its
decode latency (measured in the end-to-end test: well within the road rules' latency).
"""

from __future__ import annotations

import json
import math
import os
import resource
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from saferoad.application.context import AnalysisContext, AnalysisPorts
from saferoad.application.edge import (
    ClipCutter,
    EdgeRecorder,
    EdgeReport,
    Odometer,
    RecentTracks,
    SpeedingStream,
    _with_clip_window,
    cpu_seconds,
    fast_lane_figures,
    lane_figures,
    lane_quiet,
    lane_stream,
    release_all,
    release_by_speed,
    trip_body,
    trip_head_body,
    trip_id_for,
)
from saferoad.application.edge_cabin import LiveCabin
from saferoad.application.edge_fast import FastLaneAlerts, FastRoadAlerts
from saferoad.application.perception import run_perception
from saferoad.application.stages import road
from saferoad.application.stages._camera import with_lamp_colours
from saferoad.application.stages.motion import params_from_config
from saferoad.config import SaferoadConfig
from saferoad.domain.frame_clock import FrameClock
from saferoad.domain.frame_geometry import HorizonEstimator
from saferoad.domain.geometry import CameraModel
from saferoad.domain.lanes import LaneObservation, fuse_lane_changes
from saferoad.domain.motion.streaming import StreamingMotion, StreamParams
from saferoad.domain.recording import Recording, RecordingMeta
from saferoad.domain.road_events import StreamingRoad
from saferoad.domain.stride import AdaptiveStride
from saferoad.domain.types import (
    CameraIntrinsics,
    CameraMount,
    Event,
    EventType,
    Frame,
    GpsSeries,
    ImuSeries,
    SpeedSeries,
    TurnSignalSeries,
)
from saferoad.observability import get_logger
from saferoad.ports.detector import Detector
from saferoad.ports.edge import AlertSink, EventSpool
from saferoad.ports.lanes import LaneDetector
from saferoad.ports.live_camera import LiveFrameSource, VideoLoop
from saferoad.ports.sensors import CanFeed, SensorFeed

log = get_logger("edge.live")

MINUTE_S = 60.0


@dataclass(frozen=True)
class ImuLayout:
    """The installation's ``[imu]`` (meta.toml): the axes live samples are in."""

    frame: str = "device"
    gravity_removed: bool = False
    highpass_tau_s: float | None = None


class Heartbeats:
    """The last beat of each stage (monotonic seconds), written by the stages' threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._last: dict[str, float | None] = {}
        self._lock = threading.Lock()

    def register(self, stage: str) -> None:
        with self._lock:
            self._last.setdefault(stage, None)

    def beat(self, stage: str, at: float | None = None) -> None:
        with self._lock:
            self._last[stage] = self.clock() if at is None else at

    def ages(self, now: float | None = None) -> dict[str, float | None]:
        """Seconds since each stage's last beat (None: it never beat)."""
        now = self.clock() if now is None else now
        with self._lock:
            return {k: None if v is None else max(0.0, now - v) for k, v in self._last.items()}


class ResourceMeter:
    """CPU (cores used since the last reading) and resident memory of this process and its
    decoder children, from ``/proc`` (``getrusage`` where there is none)."""

    def __init__(self) -> None:
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self._last: tuple[float, float] | None = None

    def _proc(self, pid: int | str) -> tuple[float, float] | None:
        """(CPU s, RSS bytes) of one process."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            statm = Path(f"/proc/{pid}/statm").read_text()
        except OSError:
            return None
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / self._tick  # utime, stime
        return cpu, int(statm.split()[1]) * self._page

    def read(self, children: list[int]) -> tuple[float | None, float]:
        """(cores used since the previous call (None at the first), resident MiB)."""
        own = self._proc("self")
        if own is None:
            ru = resource.getrusage(resource.RUSAGE_SELF)
            own = (ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024.0)
        cpu, rss = own
        # decoders that exited (a restart, the end) and were reaped: their CPU time moves here
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu += ch.ru_utime + ch.ru_stime
        for pid in children:
            c = self._proc(pid)
            if c is not None:
                cpu, rss = cpu + c[0], rss + c[1]
        now = time.monotonic()
        cores = None
        if self._last is not None and now > self._last[0]:
            # (a decoder killed but not yet reaped drops out for a moment: never below 0)
            cores = max(0.0, (cpu - self._last[1]) / (now - self._last[0]))
        self._last = (now, cpu)
        return cores, rss / 2**20


@dataclass
class FrameCounts:
    """What the live camera did (the inference thread writes, the status reads)."""

    inferred: int = 0
    skipped_stride: int = 0
    """Frames not inferred, on purpose, to keep up (the adaptive stride)."""
    late: int = 0
    """Frames whose time was not after the previous one's (a restarted decoder)."""
    infer_s: float = 0.0
    history: deque[tuple[float, int]] = field(default_factory=deque)
    """(monotonic time, frames dropped so far) at each status of the last minute (older ones are
    popped, so it holds at most a minute of statuses): the drops of the last minute."""


class _StridedFrames:
    """The camera's frames as perception iterates them: every ``stride``-th one, its time on
    the recorder's clock (seconds since ``origin``): by its index on the frame clock where the
    camera's rate is known, else its arrival."""

    def __init__(self, camera: LiveCamera) -> None:
        self.cam = camera
        self.fps = camera.nominal_fps
        self.stride = 1
        self.track_by_time = True
        """The tracker steps by the frames' times (the adaptive stride skips, the ring drops)."""

    def __iter__(self) -> Iterator[Frame]:
        cam = self.cam
        skip = 0
        last_t = -math.inf
        restarts = cam.source.stats.restarts
        while not cam.stop.is_set():
            f = cam.source.read(timeout_s=0.25)
            if f is None:
                continue
            arrival = f.t_s + cam.source.started_at - cam.origin
            cam._rate.append((arrival, f.index))
            t = arrival
            if cam.clock is not None:
                if cam.source.stats.restarts != restarts:
                    restarts = cam.source.stats.restarts
                    cam.clock.reset()  # a new decoder: its frames line up from its own start
                t = cam.clock.time(f.index, arrival)
            if skip > 0:
                skip -= 1
                cam.counts.skipped_stride += 1
                continue
            skip = cam.stride.stride - 1
            if t <= last_t:
                cam.counts.late += 1
                continue
            last_t = t
            cam.began = time.perf_counter()
            yield replace(f, t_s=t)


class LiveCamera:
    """The road camera's stages: the source (its own reader thread and watchdog) and inference
    on a thread of its own; inferred frames ``(t, index, objects)`` wait in ``out`` for the
    rules (bounded: the rules take them every tick; a full queue drops the oldest, counted).
    With a ``lane_detector`` (the lane-marking port the replay uses) each inferred frame's lane
    observation waits in ``lanes_out`` the same way."""

    def __init__(
        self,
        source: LiveFrameSource,
        detector: Detector,
        config: SaferoadConfig,
        meta: RecordingMeta,
        origin: float,
        beats: Heartbeats,
        *,
        tracker: Any = None,
        nominal_fps: float = 30.0,
        frame_period_s: float | None = None,
        width: int,
        height: int,
        lane_detector: LaneDetector | None = None,
        horizon: HorizonEstimator | None,
    ) -> None:
        """``horizon``: the lane markings' horizon for a camera whose pitch is not known
        (``AnalysisPorts.horizon``), None for no estimate."""
        self.source = source
        self.horizon = horizon
        self.detector = detector
        self.lane_detector = lane_detector
        self.config = config
        self.origin = origin
        self.beats = beats
        self.tracker = tracker
        self.nominal_fps = nominal_fps
        self.clock = None if frame_period_s is None else FrameClock(frame_period_s)
        ecfg = config.edge
        self.stride = AdaptiveStride(max_stride=ecfg.max_stride, target_load=ecfg.stride_target_load)
        self.counts = FrameCounts()
        self.over_cpu_budget = False
        self.stop = threading.Event()
        self.began = 0.0
        self.out: deque[tuple[float, int, tuple[Any, ...]]] = deque(maxlen=max(64, int(ecfg.motion_window_s * nominal_fps)))
        self.out_dropped = 0
        self.lanes_out: deque[LaneObservation] = deque(maxlen=self.out.maxlen)
        self.lanes_dropped = 0
        self._out_lock = threading.Lock()
        self._rate: deque[tuple[float, int]] = deque(maxlen=64)
        """(time, index) of the frames read: the source's rate, dropped frames included."""
        self.camera: CameraModel | None = None
        if meta.camera is not None:
            self.camera = CameraModel(meta.camera, meta.camera_mount).scaled(width, height)
        self.pitch_known = meta.camera_pitch_known
        intr = self.camera.intrinsics if self.camera is not None else CameraIntrinsics.from_fov(width, height, config.perception.hfov_deg)
        self.fx, self.cx = intr.fx, intr.cx
        # the lane markings' camera, as the replay's CameraFeed sets it up
        p = config.perception
        mount = self.camera.mount if self.camera is not None else CameraMount()
        if p.camera_height_m is not None:
            mount = replace(mount, height_m=p.camera_height_m)
        if p.camera_pitch_deg is not None:
            mount = replace(mount, pitch_deg=p.camera_pitch_deg)
        self.lane_camera = CameraModel(intr, mount)
        self.error: str | None = None
        beats.register("camera")
        beats.register("inference")
        self._thread = threading.Thread(target=self._run, name="edge-inference", daemon=True)

    def start(self) -> LiveCamera:
        self._thread.start()
        return self

    def fps(self) -> float:
        """The source's measured frame rate (arrivals of the last frames), else the nominal."""
        r = self._rate
        if len(r) >= 2 and r[-1][0] > r[0][0] and r[-1][1] > r[0][1]:
            return (r[-1][1] - r[0][1]) / (r[-1][0] - r[0][0])
        return self.nominal_fps

    def _run(self) -> None:
        lamp_fraction = self.config.road_events.lamp_min_fraction
        frames = _StridedFrames(self)
        try:
            # one frame at a time (workers=1): the stride, not a thread pool, keeps up
            for frame, objs in run_perception(frames, self.detector, self.tracker, self.camera, self.config,
                                              pitch_known=self.pitch_known, horizon=self.horizon, workers=1):  # fmt: skip
                objs = with_lamp_colours(frame, objs, lamp_fraction)
                lanes = None if self.lane_detector is None else self.lane_detector.detect(frame, self.lane_camera)
                took = time.perf_counter() - self.began
                self.counts.inferred += 1
                self.counts.infer_s += took
                now = time.monotonic()
                self.beats.beat("inference", now)
                self.stride.update(took, self.fps(), backlog=self.source.backlog, over_cpu_budget=self.over_cpu_budget)
                with self._out_lock:
                    if len(self.out) == self.out.maxlen:
                        self.out_dropped += 1
                    self.out.append((frame.t_s, frame.index, tuple(objs)))
                    if lanes is not None:
                        if len(self.lanes_out) == self.lanes_out.maxlen:
                            self.lanes_dropped += 1
                        self.lanes_out.append(replace(lanes, t_s=frame.t_s))
        except Exception as err:  # the recorder goes on without the camera, and says why
            self.error = f"{type(err).__name__}: {err}"
            log.error("edge_inference_failed", error=self.error)

    def take(self) -> list[tuple[float, int, tuple[Any, ...]]]:
        with self._out_lock:
            items = list(self.out)
            self.out.clear()
        return items

    def take_lanes(self) -> list[LaneObservation]:
        with self._out_lock:
            items = list(self.lanes_out)
            self.lanes_out.clear()
        return items

    def close(self) -> None:
        self.stop.set()
        self._thread.join(timeout=5)
        self.source.close()

    def status(self, now: float) -> dict[str, Any]:
        st = self.source.stats
        dropped = st.dropped + self.counts.skipped_stride + self.out_dropped + self.counts.late
        hist = self.counts.history
        hist.append((now, dropped))
        while len(hist) > 1 and hist[1][0] <= now - MINUTE_S:
            hist.popleft()
        base = hist[0][1]  # at or before a minute ago (or the first status)
        minutes = (now - self.origin) / MINUTE_S
        return {
            "decoded": st.frames,
            "inferred": self.counts.inferred,
            "dropped": dropped,
            "dropped_ring": st.dropped,
            "dropped_stride": self.counts.skipped_stride,
            "dropped_queue": self.out_dropped,
            "dropped_late": self.counts.late,
            "dropped_last_minute": dropped - base,
            "dropped_per_minute": round(dropped / minutes, 2) if minutes > 0 else None,
            "stride": self.stride.stride,
            "inference_load": round(self.stride.load(self.fps()), 3),
            "fps_in": round(self.fps(), 2),
            "frame_clock": "arrival" if self.clock is None else "index",
            "decode_lag_ms_max": None if self.clock is None else round(self.clock.max_lag_s * 1e3, 1),
            "lanes": self.lane_detector is not None,
            "dropped_lanes_queue": self.lanes_dropped,
            "restarts": st.restarts,
            "gaps_s": [round(b - a, 3) for a, b in st.gaps[-10:]],
            "last_error": self.error or st.last_error,
            "decoder_log_bytes": st.log_bytes,
            "decoder_log": list(st.log_tail)[-5:],
        }


class LiveRoad:
    """The road rules on live frames, as :class:`~saferoad.application.edge.RoadStream` runs
    them on a replay: frames arrive already inferred, in time order, and wait (the guard x fps
    while the sensors flow) for the final ego speed at their time, then frames and speed samples
    go to :class:`StreamingRoad` in time order. Without speed (no sensor feed, or it went silent)
    at most ``max_waiting_frames`` wait: older ones are dropped and counted
    (``dropped_no_speed``), never accumulated. The lane markings go to :class:`LiveLanes`."""

    def __init__(self, config: SaferoadConfig, fx: float | None, cx: float | None, max_waiting_frames: int) -> None:
        self.cfg = config.road_events
        self.offset = self.cfg.clock_offsets_s.get("speed", 0.0)
        self.stream = StreamingRoad(road.params_from_config(self.cfg), fx=fx, cx=cx, speed_offset_s=self.offset)
        self.fx, self.cx = fx, cx
        self.waiting: deque[tuple[float, int, tuple[Any, ...]]] = deque()
        self.max_waiting = 0
        self.cap = max(1, max_waiting_frames)
        self.dropped_no_speed = 0

    def add(self, items: list[tuple[float, int, tuple[Any, ...]]]) -> None:
        self.waiting.extend(items)
        while len(self.waiting) > self.cap:
            self.waiting.popleft()
            self.dropped_no_speed += 1
        self.max_waiting = max(self.max_waiting, len(self.waiting))

    def speed(self, sp: SpeedSeries | None) -> list[Event]:
        """Final ego speed samples: release the frames before each, in time order."""
        return release_by_speed(self.waiting, sp, self.cfg, self._frame, self.stream.push_speed)

    def _frame(self, item: tuple[float, int, tuple[Any, ...]]) -> list[Event]:
        t, idx, objs = item
        return self.stream.push_frame(t, idx, objs)

    def finish(self) -> list[Event]:
        return release_all(self.waiting, self._frame) + self.stream.finish()


class LiveLanes:
    """The live camera's lane observations: the windowed ``lane_departure`` stream (final
    departures, as a replay's ``RoadStream`` feeds it) and the fast alert at the completing
    frame (:class:`~saferoad.application.edge_fast.FastLaneAlerts`). Observations arrive in time
    order (an older one, after a decoder restart, is dropped); state: the two windows."""

    def __init__(self, config: SaferoadConfig) -> None:
        e = config.edge
        self.stream = lane_stream(config)
        self.fast = FastLaneAlerts(self.stream.params, horizon_s=e.motion_window_s)
        self.quiet = lane_quiet(config)
        """The turn signal's quiet (the live CAN feed's ``turn_signal``): final departures and fast
        alerts toward the signalled side dropped, as in a replay."""
        self.fast.quiet = self.quiet.fast
        self.last_t = -math.inf

    def arrive(self, items: list[LaneObservation], speed_at: Callable[[float], float | None]) -> list[Event]:
        """New observations: into the stream; the fast alerts they complete."""
        new = [o for o in items if o.t_s > self.last_t]
        if new:
            self.last_t = new[-1].t_s
        for obs in new:
            self.stream.push_observation(obs)
        return self.fast.observations(new, speed_at)

    def speed(self, sp: SpeedSeries | None) -> list[Event]:
        """Final ego speed samples: the departures that became final."""
        return [] if sp is None else self.quiet.final(self.stream.push_speed(sp.t_s, sp.speed_mps))

    def finish(self) -> list[Event]:
        """The drive's end: every departure left final."""
        return self.quiet.final(self.stream.finish())

    def fuse(self, events: list[Event]) -> list[Event]:
        """The IMU's ``aggressive_lane_change`` with the direction of the marking crossed."""
        if not any(e.type is EventType.AGGRESSIVE_LANE_CHANGE for e in events):
            return events
        return fuse_lane_changes(events, self.stream.lane_changes(), self.stream.params)

    def figures(self) -> dict[str, int]:
        return lane_figures(self.stream, self.quiet)


def _after(series: Any, last_t: float) -> Any:
    """The samples of ``series`` after ``last_t`` (a re-aligned feed may step back once)."""
    if series is None or len(series) == 0:
        return None
    k = int(np.searchsorted(series.t_s, last_t, side="right"))
    if k == 0:
        return series
    if k >= len(series):
        return None
    if isinstance(series, ImuSeries):
        return replace(series, t_s=series.t_s[k:], acc=series.acc[k:], gyro=None if series.gyro is None else series.gyro[k:])
    if isinstance(series, SpeedSeries):
        return SpeedSeries(series.t_s[k:], series.speed_mps[k:], series.source)
    return GpsSeries(*(getattr(series, f)[k:] for f in ("t_s", "lat", "lon", "speed_mps", "course_deg", "alt_m")))


class LiveRecorder(EdgeRecorder):
    """The live recorder: :meth:`run` until ``duration_s`` of wall time passed or ``stop`` is
    set, then finishes the drive (every event left final, the trip spooled)."""

    def __init__(
        self,
        config: SaferoadConfig,
        *,
        feeds: list[SensorFeed],
        camera: LiveCamera | None = None,
        meta: RecordingMeta | None = None,
        imu_layout: ImuLayout | None = None,
        origin: float,
        beats: Heartbeats,
        sinks: list[AlertSink] | None = None,
        spool: EventSpool | None = None,
        status_path: Path | None = None,
        decoder_pids: Callable[[], list[int]] = list,
        loop: Any = None,
        cabin: LiveCabin | None = None,
        ports: AnalysisPorts,
        video_loop: VideoLoop | None = None,
        clip_dir: Path | None = None,
    ) -> None:
        """``video_loop``: the road camera's own loop segments (``edge.loop_video``): each final
        event's clip is cut from them into the spool (with a spool and a ``clip_dir`` to cut in)."""
        super().__init__(config, ports=ports, sinks=sinks, spool=spool, loop=loop, clip_dir=clip_dir)
        self.video_loop = video_loop
        self.feeds = feeds
        self._polled = [(f, f if isinstance(f, CanFeed) else None) for f in feeds]
        """Each feed with itself again where it is a CAN feed (a runtime-Protocol check, done once)."""
        self.camera = camera
        self.cabin = cabin
        """The live cabin camera (``edge.cabin_camera``): its samples through the cabin rules each step."""
        self.imu_layout = imu_layout or ImuLayout()
        self.origin = origin
        self.beats = beats
        self.status_path = status_path
        self.decoder_pids = decoder_pids
        self.meter = ResourceMeter()
        start = datetime.now(UTC)
        self.start_mono = time.monotonic()
        self.start_wall = start.timestamp() - (self.start_mono - origin)
        self.meta = replace(meta or RecordingMeta(), start_utc=datetime.fromtimestamp(self.start_wall, UTC))
        self.recording = Recording(Path(f"live:{self.meta.device_id}"), "live", self.meta)
        self.last_status: dict[str, Any] = {}
        self._stale: set[str] = set()
        for feed in feeds:
            beats.register(feed.name)
        if cabin is not None:
            beats.register("cabin_camera")
        beats.register("rules")

    def run(self, duration_s: float | None = None, stop: threading.Event | None = None) -> EdgeReport:
        """Record the drive. Once per recorder: its clock starts at construction, its camera is
        closed at the drive's end, its trip id and the event fan-out (the spool sink, with this
        drive's clip cutter) are the drive's; a second call is a RuntimeError."""
        if self._ran:
            raise RuntimeError(
                "LiveRecorder.run: called once already; a live recorder records one drive (its clock, "
                "camera, trip and spool sink are that drive's): build a new recorder for the next one"
            )
        self._ran = True
        cfg = self.config
        ecfg = cfg.edge
        rec = self.recording
        trip_id = trip_id_for(rec)
        report = EdgeReport(trip_id)
        self._start_utc = self.start_wall
        self._device_id = self.meta.device_id
        self._early = []
        motion = StreamingMotion(
            params_from_config(cfg.motion, rec),
            StreamParams(ecfg.motion_window_s, ecfg.motion_hop_s, ecfg.motion_guard_s, ecfg.motion_early_alert_s),
        )
        odo = Odometer()
        cam = self.camera
        # frames wait for the final speed: guard + hop in the normal case; a window's worth at most
        road = LiveRoad(cfg, cam.fx, cam.cx, int(ecfg.motion_window_s * cam.nominal_fps)) if cam is not None else None
        self._road = road
        self._fast = None
        if road is not None:
            # forward collision and tailgating alerted at the completing frame (edge_fast)
            self._fast = FastRoadAlerts(
                road.stream.engine.params, fx=road.fx, cx=road.cx, speed_offset_s=road.offset, horizon_s=ecfg.motion_window_s
            )
        lanes = LiveLanes(cfg) if cam is not None and cam.lane_detector is not None else None
        self._fast_lanes = None if lanes is None else lanes.fast
        self._live_clips_setup(cam is not None)
        speeding = self._speeding_stream = self._speeding()
        tick = ecfg.tick_s
        last_imu = last_gps = last_can = -math.inf
        newest = 0.0
        last_frame_t = -math.inf
        perf0 = time.perf_counter()
        cpu0 = cpu_seconds()
        self.meter.read(self.decoder_pids())
        next_status = time.monotonic()
        if self.spool is not None:
            # opened now: the trip and its events can go up during the drive (summary at the end)
            self.spool.open_trip(trip_id, trip_head_body(rec))
        for sink in self.sinks:
            sink.status({"state": "recording", "trip_id": trip_id, "live": True})
        t_end = None if duration_s is None else self.start_mono + duration_s
        next_tick = time.monotonic() + tick
        while not (stop is not None and stop.is_set()) and (t_end is None or time.monotonic() < t_end):
            wait = next_tick - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            elif wait < -tick:
                report.late_ticks += 1
            next_tick = max(next_tick + tick, time.monotonic())
            arrived = time.perf_counter()
            imu_c, gps_c, can_c, turn_c = self._poll()
            imu_c, gps_c, can_c = _after(imu_c, last_imu), _after(gps_c, last_gps), _after(can_c, last_can)
            if imu_c is not None:
                last_imu = float(imu_c.t_s[-1])
            if gps_c is not None:
                last_gps = float(gps_c.t_s[-1])
            if can_c is not None:
                last_can = float(can_c.t_s[-1])
            newest = max(newest, last_imu, last_gps, last_can)
            new = motion.push(imu_c, gps_c, can_c)
            if lanes is not None:
                lanes.quiet.push(turn_c)
            if speeding is not None:
                speeding.add_gps(gps_c)
            self._announce_early(report, motion.take_provisional(), newest, arrived)
            self._deliver(report, new if lanes is None else lanes.fuse(new), newest, arrived)
            self._retract_early(report, newest - ecfg.motion_window_s)
            final_speed = motion.take_final_speed()
            odo.add(final_speed)
            if road is not None and cam is not None:
                items = [it for it in cam.take() if it[0] > last_frame_t]
                if items:
                    last_frame_t = items[-1][0]
                if self._fast is not None:
                    self._announce_fast(report, self._fast.frames(items, motion.speed_at), newest, arrived)
                    self._fast.retract(newest)
                self._track(items)
                road.add(items)
                self._deliver(report, _with_clip_window(road.speed(final_speed), cfg.road_events), newest, arrived)
            if lanes is not None and cam is not None:
                self._announce_fast(report, lanes.arrive(cam.take_lanes(), motion.speed_at), newest, arrived, report.fast_lane_lag_s)
                lanes.fast.retract(newest)
                self._deliver(report, _with_clip_window(lanes.speed(final_speed), cfg.road_events), newest, arrived)
            if speeding is not None:
                self._deliver(report, _with_clip_window(speeding.speed(final_speed), cfg.road_events), newest, arrived)
            if self.cabin is not None:
                for completed_s, evs in self.cabin.take_events(motion.speed_at):
                    self._deliver(report, evs, completed_s, arrived)
            if self.loop is not None and self.loop.push(newest, imu_c, gps_c, can_c):
                self._retain()
            self._live_clips(report)
            self.beats.beat("rules")
            report.ticks += 1
            report.max_buffered_samples = max(report.max_buffered_samples, motion.buffered_samples)
            if time.monotonic() >= next_status:
                next_status += ecfg.status_interval_s
                self.publish_status(report, newest)
        # the end of the drive: every event left is final
        arrived = time.perf_counter()
        if cam is not None:
            cam.close()
        imu_c, gps_c, can_c, turn_c = self._poll()
        imu_c, gps_c, can_c = _after(imu_c, last_imu), _after(gps_c, last_gps), _after(can_c, last_can)
        t_last = max([newest] + [float(c.t_s[-1]) for c in (imu_c, gps_c, can_c) if c is not None])
        finals = motion.push(imu_c, gps_c, can_c) if imu_c is not None or gps_c is not None or can_c is not None else []
        if lanes is not None:
            lanes.quiet.push(turn_c)
        if speeding is not None:
            speeding.add_gps(gps_c)
        finals += motion.finish()
        self._announce_early(report, motion.take_provisional(), t_last, arrived)
        self._deliver(report, finals if lanes is None else lanes.fuse(finals), t_last, arrived)
        final_speed = motion.take_final_speed()
        odo.add(final_speed)
        report.distance_km = odo.km if odo.samples > 1 else None
        report.speed_source = odo.source
        if road is not None and cam is not None:
            items = [it for it in cam.take() if it[0] > last_frame_t]
            if self._fast is not None:
                self._announce_fast(report, self._fast.frames(items, motion.speed_at), t_last, arrived)
            self._track(items)
            road.add(items)
            evs = road.speed(final_speed) + road.finish()
            self._deliver(report, _with_clip_window(evs, cfg.road_events), t_last, arrived)
            report.max_waiting_frames = road.max_waiting
        if lanes is not None and cam is not None:
            self._announce_fast(report, lanes.arrive(cam.take_lanes(), motion.speed_at), t_last, arrived, report.fast_lane_lag_s)
            evs = lanes.speed(final_speed) + lanes.finish()
            self._deliver(report, _with_clip_window(evs, cfg.road_events), t_last, arrived)
            report.lanes = lanes.figures()
            lanes.fast.finish()
            fl = lanes.fast
            report.fast_lanes = fast_lane_figures(fl)
        if speeding is not None:
            evs = speeding.speed(final_speed) + speeding.finish()
            self._deliver(report, _with_clip_window(evs, cfg.road_events), t_last, arrived)
        if self.cabin is not None:
            for completed_s, evs in self.cabin.finish(motion.speed_at):
                self._deliver(report, evs, completed_s, arrived)
            report.cabin_frames = self.cabin.rules.frames
        self._live_clips(report, final=True)  # the camera closed: its last segment is finished
        if self.loop is not None:
            self.loop.close_segment(t_last)
            self._retain()
            report.loop = self._loop_figures()
        self._close_report(report, motion, t_last, perf0, cpu0)
        if self.spool is not None:
            body = trip_body(rec, report)
            body["summary"]["duration_s"] = round(t_last, 3)
            self.spool.add_trip(trip_id, body)
        self.publish_status(report, t_last, state="idle")  # the last status: the full record
        return report

    _ran = False
    _road: LiveRoad | None = None
    _speeding_stream: SpeedingStream | None = None
    _tracks: RecentTracks | None = None
    _next_video_check = 0.0
    _video_covered: float | None = None

    def _live_clips_setup(self, camera: bool) -> None:
        """Live clips, as a replay cuts them from its video, from the camera's loop segments; the
        tracks drawn kept for as long as a clip may wait for its segment to finish."""
        ecfg, rc = self.config.edge, self.config.road_events
        self._clips = None
        if not camera or self.video_loop is None or not rc.clips or self.spool is None or self.clip_dir is None:
            return
        segment_s = ecfg.loop_video_segment_s or ecfg.loop_segment_s
        self._tracks = RecentTracks(ecfg.motion_window_s + ecfg.motion_guard_s + segment_s + rc.clip_before_s + rc.clip_after_s)
        self._clips = ClipCutter(self.config, self._tracks, self.clip_dir, self.ports, self._loop_video)

    def _loop_video(self, start_s: float, end_s: float, key_s: float) -> tuple[str, float] | None:
        """The loop's video of a clip window (recorder clock) and its first frame's time."""
        assert self.video_loop is not None
        w = self.start_wall
        found = self.video_loop.video_for(w + start_s, w + end_s, w + key_s)
        if found is None:
            return None
        return found[0], found[1] - self.start_wall

    def _track(self, items: list[tuple[float, int, tuple[Any, ...]]]) -> None:
        if self._tracks is not None:
            for t, _, objs in items:
                self._tracks[t] = objs

    def _live_clips(self, report: EdgeReport, final: bool = False) -> None:
        """At most once a second (and at the end): the clips whose window the finished video
        segments now cover (at the end: every one left) go into the spool; a new segment
        triggers retention as a sensor segment does."""
        vl = self.video_loop
        now = time.monotonic()
        if vl is None or (not final and now < self._next_video_check):
            return
        self._next_video_check = now + 1.0
        covered = vl.covered_until()
        if covered is None:
            return
        if self._clips is not None and self.spool is not None and self._clips.pending:
            ready = self._clips.finish() if final else self._clips.due(covered - self.start_wall)
            for event_id, data in ready:
                self.spool.add_clip(event_id, data)
            report.clips = self._clips.cut
        if self.loop is not None and covered != self._video_covered:
            self._video_covered = covered
            self._retain()

    def close(self) -> None:
        """Stop the camera and the feeds (idempotent; ``run`` stops the camera at its end)."""
        if self.camera is not None:
            self.camera.close()
        if self.cabin is not None:
            self.cabin.close()
        for feed in self.feeds:
            feed.close()

    def _speeding(self) -> SpeedingStream | None:
        """The speed-limit rule on the configured limit and/or speed zones: the live GPS fixes
        wait for the final ego speed and merge with it in time order, as analyze does."""
        limits = road.speed_limits(AnalysisContext(self.recording, self.config, ports=self.ports))
        if limits is None:
            return None
        return SpeedingStream(self.recording, self.config, limits, self.ports, live_gps=True)

    def _poll(self) -> tuple[ImuSeries | None, GpsSeries | None, SpeedSeries | None, TurnSignalSeries | None]:
        imus: list[ImuSeries] = []
        gpss: list[GpsSeries] = []
        can: tuple[SpeedSeries | None, TurnSignalSeries | None] = (None, None)
        for feed, can_feed in self._polled:
            if can_feed is not None:
                can = can_feed.poll_can()
            imu, gps = feed.poll()
            if imu is not None:
                lay = self.imu_layout
                imus.append(replace(imu, frame=lay.frame, gravity_removed=lay.gravity_removed, horizontal_highpass_tau_s=lay.highpass_tau_s))
            if gps is not None:
                gpss.append(gps)
            if feed.stats.last_sample_at is not None:
                self.beats.beat(feed.name, feed.stats.last_sample_at)
        # the config allows one IMU, one GPS and one CAN feed
        return (imus[0] if imus else None), (gpss[0] if gpss else None), can[0], can[1]

    def status(self, report: EdgeReport, sensor_t: float, state: str = "recording") -> dict[str, Any]:
        """The status record: what a fleet gateway and ``edge --status`` see."""
        ecfg = self.config.edge
        now = time.monotonic()
        if self.camera is not None and self.camera.source.last_frame_at is not None:
            self.beats.beat("camera", self.camera.source.last_frame_at)
        if self.cabin is not None and self.cabin.source.last_frame_at is not None:
            self.beats.beat("cabin_camera", self.cabin.source.last_frame_at)
        ages = self.beats.ages(now)
        stale = sorted(k for k, a in ages.items() if a is None or a > ecfg.heartbeat_stale_s)
        for k in set(stale) - self._stale:
            log.warning("edge_stage_stale", stage=k, age_s=ages[k])
        self._stale = set(stale)
        pids = self.decoder_pids()
        cores, rss = self.meter.read(pids)
        over = []
        if cores is not None and ecfg.cpu_budget_cores is not None and cores > ecfg.cpu_budget_cores:
            over.append("cpu")
        if ecfg.memory_budget_mb is not None and rss > ecfg.memory_budget_mb:
            over.append("memory")
            log.warning("edge_over_memory_budget", rss_mib=round(rss, 1), budget_mib=ecfg.memory_budget_mb)
        if self.camera is not None:
            self.camera.over_cpu_budget = "cpu" in over
        st: dict[str, Any] = {
            "state": state,
            "live": True,
            "trip_id": report.trip_id,
            "device_id": self.meta.device_id,
            "at_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "sensor_s": round(sensor_t, 3),
            "heartbeats_s": {k: None if a is None else round(a, 3) for k, a in ages.items()},
            "stale": stale,
            "events": len(report.events),
            "alerts": len(report.alerts),
            "sensors": {f.name: f.stats.to_dict() for f in self.feeds},
            "budget": {
                "cpu_cores": None if cores is None else round(cores, 3),
                "cpu_budget_cores": ecfg.cpu_budget_cores,
                "rss_mib": round(rss, 1),
                "memory_budget_mib": ecfg.memory_budget_mb,
                "over": over,
            },
        }
        if self.camera is not None:
            st["camera"] = self.camera.status(now)
            if self._road is not None:
                st["camera"]["waiting_for_speed"] = len(self._road.waiting)
                st["camera"]["dropped_no_speed"] = self._road.dropped_no_speed
        if self.cabin is not None:
            st["cabin_camera"] = self.cabin.status()
        if self.loop is not None:  # segments and bytes, sensor and video, as of the last retention pass
            st["loop"] = self._loop_figures()
        sp = self._speeding_stream
        if sp is not None and sp.stream.gps is not None:
            # speed zones live: GPS fixes waiting for their final speed, and those given up
            st["speeding"] = {"fixes_waiting": len(sp.fixes), "max_fixes_waiting": sp.max_waiting, "dropped_no_speed": sp.dropped_no_speed}
        return st

    def publish_status(self, report: EdgeReport, sensor_t: float, state: str = "recording") -> None:
        st = self.status(report, sensor_t, state)
        self.last_status = st
        for sink in self.sinks:
            try:
                sink.status(st)
            except Exception as err:  # a sink must never stop the recorder
                log.warning("status_sink_failed", sink=type(sink).__name__, error=str(err))
        if self.status_path is not None:
            write_status(self.status_path, st)


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Atomically (temporary file, rename): a reader never sees half a status."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(status, indent=2))
    os.replace(tmp, path)


def read_status(path: Path) -> dict[str, Any] | None:
    """The live recorder's last status with its age (``edge --status``); None: none written."""
    try:
        st: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    st["written_s_ago"] = round(time.time() - path.stat().st_mtime, 1)
    return st


def status_path_for(spool: Path) -> Path:
    return spool.with_name(spool.name + ".status.json")


