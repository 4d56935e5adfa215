"""The road stage of analyze: camera + motion events (see the package docstring for the
stage contract).

What it does, when the recording has what it needs:

1. **Speeding** on the ego speed (``ctx.speed`` from the motion stage, else CAN, else GPS
   speed) with the limit in force: ``road_events.speed_limit_kmh`` and/or the zones of
   ``road_events.speed_zones`` (GeoJSON) looked up at the GPS position.
2. **Camera rules** when the recording has video or a detections file: the detector
   (``ctx.detector`` or the one the config builds), perception (tracks with distances and
   the lead), the lamp colour of traffic lights read from their pixels where the detector
   gave none, then tailgating, forward collision, stop signs and red lights on the common
   timeline. ``tracks.parquet`` is written. A recording with a forward radar and no video
   (comma2k19) runs the lead rules on the radar's tracks instead.
3. **Clips**: for every event of the recording (this stage's and the motion stage's) a clip
   and a snapshot with the boxes drawn, when there is video.

``road_events.mode`` picks streaming (frames and speed samples pushed as they come, as on
the vehicle) or batch (arrays aligned at once, as in the cloud); both fold the same domain
rules and give the same events.
"""

from __future__ import annotations

import heapq
import math
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from saferoad.application.context import AnalysisContext
from saferoad.application.stages._camera import video_time_offset as video_time_offset
from saferoad.application.stages.road_camera import CameraFeed
from saferoad.application.stages.road_lanes import run_lanes
from saferoad.config.road_events import RoadEventsConfig
from saferoad.domain.road_events import (
    RoadEventParams,
    StreamingRoad,
    StreamingSpeeding,
    batch_road,
    batch_speeding,
)
from saferoad.domain.road_events.engine import FrameItem, RoadEventEngine
from saferoad.domain.timeline import Stream
from saferoad.domain.types import (
    Event,
    RoadClass,
    SpeedSeries,
    TrackedObject,
)
from saferoad.observability import get_logger, span
from saferoad.ports.clips import ClipRequest
from saferoad.ports.edge import SpeedLimits

log = get_logger("road")


def params_from_config(cfg: RoadEventsConfig) -> RoadEventParams:
    """The domain's parameters from the config section (same names: the section's rule keys
    are derived from them; a ``config=False`` parameter at its default)."""
    return RoadEventParams.from_section(cfg)


# ------------------------------------------------------------------------ inputs


def ego_speed(ctx: AnalysisContext) -> SpeedSeries | None:
    """The ego speed the rules use: the motion stage's, else CAN, else GPS speed."""
    if ctx.speed is not None and len(ctx.speed):
        return ctx.speed
    rec = ctx.recording
    if rec.can_speed is not None and len(rec.can_speed):
        return rec.can_speed
    if rec.gps is not None and len(rec.gps) and np.isfinite(rec.gps.speed_mps).any():
        return SpeedSeries(rec.gps.t_s, rec.gps.speed_mps, "gps")
    return None


def speed_stream(speed: SpeedSeries | None, cfg: RoadEventsConfig) -> Stream | None:
    if speed is None:
        return None
    return Stream.scalar(
        "speed", speed.t_s, speed.speed_mps, cfg.clock_offsets_s.get("speed", 0.0), cfg.max_gap_s
    )


def gps_stream(ctx: AnalysisContext, cfg: RoadEventsConfig) -> Stream | None:
    gps = ctx.recording.gps
    if gps is None or not len(gps):
        return None
    ok = np.isfinite(gps.lat) & np.isfinite(gps.lon)
    return Stream(
        "gps", gps.t_s[ok], np.column_stack([gps.lat[ok], gps.lon[ok]]),
        cfg.clock_offsets_s.get("gps", 0.0), cfg.max_gap_s,
    )


# ------------------------------------------------------------------------ radar


def radar_frames(ctx: AnalysisContext, half_width_m: float) -> list[FrameItem]:
    """A forward radar's scans as frames of tracked vehicles (comma2k19 ``CAN/radar``: rows of
    forward distance, lateral offset (left +), relative speed, ..., address). Rows closer
    than 10 ms to one another are one scan; the lead is the nearest track in the corridor."""
    rec = ctx.recording
    t = rec.extras.get("radar_t_s")
    rows = rec.extras.get("radar")
    if t is None or rows is None or len(t) == 0:
        return []
    off = ctx.config.road_events.clock_offsets_s.get("radar", 0.0)
    order = np.argsort(t, kind="stable")
    t, rows = np.asarray(t)[order] + off, np.asarray(rows)[order]
    starts = np.flatnonzero(np.concatenate([[True], np.diff(t) > 0.01]))
    ends = np.concatenate([starts[1:], [len(t)]])
    frames: list[FrameItem] = []
    for k, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        objs: list[TrackedObject] = []
        best: tuple[float, int] | None = None
        for r in rows[a:b]:
            dist, lat = float(r[0]), float(r[1])
            if not (math.isfinite(dist) and math.isfinite(lat)) or dist <= 0:
                continue
            objs.append(TrackedObject(int(r[5]), RoadClass.VEHICLE, 1.0, (math.nan,) * 4, dist))
            if abs(lat) <= half_width_m and (best is None or dist < best[0]):
                best = (dist, len(objs) - 1)
        if best is not None:
            objs[best[1]] = replace(objs[best[1]], is_lead=True)
        frames.append((float(t[b - 1]), k, tuple(objs)))
    return frames


# ------------------------------------------------------------------------ the rules


@dataclass
class RoadRun:
    events: list[Event] = field(default_factory=list)
    frames: int = 0
    frames_with_lead: int = 0
    undecided: int = 0
    max_pending: int = 0
    rules_s: float = 0.0
    """Seconds spent in the timeline and the rules (perception excluded)."""


def run_rules(
    frames: Iterable[FrameItem],
    speed: Stream | None,
    params: RoadEventParams,
    *,
    mode: str,
    fx: float | None,
    cx: float | None,
) -> RoadRun:
    """The camera rules over ``frames`` (time order), streaming or batch."""
    if mode == "batch":
        items = list(frames)
        t0 = time.perf_counter()
        events, engine = batch_road(items, speed, params, fx=fx, cx=cx)
        return RoadRun(
            events, engine.frames, engine.frames_with_lead, engine.undecided, len(items),
            time.perf_counter() - t0,
        )
    stream = StreamingRoad(params, fx=fx, cx=cx, speed_offset_s=speed.offset_s if speed else 0.0)
    out: list[Event] = []
    busy = 0.0
    for kind, t, payload in _merge(frames, speed):
        t0 = time.perf_counter()
        if kind == 0:
            out += stream.push_speed(t, payload)
        else:
            ti, idx, objs = payload
            out += stream.push_frame(ti, idx, objs)
        busy += time.perf_counter() - t0
    t0 = time.perf_counter()
    out += stream.finish()
    busy += time.perf_counter() - t0
    eng: RoadEventEngine = stream.engine
    return RoadRun(
        out, eng.frames, eng.frames_with_lead, eng.undecided, stream.max_pending, busy
    )


def _merge(frames: Iterable[FrameItem], speed: Stream | None) -> Iterator[tuple[int, float, Any]]:
    """Speed samples (on their own clock, as a device receives them) and frames in the order
    of their recording-clock times: what a vehicle's pipeline would see."""
    if speed is None:
        speed_iter: Iterator[tuple[float, int, Any]] = iter(())
    else:
        speed_iter = _speed_items(speed)
    frame_iter = ((f[0], 1, f) for f in frames)
    for t, kind, payload in heapq.merge(speed_iter, frame_iter, key=lambda x: (x[0], x[1])):
        if kind == 0:
            raw_t, v = payload
            yield 0, raw_t, v
        else:
            yield 1, t, payload


def _speed_items(speed: Stream) -> Iterator[tuple[float, int, tuple[float, float]]]:
    """Speed samples as ``(recording-clock time, 0, (own-clock time, speed))``, the order key
    first, as the streaming merges push them."""
    return (
        (float(c), 0, (float(rt), float(v)))
        for c, rt, v in zip(speed.clock_t_s, speed.t_s, speed.values[:, 0], strict=True)
    )


def speed_limits(ctx: AnalysisContext) -> SpeedLimits | None:
    """The limits in force: the config's limit and/or zones, else the recording's own
    speed_zones.geojson (a simulated drive's posted limit; docs/recording-format.md), else none
    (the edge recorder asks the same)."""
    cfg = ctx.config.road_events
    own = Path(ctx.recording.path) / "speed_zones.geojson"
    if cfg.speed_zones is None and cfg.speed_limit_kmh is None and not own.is_file():
        return None
    load = ctx.adapters.speed_limits
    if cfg.speed_zones is not None:
        return load(Path(cfg.speed_zones), cfg.speed_limit_kmh)
    if cfg.speed_limit_kmh is not None:
        return load(None, cfg.speed_limit_kmh)
    return load(own, None)


def run_speeding(ctx: AnalysisContext, speed: Stream | None, params: RoadEventParams) -> list[Event]:
    cfg = ctx.config.road_events
    limits = speed_limits(ctx)
    if speed is None or limits is None:
        return []
    gps = gps_stream(ctx, cfg) if limits.zones else None
    if cfg.mode == "batch":
        return batch_speeding(speed, gps, limits.limit_at, params)
    st = StreamingSpeeding(
        limits.limit_at, params, speed_offset_s=speed.offset_s,
        gps_offset_s=gps.offset_s if gps is not None else 0.0, has_gps=gps is not None,
    )
    items: list[Iterator[tuple[float, int, tuple[float, ...]]]] = [_speed_items(speed)]
    if gps is not None:
        items.append(
            ((float(c), 1, (float(rt), float(a), float(b))) for c, rt, (a, b) in
             zip(gps.clock_t_s, gps.t_s, gps.values, strict=True))
        )
    out: list[Event] = []
    for _, kind, p in heapq.merge(*items, key=lambda x: (x[0], x[1])):
        out += st.push_speed(p[0], p[1]) if kind == 0 else st.push_gps(p[0], p[1], p[2])
    return out + st.finish()


# ------------------------------------------------------------------------ the stage


def run(ctx: AnalysisContext) -> None:
    """The road stage; a video cut short (a power cut) is checked first and analysed from what
    it still holds (the ``check_video`` port: ``adapters/video/check.py``, which warns about
    each repair), or left out when nothing is readable: the sensors' events never depend on it."""
    rec = ctx.recording
    if rec.video is None:
        _run(ctx)
        return
    with tempfile.TemporaryDirectory(prefix="saferoad-video-") as tmp:
        with span("road.video_check", video=str(rec.video)) as sp:
            reference = ctx.config.input.video_reference
            check = ctx.adapters.check_video(  # a relative reference: in the recording's folder
                rec.video, Path(tmp), fps=rec.meta.camera_fps, reference=Path(reference) if reference else None,
                reference_dir=rec.path,
            )
            sp["damaged"] = check.damage is not None
        if check.damage is not None:
            ctx.summary.setdefault("damaged", []).append(check.summary(rec.video.name))
        ctx.recording = replace(rec, video=check.path)
        try:
            _run(ctx)
        finally:
            ctx.recording = rec


def _run(ctx: AnalysisContext) -> None:
    cfg = ctx.config.road_events
    params = params_from_config(cfg)
    rec = ctx.recording
    speed_series = ego_speed(ctx)
    speed = speed_stream(speed_series, cfg)
    summary: dict[str, Any] = {
        "mode": cfg.mode,
        "speed_source": speed_series.source if speed_series is not None else None,
    }
    events: list[Event] = []
    with span("road.speeding", mode=cfg.mode) as sp:
        found = run_speeding(ctx, speed, params)
        sp["events"] = len(found)
        events += found

    has_camera = rec.video is not None or rec.detections is not None
    tracks: dict[float, list[TrackedObject]] = {}
    if has_camera:
        with span("road.camera", mode=cfg.mode, video=str(rec.video)) as sp:
            feed = CameraFeed(ctx, tracks)
            try:
                result = run_rules(feed, speed, params, mode=cfg.mode, fx=feed.fx, cx=feed.cx)
            finally:
                feed.close()
            sp.update(frames=result.frames, events=len(result.events))
        summary.update(feed.info())
        summary["source"] = "camera"
        if feed.lane_detector is not None:
            with span("road.lanes", frames=len(feed.lanes)) as sp:
                lane_found, summary["lanes"] = run_lanes(ctx, feed.lanes, speed_series, feed.lane_s)
                sp["events"] = len(lane_found)
            events += lane_found
    elif "radar" in rec.extras:
        with span("road.radar", mode=cfg.mode) as sp:
            rframes = radar_frames(ctx, cfg.corridor_half_width_m)
            result = run_rules(rframes, speed, params, mode=cfg.mode, fx=None, cx=None)
            sp.update(frames=result.frames, events=len(result.events))
        summary["source"] = "radar"
    else:
        result = None
    if result is not None:
        events += result.events
        summary.update(
            frames=result.frames,
            frames_with_lead=result.frames_with_lead,
            undecided=result.undecided,
            max_pending_frames=result.max_pending,
            rules_s=round(result.rules_s, 4),
        )
    events.sort(key=lambda e: (e.start_s, e.type.value))
    for ev in events:
        ev.evidence["clip_window_s"] = _clip_window(_key_t(ev), cfg)
    if has_camera and rec.video is not None and cfg.clips and ctx.out_dir is not None:
        # clips first, so the sink receives this stage's events with their clip paths
        with span("road.clips", events=len(ctx.events) + len(events)) as sp:
            sp["clips"] = cut_event_clips(ctx, ctx.events + events, tracks)
    ctx.add_events(events)
    ctx.summary["road"] = summary
    ctx.artefacts["road_tracks"] = tracks


def cut_event_clips(
    ctx: AnalysisContext, events: list[Event], tracks: dict[float, list[TrackedObject]]
) -> int:
    """A clip and a snapshot for each of ``events`` (every event of the recording: the motion
    stage's too); their paths go into the events' evidence."""
    cfg = ctx.config.road_events
    assert ctx.out_dir is not None and ctx.recording.video is not None
    requests = []
    for i, ev in enumerate(events):
        key = _key_t(ev)
        ids = {
            int(ev.evidence[k]) for k in ("lead_track_id", "sign_track_id", "light_track_id")
            if isinstance(ev.evidence.get(k), int)
        }
        name = f"{i:03d}_{ev.type.value}_{_slug(f'{ev.start_s:.1f}')}s"
        snap = ev.evidence.get("last_seen_s", key)  # a sign or light: while still in view
        requests.append(ClipRequest(
            name, key - cfg.clip_before_s, key + cfg.clip_after_s, key,
            f"{ev.type.value}  t={key:.1f}s", frozenset(ids),
            float(snap) if isinstance(snap, int | float) and math.isfinite(snap) else key,
        ))
        ev.evidence.setdefault("clip_window_s", _clip_window(key, cfg))
    results = ctx.adapters.cut_clips(
        ctx.recording.video, requests, tracks, ctx.out_dir,
        time_offset_s=video_time_offset(ctx), max_width=cfg.clip_max_width,
    )
    n = 0
    for ev, res in zip(events, results, strict=True):
        if res.clip is not None:
            ev.evidence["clip"] = str(res.clip.relative_to(ctx.out_dir))
            n += 1
        if res.snapshot is not None:
            ev.evidence["snapshot"] = str(res.snapshot.relative_to(ctx.out_dir))
    return n


def _key_t(ev: Event) -> float:
    """The moment an event's clip centres on: its ``key_t_s`` evidence, else its start."""
    key = float(ev.evidence.get("key_t_s", ev.start_s))
    return key if math.isfinite(key) else ev.start_s


def _clip_window(key: float, cfg: RoadEventsConfig) -> list[float]:
    return [round(key - cfg.clip_before_s, 3), round(key + cfg.clip_after_s, 3)]


def _slug(s: str) -> str:
    return re.sub(r"[^0-9A-Za-z.-]", "_", s)
