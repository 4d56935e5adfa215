"""The live drive recorder's use case: sensor samples in (live, or a recording replayed as if
live on a simulated clock), streaming rules, in-cab alerts, every event into the on-device
spool.

Per step of ``edge.tick_s`` sensor time the recorder hands the new IMU/GPS/CAN samples to the
streaming motion rules (:class:`~saferoad.domain.motion.streaming.StreamingMotion`) and the new
cabin samples to the streaming cabin monitor (the same :class:`CabinMonitor` analyze runs, fed
the freshest ego speed). Each event that becomes final is

1. given a deterministic id (UUIDv5 of the trip and the event's type and start), so a restart
   that replays the same samples finds the same ids: the spool ignores what it already holds;
2. written to the spool and fsynced (then it counts as *confirmed*);
3. announced to the alert sinks unless its type's grace period holds it back.

The trip is opened in the spool when the drive starts (no summary yet), so that an uploader
running during the drive sends the trip, then each event as it is confirmed (the ingest API
answers 404 to an event of an unknown trip); its ``summary`` completes it when the drive ends.
"""

from __future__ import annotations

import contextlib
import math
import resource
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from saferoad._version import __version__
from saferoad.application.context import AnalysisContext, AnalysisPorts
from saferoad.application.edge_cabin import CabinStream
from saferoad.application.edge_fast import FastLaneAlerts, FastRoadAlerts
from saferoad.application.sinks import FanOut
from saferoad.application.stages import road
from saferoad.application.stages.motion import params_from_config
from saferoad.application.stages.road import speed_limits
from saferoad.application.stages.road_camera import CameraFeed
from saferoad.application.stages.road_lanes import lane_params
from saferoad.config import SaferoadConfig
from saferoad.domain.alerts import Alert, AlertDebouncer
from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.lanes import LaneObservation, fuse_lane_changes
from saferoad.domain.lanes.streaming import StreamingLanes
from saferoad.domain.lanes.turn_signal import LaneQuiet, chunk_turn
from saferoad.domain.motion.streaming import (
    StreamingMotion,
    StreamParams,
    chunk_gps,
    chunk_imu,
    chunk_speed,
    ticks,
)
from saferoad.domain.recording import Recording
from saferoad.domain.road_events import StreamingRoad, StreamingSpeeding
from saferoad.domain.types import Event, EventType, GpsSeries, SpeedSeries
from saferoad.observability import get_logger
from saferoad.ports.cabin import CabinPorts, CabinTrackReader
from saferoad.ports.clips import ClipRequest
from saferoad.ports.edge import AlertSink, Clock, EventSpool, LoopRecorder, SpeedLimits
from saferoad.ports.events import EventSink

if TYPE_CHECKING:
    from saferoad.config.road_events import RoadEventsConfig

CABIN_TRACK = "cabin.csv"

log = get_logger("edge")


class WallClock:
    """The machine's monotonic clock."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SimulatedClock:
    """A clock that only moves when told: ``sleep`` advances it at once (tests, soaks)."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


class CallbackSink:
    """Alerts to a Python callable (the callback API)."""

    def __init__(self, fn: Callable[[Alert], None]) -> None:
        self.fn = fn

    def alert(self, alert: Alert) -> None:
        self.fn(alert)

    def status(self, status: dict[str, Any]) -> None:
        return None

    def close(self) -> None:
        return None


def trip_id_for(recording: Recording) -> str:
    """Deterministic trip id: the device, its start time (else the recording's name)."""
    meta = recording.meta
    start = meta.start_utc.isoformat() if meta.start_utc else recording.path.name
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"saferoad:trip:{meta.device_id}:{start}"))


def event_id_for(trip_id: str, event: Event) -> str:
    """Deterministic event id: the same event of the same trip always gets the same id."""
    return str(uuid.uuid5(uuid.UUID(trip_id), f"{event.type.value}:{event.start_s:.3f}"))


@dataclass
class EdgeReport:
    """What one recorder run did (printed by the CLI, read by tests and benchmarks)."""

    trip_id: str
    events: list[Event] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    new_in_spool: int = 0
    alert_latency_s: list[float] = field(default_factory=list)
    """Per alert: wall time from the arrival of the completing sample to the last sink's return."""
    alert_lag_s: list[float] = field(default_factory=list)
    """Per alert: sensor time from the event's end to the sample that raised the alert."""
    early_confirmed: int = 0
    """Early (provisional) alerts whose event became final (same type, overlapping)."""
    early_retracted: int = 0
    """Early alerts whose event never became final (typed otherwise or gone in the end)."""
    fast_road: dict[str, int] = field(default_factory=dict)
    """Fast road alerts (forward collision, tailgating at the completing frame): confirmed and
    retracted by the final events."""
    fast_road_lag_s: list[float] = field(default_factory=list)
    """Per fast road alert: sensor time from the completing frame to the step that ran it."""
    road_final_lag_s: list[float] = field(default_factory=list)
    """Per confirmed fast road alert: sensor time from the completing frame to its final event
    (when the slow path alone would have alerted: the baseline of ``fast_road_lag_s``)."""
    fast_lanes: dict[str, int] = field(default_factory=dict)
    """Fast ``lane_departure`` alerts (at the completing frame): confirmed and retracted by
    the final departures, the most observations held, the rule's re-runs."""
    fast_lane_lag_s: list[float] = field(default_factory=list)
    """Per fast lane alert: sensor time from the completing frame to the step that ran it."""
    lane_final_lag_s: list[float] = field(default_factory=list)
    """Per confirmed fast lane alert: sensor time from the completing frame to its final
    departure (the baseline of ``fast_lane_lag_s``)."""
    sensor_lag_s: list[float] = field(default_factory=list)
    """Per event (same order as ``events``): sensor time from its end to the sample or frame
    that made it final - the rules' latency."""
    ticks: int = 0
    late_ticks: int = 0
    """Steps the recorder began after their sensor time had passed on the paced clock."""
    max_buffered_samples: int = 0
    lanes: dict[str, int] = field(default_factory=dict)
    """Lane markings: frames looked at, with both lines, the most observations held."""
    cabin_frames: int = 0
    """Cabin frames (or ``cabin.csv`` samples) that went through the streaming cabin monitor."""
    cabin_ms_per_frame: float | None = None
    """Wall time per cabin frame (decoding, face pipeline, phone detector, rules)."""
    cabin_setup_s: float = 0.0
    """Wall time to open the cabin camera and load its models."""
    max_waiting_frames: int = 0
    """Road frames held for their final ego speed (bounded by the motion guard x fps)."""
    clips: int = 0
    """Clips cut into the spool."""
    distance_km: float | None = None
    """From the final ego speed (None without a speed)."""
    manoeuvres: dict[str, dict[str, int]] = field(default_factory=dict)
    """Graded manoeuvres per kind and band (contract 1: ``summary.json`` → ``manoeuvres``)."""
    speed_source: str | None = None
    loop: dict[str, int] = field(default_factory=dict)
    """Loop recording (``LoopRecorder.figures``): segments and bytes written and deleted, sensor
    and video, locked at the end, the budget, the bytes used at most, the largest overflow over
    the budget and the largest reservation it had no room for."""
    motion_runs: int = 0
    held_back: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    sensor_s: float = 0.0
    cpu_s: float = 0.0
    """CPU time (user + system) of the recorder's process during the drive."""
    rss_peak_mib: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = np.asarray(self.alert_latency_s) if self.alert_latency_s else None
        return {
            "trip_id": self.trip_id,
            "events": len(self.events),
            "distance_km": None if self.distance_km is None else round(self.distance_km, 3),
            "alerts": len(self.alerts),
            "held_back": dict(self.held_back),
            "new_in_spool": self.new_in_spool,
            "alert_latency_ms": None
            if lat is None
            else {
                "p50": round(float(np.percentile(lat, 50)) * 1e3, 3),
                "p99": round(float(np.percentile(lat, 99)) * 1e3, 3),
            },
            "sensor_lag_s_max": round(max(self.sensor_lag_s), 3) if self.sensor_lag_s else None,
            "alert_lag_s_max": round(max(self.alert_lag_s), 3) if self.alert_lag_s else None,
            "early_alerts": {"confirmed": self.early_confirmed, "retracted": self.early_retracted},
            "fast_road_alerts": {
                **self.fast_road,
                "lag_s_max": round(max(self.fast_road_lag_s), 3) if self.fast_road_lag_s else None,
            },
            "fast_lane_alerts": {
                **self.fast_lanes,
                "lag_s_max": round(max(self.fast_lane_lag_s), 3) if self.fast_lane_lag_s else None,
            },
            "ticks": self.ticks,
            "late_ticks": self.late_ticks,
            "max_buffered_samples": self.max_buffered_samples,
            "cabin_frames": self.cabin_frames,
            "cabin_ms_per_frame": None if self.cabin_ms_per_frame is None else round(self.cabin_ms_per_frame, 3),
            "cabin_setup_s": round(self.cabin_setup_s, 3),
            "lanes": dict(self.lanes),
            "max_waiting_frames": self.max_waiting_frames,
            "clips": self.clips,
            "loop": dict(self.loop),
            "motion_runs": self.motion_runs,
            "sensor_s": round(self.sensor_s, 3),
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "cpu_share_of_real_time": round(self.cpu_s / self.sensor_s, 4) if self.sensor_s > 0 else None,
            "rss_peak_mib": round(self.rss_peak_mib, 1),
        }


class Odometer:
    """Distance from the final ego speed, chunk by chunk: the trapezoid rule over the same
    samples analyze integrates (``distance_km``), so the trip's distance matches."""

    def __init__(self) -> None:
        self.m = 0.0
        self.samples = 0
        self.source: str | None = None
        self._last: tuple[float, float] | None = None

    def add(self, sp: SpeedSeries | None) -> None:
        if sp is None or len(sp) == 0:
            return
        t, v = sp.t_s, sp.speed_mps
        if self._last is not None:
            t = np.concatenate(([self._last[0]], t))
            v = np.concatenate(([self._last[1]], v))
        self.m += float(np.trapezoid(v, t))
        self._last = (float(sp.t_s[-1]), float(sp.speed_mps[-1]))
        self.samples += len(sp)
        self.source = sp.source

    @property
    def km(self) -> float:
        return self.m / 1000.0


class RecentTracks(dict[float, Any]):
    """The tracks of the last ``horizon_s`` of video frames (boxes drawn in clips); the road
    stage keeps every frame's, the recorder only what a clip can still need."""

    def __init__(self, horizon_s: float) -> None:
        super().__init__()
        self.horizon_s = horizon_s
        self._order: deque[float] = deque()

    def __setitem__(self, key: float, value: Any) -> None:
        super().__setitem__(key, value)
        self._order.append(key)
        while self._order and self._order[0] < key - self.horizon_s:
            self.pop(self._order.popleft(), None)


class ClipCutter:
    """Each event's clip (``road_events.clip_before_s`` before its key moment to
    ``clip_after_s`` after, boxes drawn) cut from the video once that much video has been
    recorded, for the spool (with the analysis's clip cutter, ``ports.cut_clips``). Pending
    clips: the events of the last clip window.

    ``video(start_s, end_s, key_s)``: the video holding that window (recorder clock) and the time
    of its first frame on that clock - the recording's video (:meth:`of_recording`), or live, the
    camera's own loop segments read in place (``application/edge_live``: a segment's path or an
    FFmpeg ``concat:`` URL over several); None: no video there."""

    def __init__(
        self,
        config: SaferoadConfig,
        tracks: RecentTracks,
        work_dir: Path,
        ports: AnalysisPorts,
        video: Callable[[float, float, float], tuple[Path | str, float] | None],
    ) -> None:
        self.video = video
        self.cfg = config.road_events
        self.road = road
        self.tracks = tracks
        self.work_dir = work_dir
        self.cut_clips = ports.cut_clips
        self.pending: list[tuple[float, str, Event]] = []
        self.cut = 0
        self.failed = 0
        """Clips that could not be cut (their video unreadable): logged; the event is spooled anyway."""

    @classmethod
    def of_recording(
        cls, recording: Recording, config: SaferoadConfig, tracks: RecentTracks, work_dir: Path, ports: AnalysisPorts
    ) -> ClipCutter:
        """Clips cut from ``recording``'s video (a replay)."""
        video = recording.video
        assert video is not None
        offset = road.video_time_offset(AnalysisContext(recording, config, ports=ports))
        return cls(config, tracks, work_dir, ports, lambda _a, _b, _k: (video, offset))

    def add(self, event_id: str, event: Event) -> None:
        key = self.road._key_t(event)
        self.pending.append((key + self.cfg.clip_after_s, event_id, event))

    def due(self, now: float) -> list[tuple[str, bytes]]:
        ready = [p for p in self.pending if p[0] <= now]
        self.pending = [p for p in self.pending if p[0] > now]
        return [c for p in ready if (c := self._cut(p[1], p[2])) is not None]

    def finish(self) -> list[tuple[str, bytes]]:
        return self.due(math.inf)

    def _cut(self, event_id: str, ev: Event) -> tuple[str, bytes] | None:
        key = self.road._key_t(ev)
        ids = frozenset(
            int(ev.evidence[k]) for k in ("lead_track_id", "sign_track_id", "light_track_id")
            if isinstance(ev.evidence.get(k), int)
        )  # fmt: skip
        req = ClipRequest(event_id, key - self.cfg.clip_before_s, key + self.cfg.clip_after_s, key,
                          f"{ev.type.value}  t={key:.1f}s", ids)  # fmt: skip
        found = self.video(req.start_s, req.end_s, req.key_s)
        if found is None:
            return None
        video, offset = found
        try:
            (res,) = self.cut_clips(video, [req], self.tracks, self.work_dir, time_offset_s=offset, max_width=self.cfg.clip_max_width)
        except Exception as err:  # a clip must never stop the recorder (a decoder error of any kind)
            self._failed(event_id, video, err)
            return None
        try:
            data = None if res.clip is None else res.clip.read_bytes()
        except OSError as err:  # nor a clip written that cannot be read back
            self._failed(event_id, video, err)
            return None
        finally:
            for f in (res.clip, res.snapshot):
                if f is not None:
                    f.unlink(missing_ok=True)
        if data is None:
            return None
        self.cut += 1
        return event_id, data

    def _failed(self, event_id: str, video: Path | str, err: Exception) -> None:
        """A clip not cut: counted and logged; its event is spooled without it."""
        self.failed += 1
        log.warning("clip_failed", event_id=event_id, video=str(video), error=str(err))


def lane_stream(config: SaferoadConfig) -> StreamingLanes:
    """The windowed lane-departure stream with the motion window's timing (replay and live)."""
    e = config.edge
    return StreamingLanes(lane_params(config.lanes), e.motion_window_s, e.motion_guard_s, e.motion_hop_s)


def lane_figures(ln: StreamingLanes, quiet: LaneQuiet) -> dict[str, int]:
    """The lane stream's figures for the report (replay and live alike); ``signalled``: final
    departures dropped because the turn signal showed their side."""
    return {
        "frames": ln.observations, "both_lines_seen": ln.both_lines_seen, "max_held": ln.max_observations,
        "signalled": quiet.dropped, "turn_signal_changes_held": quiet.signals.max_held,
    }  # fmt: skip


def fast_lane_figures(fl: FastLaneAlerts) -> dict[str, int]:
    """The fast lane alerts' book for the report (replay and live alike)."""
    return {"confirmed": fl.confirmed, "retracted": fl.retracted, "signalled": fl.signalled, "max_held": fl.max_held, "runs": fl.runs}


def lane_quiet(config: SaferoadConfig) -> LaneQuiet:
    """The turn signal's quiet on ``lane_departure`` (``lanes.turn_signal_quiet_s``), keeping
    the signal's changes as long as a final departure or a fast alert can ask about them."""
    e, q = config.edge, lane_params(config.lanes).turn_signal_quiet_s
    return LaneQuiet(q, keep_s=e.motion_window_s + e.motion_guard_s + e.motion_hop_s + q)


def release_by_speed(
    waiting: deque[Any], sp: SpeedSeries | None, cfg: Any,
    release: Callable[[Any], list[Event]], push_speed: Callable[[float, float], list[Event]],
) -> list[Event]:  # fmt: skip
    """Final ego speed samples merged in time order with the items ``waiting`` (frames, fixes;
    each ``(clock_t, ...)``): those recorded before a sample are ``release``d first, then the
    sample is pushed - analyze's streaming merge, shared by the replay and the live rules."""
    out: list[Event] = []
    stream = None if sp is None else road.speed_stream(sp, cfg)
    if stream is None:
        return out
    for clock_t, raw_t, v in zip(stream.clock_t_s.tolist(), stream.t_s.tolist(), stream.values[:, 0].tolist(), strict=True):
        while waiting and waiting[0][0] < clock_t:
            out += release(waiting.popleft())
        out += push_speed(raw_t, v)
    return out


def release_all(waiting: deque[Any], release: Callable[[Any], list[Event]]) -> list[Event]:
    """At the end: every item still waiting, in order."""
    out: list[Event] = []
    while waiting:
        out += release(waiting.popleft())
    return out


class RoadStream:
    """The road camera's (or forward radar's) rules as on the device: each frame waits until the
    ego speed at its time is final (the streaming motion's ``take_final_speed``), then frames and
    speed samples go to :class:`StreamingRoad` in time order, exactly as analyze's streaming
    mode merges them. The frames waiting are bounded by the motion guard (``guard_s`` x fps)."""

    def __init__(
        self,
        recording: Recording,
        config: SaferoadConfig,
        tracks: dict[float, Any] | None = None,
        ports: AnalysisPorts | None = None,
    ) -> None:

        rcfg = config.road_events
        ctx = AnalysisContext(recording, config, ports=ports)
        self.cfg = rcfg
        self.feed: Any = None
        frames: Iterator[Any]
        if recording.video is not None or recording.detections is not None:

            self.feed = CameraFeed(ctx, tracks if tracks is not None else RecentTracks(0.0))
            frames = iter(self.feed)
            fx, cx = self.feed.fx, self.feed.cx
        else:
            frames = iter(road.radar_frames(ctx, rcfg.corridor_half_width_m))
            fx = cx = None
        self.frames = frames
        self.offset = rcfg.clock_offsets_s.get("speed", 0.0)
        self.stream = StreamingRoad(road.params_from_config(rcfg), fx=fx, cx=cx, speed_offset_s=self.offset)
        self.fx, self.cx = fx, cx
        self.lanes: StreamingLanes | None = None
        if self.feed is not None and self.feed.lane_detector is not None:
            # lane markings (video only): each frame's observation goes to the windowed stream
            # as it arrives; the feed's own list is drained, so nothing grows with the drive
            self.lanes = lane_stream(config)
        self.new_lanes: list[LaneObservation] = []
        """Lane observations arrived since the recorder last took them (for the fast alerts)."""
        self.waiting: deque[Any] = deque()
        self._next: Any = None
        self._done = False
        self.max_waiting = 0

    @staticmethod
    def wanted(recording: Recording) -> bool:
        return recording.video is not None or recording.detections is not None or "radar" in recording.extras

    def arrive(self, until: float) -> list[Any]:
        """The frames recorded before ``until`` (sensor time) have arrived; returns them."""
        first = len(self.waiting)
        while not self._done:
            if self._next is None:
                self._next = next(self.frames, None)
                if self._next is None:
                    self._done = True
                    break
            if self._next[0] >= until:
                break
            self.waiting.append(self._next)
            self._next = None
        self.max_waiting = max(self.max_waiting, len(self.waiting))
        self._drain_lanes()
        return [self.waiting[i] for i in range(first, len(self.waiting))]

    def _drain_lanes(self) -> None:
        if self.lanes is not None:
            for obs in self.feed.lanes:
                self.lanes.push_observation(obs)
            self.new_lanes += self.feed.lanes
            self.feed.lanes.clear()

    def take_new_lanes(self) -> list[LaneObservation]:
        out, self.new_lanes = self.new_lanes, []
        return out

    def speed(self, sp: SpeedSeries | None) -> list[Event]:
        """Final ego speed samples: release the frames before each, in time order."""
        out = release_by_speed(self.waiting, sp, self.cfg, self._frame, self.stream.push_speed)
        if self.lanes is not None and sp is not None:
            out += self.lanes.push_speed(sp.t_s, sp.speed_mps)
        return out

    def _frame(self, item: Any) -> list[Event]:
        t, idx, objs = item
        return self.stream.push_frame(t, idx, objs)

    def finish(self) -> list[Event]:
        self.arrive(math.inf)
        out = release_all(self.waiting, self._frame)
        out += self.stream.finish()
        if self.lanes is not None:
            self._drain_lanes()
            out += self.lanes.finish()
        self.close()
        return out

    def close(self) -> None:
        """The camera's video (and ``tracks.parquet``'s writer) closed; again: nothing."""
        if self.feed is not None:
            self.feed.close()


class SpeedingStream:
    """The speed-limit rule as analyze's streaming mode runs it (only where a limit or zones are
    configured): final ego speed samples and GPS fixes merged in time order; a fix waits until
    the speed has passed it, as frames do in :class:`RoadStream`."""

    def __init__(
        self, recording: Recording, config: SaferoadConfig, limits: SpeedLimits, ports: AnalysisPorts | None = None,
        *, live_gps: bool = False,
    ) -> None:  # fmt: skip
        """``live_gps``: the fixes come as they are received (:meth:`add_gps`, the live
        recorder), not from the recording."""
        rcfg = config.road_events
        self.cfg = rcfg
        self.gps_offset_s = rcfg.clock_offsets_s.get("gps", 0.0)
        self.keep_s = config.edge.motion_window_s
        gps = road.gps_stream(AnalysisContext(recording, config, ports=ports), rcfg) if limits.zones and not live_gps else None
        self.fixes: deque[tuple[float, float, float, float]] = deque()
        if gps is not None:
            self.fixes.extend(
                (float(c), float(rt), float(a), float(b))
                for c, rt, (a, b) in zip(gps.clock_t_s, gps.t_s, gps.values, strict=True)
            )
        self.max_waiting = 0
        self.dropped_no_speed = 0
        """Live fixes dropped unmerged: older than ``motion_window_s`` with no final speed."""
        self.stream = StreamingSpeeding(
            limits.limit_at, road.params_from_config(rcfg), speed_offset_s=rcfg.clock_offsets_s.get("speed", 0.0),
            gps_offset_s=self.gps_offset_s, has_gps=gps is not None or (live_gps and bool(limits.zones)),
        )  # fmt: skip

    def add_gps(self, gps: GpsSeries | None) -> None:
        """Fixes just received (live), in time order: they wait for the final speed as a
        recording's do (at most ``motion_window_s`` of them: without speed the oldest go, counted)."""
        if gps is None or self.stream.gps is None:
            return
        ok = np.isfinite(gps.lat) & np.isfinite(gps.lon)
        for rt, a, b in zip(gps.t_s[ok].tolist(), gps.lat[ok].tolist(), gps.lon[ok].tolist(), strict=True):
            self.fixes.append((rt + self.gps_offset_s, rt, a, b))
        while self.fixes and self.fixes[0][0] < self.fixes[-1][0] - self.keep_s:
            self.fixes.popleft()
            self.dropped_no_speed += 1
        self.max_waiting = max(self.max_waiting, len(self.fixes))

    @staticmethod
    def build(recording: Recording, config: SaferoadConfig, ports: AnalysisPorts | None = None) -> SpeedingStream | None:
        """The stream where analyze's road stage would find a limit (``speed_limits``)."""

        limits = speed_limits(AnalysisContext(recording, config, ports=ports))
        return None if limits is None else SpeedingStream(recording, config, limits, ports)

    def speed(self, sp: SpeedSeries | None) -> list[Event]:
        return release_by_speed(self.fixes, sp, self.cfg, self._fix, self.stream.push_speed)

    def _fix(self, item: tuple[float, float, float, float]) -> list[Event]:
        _, rt, lat, lon = item
        return self.stream.push_gps(rt, lat, lon)

    def finish(self) -> list[Event]:
        return release_all(self.fixes, self._fix) + self.stream.finish()


def _fuse_lanes(events: list[Event], road: RoadStream | None) -> list[Event]:
    """The IMU's ``aggressive_lane_change`` events with the direction of the marking the road
    camera saw crossed, as analyze's road stage fuses them (a final motion event is ``guard``
    old: the lane window holds the frames around it)."""
    if road is None or road.lanes is None or not any(e.type is EventType.AGGRESSIVE_LANE_CHANGE for e in events):
        return events
    return fuse_lane_changes(events, road.lanes.lane_changes(), road.lanes.params)


def _with_clip_window(events: list[Event], cfg: RoadEventsConfig) -> list[Event]:
    """Each road event's ``clip_window_s`` evidence, as analyze's road stage sets it."""

    for ev in events:
        ev.evidence["clip_window_s"] = road._clip_window(road._key_t(ev), cfg)
    return events


def cabin_track(recording: Recording, read_track: CabinTrackReader) -> list[CabinSample]:
    """The recording's cabin signal track (``cabin.csv``), as analyze's cabin stage finds it."""
    path = recording.path
    candidate = path / CABIN_TRACK if path.is_dir() else path.parent / CABIN_TRACK
    return read_track(candidate) if candidate.is_file() else []


class SpoolSink:
    """The on-device spool as an :class:`~saferoad.ports.events.EventSink` of one trip: each
    final event stored under its deterministic id (written and fsynced: confirmed) and its clip
    registered for cutting. :attr:`new` counts the events the spool did not hold yet."""

    def __init__(self, spool: EventSpool, trip_id: str, start_utc: float | None, clips: ClipCutter | None) -> None:
        self.spool = spool
        self.trip_id = trip_id
        self.start_utc = start_utc
        self.clips = clips
        self.new = 0

    def emit(self, event: Event) -> None:
        event_id = event_id_for(self.trip_id, event)
        utc = None if self.start_utc is None else self.start_utc + event.start_s
        if self.spool.add_event(self.trip_id, event_id, event, utc):
            self.new += 1
        if self.clips is not None:
            self.clips.add(event_id, event)

    def close(self) -> None:
        """The spool is the caller's: left open."""


class EdgeRecorder:
    """One drive through the streaming rules into the spool and the alert sinks.

    Each event, once final (lane changes fused with the camera's direction, road events given
    their clip window), goes through one :class:`~saferoad.application.sinks.FanOut`: the spool
    (:class:`SpoolSink`) and the caller's ``sink`` (an ``events.jsonl`` writer, a stream), the
    same fan-out ``analyze`` hands its events to. In-cab alerts are not final events: an early
    or fast alert is raised before its event is final, so they go to the ``sinks``
    (:class:`~saferoad.ports.edge.AlertSink`) at once."""

    def __init__(
        self,
        config: SaferoadConfig,
        *,
        ports: AnalysisPorts,
        sinks: list[AlertSink] | None = None,
        spool: EventSpool | None = None,
        clock: Clock | None = None,
        clip_dir: Path | None = None,
        loop: LoopRecorder | None = None,
        cabin_ports: CabinPorts | None = None,
        sink: EventSink | None = None,
    ) -> None:
        """``sink``: receives each event once final, beside the spool (the caller closes it).
        ``ports``: the adapters of an analysis (``wiring.analysis_ports()``): the clip
        cutter, the cabin track reader, what the road stage's helpers need. ``clip_dir``: where clips are cut before they go into the spool (with a spool and
        a recording with video; default: none are cut). ``cabin_ports``: the face pipeline and
        phone detector for a cabin camera (``wiring.cabin_ports()``); without them a recording's
        cabin video is not streamed (warned) and its ``cabin.csv`` track, if any, is used."""
        self.config = config
        self.ports = ports
        self.sink = sink
        self.cabin_ports = cabin_ports
        self.clip_dir = clip_dir
        self.loop = loop
        """Loop recording of the sensor streams (``edge.loop_dir``), retention after each segment."""
        self.sinks = list(sinks or [])
        self.spool = spool
        self.clock = clock or WallClock()
        self.debouncer = AlertDebouncer(config.edge.alert_grace_s)

    def replay(
        self,
        recording: Recording,
        speed: float | None = None,
        on_tick: Callable[[float, EdgeReport], None] | None = None,
    ) -> EdgeReport:
        """Feed ``recording`` in as if live, ``speed`` times real time on ``self.clock``
        (0: as fast as the rules run); return what happened. ``on_tick(sensor_t, report)``
        is called after every step (soaks sample memory there). A drive that fails (a spool
        or sink error, a recording with nothing to replay) closes what it opened - the road
        camera's video, the cabin camera's video, face pipeline and phone detector - before
        its error is raised."""
        opened: list[Callable[[], None]] = []
        try:
            return self._replay(recording, speed, on_tick, opened)
        except BaseException:
            for close in reversed(opened):
                with contextlib.suppress(Exception):  # the drive's error is the one to report
                    close()
            raise

    def _replay(
        self,
        recording: Recording,
        speed: float | None,
        on_tick: Callable[[float, EdgeReport], None] | None,
        opened: list[Callable[[], None]],
    ) -> EdgeReport:
        """:meth:`replay`'s drive; what it opens is put in ``opened`` (closed on an error)."""
        cfg = self.config
        ecfg = cfg.edge
        speed = ecfg.speed if speed is None else speed
        trip_id = trip_id_for(recording)
        report = EdgeReport(trip_id)
        meta = recording.meta
        self._start_utc = meta.start_utc.timestamp() if meta.start_utc else None
        self._device_id = meta.device_id
        self._early: list[Event] = []
        self._fanout = None
        motion = StreamingMotion(
            params_from_config(cfg.motion, recording),
            StreamParams(ecfg.motion_window_s, ecfg.motion_hop_s, ecfg.motion_guard_s, ecfg.motion_early_alert_s),
        )
        tracks = RecentTracks(ecfg.motion_window_s)
        odo = Odometer()
        road = RoadStream(recording, cfg, tracks, self.ports) if RoadStream.wanted(recording) else None
        if road is not None:
            opened.append(road.close)
        self._fast = None
        if road is not None:
            self._fast = FastRoadAlerts(
                road.stream.engine.params, fx=road.fx, cx=road.cx, speed_offset_s=road.offset, horizon_s=ecfg.motion_window_s
            )
        self._fast_lanes = None
        quiet = lane_quiet(cfg)
        if road is not None and road.lanes is not None:
            self._fast_lanes = FastLaneAlerts(road.lanes.params, horizon_s=ecfg.motion_window_s)
            self._fast_lanes.quiet = quiet.fast
        self._clips = None
        if recording.video is not None and cfg.road_events.clips and self.spool is not None and self.clip_dir is not None:
            self._clips = ClipCutter.of_recording(recording, cfg, tracks, self.clip_dir, self.ports)
        speeding = SpeedingStream.build(recording, cfg, self.ports)
        setup0 = time.perf_counter()
        cabin = self._cabin_stream(recording)
        if cabin is not None:
            opened.append(cabin.close)
        report.cabin_setup_s = time.perf_counter() - setup0
        cabin_t0 = None if cabin is None else cabin.first_t()
        series = [s for s in (recording.imu, recording.gps, recording.can_speed) if s is not None and len(s)]
        starts = [float(s.t_s[0]) for s in series] + ([cabin_t0] if cabin_t0 is not None else [])
        # a video's last frame time is known once read: frames after the sensors' end are drained at the end
        cabin_end = self._cabin_end if cabin is not None and self._cabin_end is not None else cabin_t0
        ends = [float(s.t_s[-1]) for s in series] + ([cabin_end] if cabin_end is not None else [])
        if not starts:
            raise ValueError(f"{recording.path}: no IMU, GPS, CAN or cabin samples to replay")
        t_first, t_last = min(starts), max(ends)
        tick = ecfg.tick_s
        wall0 = self.clock.now()
        perf0 = time.perf_counter()
        cpu0 = cpu_seconds()
        if self.spool is not None:
            # opened now, so that the trip and its events can go up during the drive; its
            # summary completes it at the end
            self.spool.open_trip(trip_id, trip_head_body(recording))
        for sink in self.sinks:
            sink.status({"state": "recording", "trip_id": trip_id})
        for a, b in ticks(t_first, t_last, tick):
            if speed > 0:
                due = wall0 + (b - t_first) / speed
                wait = due - self.clock.now()
                if wait > 0:
                    self.clock.sleep(wait)
                elif wait < -tick / speed:
                    report.late_ticks += 1
            arrived = time.perf_counter()
            imu_c, gps_c, can_c = chunk_imu(recording.imu, a, b), chunk_gps(recording.gps, a, b), chunk_speed(recording.can_speed, a, b)
            new = motion.push(imu_c, gps_c, can_c)
            quiet.push(chunk_turn(recording.turn_signal, a, b))
            newest = min(b, t_last)
            self._announce_early(report, motion.take_provisional(), newest, arrived)
            self._deliver(report, _fuse_lanes(new, road), newest, arrived)
            self._retract_early(report, newest - ecfg.motion_window_s)
            final_speed = motion.take_final_speed()
            odo.add(final_speed)
            if road is not None:
                new_frames = road.arrive(b)
                if self._fast is not None:
                    self._announce_fast(report, self._fast.frames(new_frames, motion.speed_at), newest, arrived)
                    self._fast.retract(newest)
                if self._fast_lanes is not None:
                    lane_alerts = self._fast_lanes.observations(road.take_new_lanes(), motion.speed_at)
                    self._announce_fast(report, lane_alerts, newest, arrived, report.fast_lane_lag_s)
                    self._fast_lanes.retract(newest)
                self._deliver(report, _with_clip_window(quiet.final(road.speed(final_speed)), cfg.road_events), newest, arrived)
            if speeding is not None:
                self._deliver(report, _with_clip_window(speeding.speed(final_speed), cfg.road_events), newest, arrived)
            if self._clips is not None and self.spool is not None:
                for event_id, data in self._clips.due(newest):
                    self.spool.add_clip(event_id, data)
            if cabin is not None:
                for completed_s, evs in cabin.arrive(b, motion.speed_at):
                    self._deliver(report, evs, completed_s, arrived)
            if self.loop is not None and self.loop.push(min(b, t_last), imu_c, gps_c, can_c):
                self._retain()
            report.ticks += 1
            report.max_buffered_samples = max(report.max_buffered_samples, motion.buffered_samples)
            if road is not None:
                report.max_waiting_frames = road.max_waiting
            if on_tick is not None:
                on_tick(newest, report)
        arrived = time.perf_counter()
        finals = motion.finish()
        self._announce_early(report, motion.take_provisional(), t_last, arrived)
        self._deliver(report, _fuse_lanes(finals, road), t_last, arrived)
        final_speed = motion.take_final_speed()
        odo.add(final_speed)
        report.distance_km = odo.km if odo.samples > 1 else None
        report.speed_source = odo.source
        if road is not None:
            evs = quiet.final(road.speed(final_speed) + road.finish())
            self._deliver(report, _with_clip_window(evs, cfg.road_events), t_last, arrived)
            report.max_waiting_frames = road.max_waiting
            if road.lanes is not None:
                report.lanes = lane_figures(road.lanes, quiet)
        if speeding is not None:
            evs = speeding.speed(final_speed) + speeding.finish()
            self._deliver(report, _with_clip_window(evs, cfg.road_events), t_last, arrived)
        if self._clips is not None and self.spool is not None:
            for event_id, data in self._clips.finish():
                self.spool.add_clip(event_id, data)
            report.clips = self._clips.cut
        if self.loop is not None:
            self.loop.close_segment(t_last)
            self._retain()
            report.loop = self._loop_figures()
        if cabin is not None:
            for completed_s, evs in cabin.finish(motion.speed_at):
                self._deliver(report, evs, max(completed_s, t_last), arrived)
            report.cabin_frames = cabin.frames
            report.cabin_ms_per_frame = cabin.busy_s / cabin.frames * 1e3 if cabin.frames else None
        if self._fast_lanes is not None:
            fl = self._fast_lanes
            fl.finish()
            report.fast_lanes = fast_lane_figures(fl)
        self._close_report(report, motion, t_last - t_first, perf0, cpu0)
        if self.spool is not None:
            self.spool.add_trip(trip_id, trip_body(recording, report))
        for sink in self.sinks:
            sink.status({"state": "idle", "trip_id": trip_id, "events": len(report.events)})
        return report

    def _close_report(
        self, report: EdgeReport, motion: StreamingMotion, sensor_s: float, perf0: float, cpu0: float
    ) -> None:
        """The drive's end, as the replay and the live recorder close their report: the fast road
        alerts' book closed, events in time order, the motion rules' figures, what the debouncer
        held back, and the run's sensor time, wall time, CPU and peak memory."""
        if self._fast is not None:
            self._fast.finish()
            report.fast_road = {"confirmed": self._fast.confirmed, "retracted": self._fast.retracted}
        order = sorted(range(len(report.events)), key=lambda i: (report.events[i].start_s, report.events[i].type.value))
        report.events = [report.events[i] for i in order]
        report.sensor_lag_s = [report.sensor_lag_s[i] for i in order]
        report.motion_runs = motion.runs
        report.manoeuvres = motion.manoeuvre_counts.to_dict()
        report.early_retracted += len(self._early)
        self._early = []
        report.held_back = dict(self.debouncer.held_back)
        report.sensor_s = sensor_s
        report.wall_s = time.perf_counter() - perf0
        report.cpu_s = cpu_seconds() - cpu0
        report.rss_peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    _cabin_end: float | None = None

    def _cabin_stream(self, recording: Recording) -> CabinStream | None:
        """The cabin camera streamed (with ``cabin_ports``), else the ``cabin.csv`` track, as
        analyze's cabin stage chooses (a video first)."""
        self._cabin_end = None
        cfg = self.config.cabin
        if recording.cabin_video is not None:
            if self.cabin_ports is not None:
                return CabinStream.from_video(recording.cabin_video, cfg, self.cabin_ports, recording.meta.cabin_camera)
            log.warning(
                "edge_cabin_video_not_streamed",
                note="no cabin ports given to the recorder: cabin rules run on a cabin.csv track only",
            )
        track = cabin_track(recording, self.ports.cabin.read_track)
        if not track:
            return None
        self._cabin_end = track[-1].t_s
        return CabinStream.from_track(track, cfg, CABIN_TRACK)

    def _sinks_for(self, trip_id: str) -> FanOut:
        """The fan-out of this trip's final events: the spool, then the caller's sink."""
        if self._fanout is None or (self._spool_sink is not None and self._spool_sink.trip_id != trip_id):
            sinks: list[EventSink] = []
            self._spool_sink = None
            if self.spool is not None:
                self._spool_sink = SpoolSink(self.spool, trip_id, self._start_utc, self._clips)
                sinks.append(self._spool_sink)
            if self.sink is not None:
                sinks.append(self.sink)
            self._fanout = FanOut(sinks)
        return self._fanout

    def _deliver(self, report: EdgeReport, events: list[Event], completed_s: float, arrived: float) -> None:
        fanout = self._sinks_for(report.trip_id)
        for ev in events:
            event_id = event_id_for(report.trip_id, ev)
            fanout.emit(ev)
            if self._spool_sink is not None:
                report.new_in_spool = self._spool_sink.new
            report.events.append(ev)
            report.sensor_lag_s.append(max(0.0, completed_s - ev.end_s))
            early = next((p for p in self._early if p.type == ev.type and p.start_s <= ev.end_s and ev.start_s <= p.end_s), None)
            if early is not None:
                # announced already, before it was final: confirmed, not announced twice
                self._early.remove(early)
                report.early_confirmed += 1
                continue
            fast = self._fast.confirm(ev) if self._fast is not None else []
            if fast:
                # a fast road alert came at the frame that completed the rule: not announced twice
                report.road_final_lag_s += [completed_s - p.end_s for p in fast]
                continue
            lanes = self._fast_lanes if ev.type is EventType.LANE_DEPARTURE else None
            if lanes is not None and (fast := lanes.confirm(ev)):
                # a fast lane alert came at the completing frame: not announced twice
                report.lane_final_lag_s += [completed_s - p.end_s for p in fast]
                continue
            if self.debouncer.should_alert(ev):
                self._announce(report, Alert(ev, event_id, report.trip_id, self._device_id, completed_s), arrived)

    def _retract_early(self, report: EdgeReport, before_s: float) -> None:
        """An early alert whose event ended before ``before_s`` (it left the window) without
        becoming final: retracted (bounded state: the list never holds more than a window's).
        Each is looked at, not only the oldest: a later alert may end sooner."""
        if any(e.end_s < before_s for e in self._early):
            kept = [e for e in self._early if e.end_s >= before_s]
            report.early_retracted += len(self._early) - len(kept)
            self._early = kept

    def _announce_early(self, report: EdgeReport, events: list[Event], completed_s: float, arrived: float) -> None:
        """Provisional motion events: an alert now, the event itself when final."""
        for ev in events:
            self._early.append(ev)
            if self.debouncer.should_alert(ev):
                alert = Alert(ev, event_id_for(report.trip_id, ev), report.trip_id, self._device_id, completed_s, provisional=True)
                self._announce(report, alert, arrived)

    def _announce_fast(
        self, report: EdgeReport, events: list[Event], newest: float, arrived: float, lags: list[float] | None = None
    ) -> None:
        """Fast road alerts, at the frame that completed the rule (its time: the event's end);
        their sensor lag goes to ``lags`` (default: ``report.fast_road_lag_s``)."""
        for ev in events:
            (report.fast_road_lag_s if lags is None else lags).append(max(0.0, newest - ev.end_s))
            if self.debouncer.should_alert(ev):
                alert = Alert(ev, event_id_for(report.trip_id, ev), report.trip_id, self._device_id, ev.end_s, provisional=True)
                self._announce(report, alert, arrived)

    def _announce(self, report: EdgeReport, alert: Alert, arrived: float) -> None:
        for sink in self.sinks:
            try:
                sink.alert(alert)
            except Exception as err:  # a sink must never stop the recorder
                log.warning("alert_sink_failed", sink=type(sink).__name__, error=str(err))
        report.alerts.append(alert)
        report.alert_latency_s.append(time.perf_counter() - arrived)
        report.alert_lag_s.append(max(0.0, alert.completed_s - alert.event.end_s))

    _start_utc: float | None = None
    _device_id: str = "unknown"
    _clips: ClipCutter | None = None
    _fanout: FanOut | None = None
    _spool_sink: SpoolSink | None = None
    _fast: FastRoadAlerts | None = None
    _fast_lanes: FastLaneAlerts | None = None

    def _announced_windows(self) -> list[tuple[float, float]]:
        """Clip windows (absolute, as the spool's) of events alerted but not final yet - early
        harsh-driving alerts, fast road and lane alerts: their segments are locked too, so that a
        tight budget does not delete an event's video in the guard before it is final."""
        rc = self.config.road_events
        books = [b for b in (self._fast, self._fast_lanes) if b is not None]
        events = list(self._early) + [p.event for b in books for p in b.pending]
        t0 = self._start_utc or 0.0  # sensor time where the drive's start is unknown, as the spool's
        return [(t0 + e.start_s - rc.clip_before_s, t0 + e.end_s + rc.clip_after_s) for e in events]

    def _loop_figures(self) -> dict[str, int]:
        """``edge.json`` → ``loop``: segments written, deleted and locked, sensor and video, with
        their bytes, the unfinished video counted in the budget, the largest overflow over it
        and the largest reservation it had no room for (``LoopRecorder.figures``)."""
        assert self.loop is not None
        return self.loop.figures()

    def _retain(self) -> None:
        assert self.loop is not None
        rc = self.config.road_events
        windows = [] if self.spool is None else self.spool.pending_windows(rc.clip_before_s, rc.clip_after_s)
        plan = self.loop.retain(windows + self._announced_windows())
        if plan.over_budget_bytes:  # bytes on disk, all locked; a reservation without room is not one
            log.warning("loop_over_budget", bytes=plan.over_budget_bytes, locked=len(plan.locked))


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def trip_body(recording: Recording, report: EdgeReport) -> dict[str, Any]:
    """The ``PUT /trips/{trip_id}`` body of the ingest API (contract: docs/edge.md)."""
    counts: dict[str, int] = {}
    for ev in report.events:
        counts[ev.type.value] = counts.get(ev.type.value, 0) + 1
    summary: dict[str, Any] = {
        "saferoad_version": __version__,
        "recording": str(recording.path),
        "source_format": recording.source_format,
        "duration_s": round(recording.duration_s, 3),
        "distance_km": None if report.distance_km is None else round(report.distance_km, 3),
        "speed_source": report.speed_source,
        "manoeuvres": report.manoeuvres,
        "event_counts": counts,
        "n_events": len(report.events),
        "edge": {"alerts": len(report.alerts), "held_back": dict(report.held_back)},
    }
    return {**trip_head_body(recording), "summary": summary}


def trip_head_body(recording: Recording) -> dict[str, Any]:
    """The ``PUT /trips/{trip_id}`` body that opens the trip at its drive's start (no summary)."""
    meta = recording.meta
    return {
        "device_id": meta.device_id,
        "driver": meta.driver_id,
        "vehicle": meta.vehicle_id,
        "fleet": meta.fleet_id,
        "start_utc": meta.start_utc.isoformat() if meta.start_utc else None,
        "time_zone": meta.timezone,
    }
