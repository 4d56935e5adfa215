"""The camera + motion rules together, run streaming or batch over the same code.

:class:`RoadEventEngine` owns the lead tracker and the registered camera rules
(``registry.road_rules("frame")``, built from their params) and takes one frame at a time (``on_frame``). Around it:

* :class:`StreamingRoad` — the vehicle's way: frames and speed samples are pushed as they
  arrive (in time order each); a frame waits in a short queue until the speed sample after
  it has come (:class:`~saferoad.domain.timeline.OnlineAligner`), then goes through the
  engine. Memory: the queue (frames newer than the latest speed sample) and the rules'
  bounded state.
* :func:`batch_road` — the cloud's way: speed aligned to every frame time at once
  (:func:`~saferoad.domain.timeline.align`), then the same engine folded over the frames.

Speeding runs on a regular tick grid of the speed stream (:class:`StreamingSpeeding`,
:func:`batch_speeding`) with the limit of each tick from a ``limit_at(lat, lon)`` callback.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

import numpy as np

from saferoad.domain.road_events.base import RoadSample, Rule, SpeedSample
from saferoad.domain.road_events.lead import LeadTracker
from saferoad.domain.road_events.registry import RoadEventParams as RoadEventParams  # re-exported
from saferoad.domain.road_events.registry import RuleContext, road_rules
from saferoad.domain.timeline import OnlineAligner, Stream, align, tick_at
from saferoad.domain.types import Event, RoadClass, TrackedObject


def sign_distance(obj: TrackedObject, fx: float, size_m: float) -> float:
    """Distance to a stop sign from its size: ``fx * size / extent`` with the box's larger
    side (an octagon is as tall as wide, and a box cut by the image border keeps its other
    side)."""
    x1, y1, x2, y2 = obj.xyxy
    extent = max(x2 - x1, y2 - y1)
    return fx * size_m / extent if extent > 0 else math.nan


class RoadEventEngine:
    """Lead tracking and the camera rules, one frame at a time."""

    def __init__(
        self, params: RoadEventParams, *, fx: float | None, cx: float | None, onsets: bool = False
    ) -> None:
        """``onsets``: keep the following rules' onsets for :meth:`take_onsets`."""
        p = params
        self.params = p
        self.fx = fx
        self.lead = LeadTracker(fx, cx, p.common.corridor_half_width_m, p.common.range_rate_window_s)
        ctx = RuleContext(p.common, onsets)
        self.rules: tuple[Rule[RoadSample], ...] = tuple(
            r.build(p.of(r), ctx) for r in road_rules("frame")
        )
        self._onset_rules = [r for r in self.rules if isinstance(r, _HasOnsets)]
        self._last_t = -math.inf
        self.frames = 0
        self.frames_with_lead = 0

    def on_frame(
        self, t_s: float, frame: int, objects: Sequence[TrackedObject], speed_mps: float
    ) -> list[Event]:
        gap = self.frames > 0 and t_s - self._last_t > self.params.common.max_frame_gap_s
        self._last_t = t_s
        self.frames += 1
        objs = tuple(self._with_sign_distance(o) for o in objects)
        lead = self.lead.update(t_s, objs, speed_mps, gap)
        if lead is not None:
            self.frames_with_lead += 1
        sample = RoadSample(t_s, frame, speed_mps, objs, lead, gap)
        out: list[Event] = []
        for rule in self.rules:
            out.extend(rule.update(sample))
        return out

    def _with_sign_distance(self, o: TrackedObject) -> TrackedObject:
        """A stop sign without a distance gets one from its size (where the camera is known)."""
        if o.cls != RoadClass.STOP_SIGN or o.distance_m is not None or self.fx is None:
            return o
        d = sign_distance(o, self.fx, self.params.common.stop_sign_size_m)
        if not math.isfinite(d):
            return o
        return replace(o, distance_m=d, attributes={**o.attributes, "distance_source": "size"})

    def finish(self) -> list[Event]:
        out: list[Event] = []
        for rule in self.rules:
            out.extend(rule.finish())
        return out

    def take_onsets(self) -> list[Event]:
        """Tailgating and forward-collision runs that reached their minimum duration since the
        last call, as provisional events ending at the frame that completed the rule."""
        return [ev for rule in self._onset_rules for ev in rule.take_onsets()]

    @property
    def undecided(self) -> int:
        """Decisions a gap made impossible, summed over the rules that count them."""
        return sum(rule.undecided for rule in self.rules if isinstance(rule, _CountsUndecided))


@runtime_checkable
class _HasOnsets(Protocol):
    """A rule that keeps provisional onsets (the following rules)."""

    def take_onsets(self) -> list[Event]: ...


@runtime_checkable
class _CountsUndecided(Protocol):
    """A rule that counts the decisions a gap made impossible (signs, lights)."""

    undecided: int


FrameItem = tuple[float, int, Sequence[TrackedObject]]
"""A frame on the recording clock: ``(t_s, frame index, tracked objects)``."""


class StreamingRoad:
    """Push frames and speed samples as they come; events come out as soon as decided.

    Samples and frames are pushed in the order of their (recording-clock) times, a sample
    before a frame of the same time, as a device receives them. A frame waits for the speed
    sample after it; when the speed stream falls silent, a frame more than ``max_gap_s``
    older than the newest frame is released with an unknown speed (any later sample would be
    more than ``max_gap_s`` after the last one, a gap, exactly as the batch alignment
    decides), so the queue never holds more than ``max_gap_s`` of frames.
    """

    def __init__(
        self, params: RoadEventParams, *, fx: float | None, cx: float | None,
        speed_offset_s: float = 0.0,
    ) -> None:
        self.engine = RoadEventEngine(params, fx=fx, cx=cx)
        self.speed = OnlineAligner("speed", 1, speed_offset_s, params.common.max_gap_s)
        self._pending: deque[FrameItem] = deque()
        self.max_pending = 0

    def push_speed(self, t_s: float, speed_mps: float) -> list[Event]:
        self.speed.push(t_s, (speed_mps,))
        return self._drain()

    def push_frame(self, t_s: float, frame: int, objects: Sequence[TrackedObject]) -> list[Event]:
        self._pending.append((t_s, frame, objects))
        self.max_pending = max(self.max_pending, len(self._pending))
        return self._drain()

    def finish(self) -> list[Event]:
        self.speed.close()
        return self._drain() + self.engine.finish()

    def _drain(self) -> list[Event]:
        out: list[Event] = []
        gap = self.engine.params.common.max_gap_s
        while self._pending:
            t, idx, objs = self._pending[0]
            got = self.speed.query(t)
            if got is None:
                if self._pending[-1][0] - t <= gap:
                    break
                got = ((math.nan,), False)  # the speed stream is in a gap here
            self._pending.popleft()
            (v,), _valid = got
            out += self.engine.on_frame(t, idx, objs, v)
        return out


def batch_road(
    frames: Sequence[FrameItem], speed: Stream | None, params: RoadEventParams, *,
    fx: float | None, cx: float | None,
) -> tuple[list[Event], RoadEventEngine]:
    """All frames at once: speed aligned to every frame time, then the engine folded."""
    t = np.array([f[0] for f in frames], dtype=np.float64)
    if speed is not None:
        v, _ = align(speed, t)
        vs = v[:, 0]
    else:
        vs = np.full(t.shape[0], np.nan)
    engine = RoadEventEngine(params, fx=fx, cx=cx)
    out: list[Event] = []
    for (ti, idx, objs), vi in zip(frames, vs.tolist(), strict=True):
        out += engine.on_frame(ti, idx, objs, vi)
    out += engine.finish()
    return out, engine


# --- speeding on the speed timeline ---------------------------------------------------

LimitFn = Callable[[float, float], tuple[float, str | None]]
"""``limit_at(lat, lon) -> (limit m/s or NaN, zone name or None)``."""


def batch_speeding(
    speed: Stream, gps: Stream | None, limit_at: LimitFn, params: RoadEventParams
) -> list[Event]:
    """Speeding over the whole speed stream: ticks, aligned speed and position, the rule."""
    ts = speed.clock_t_s
    if ts.shape[0] == 0:
        return []
    hz = params.common.tick_hz
    n = math.floor((float(ts[-1]) - float(ts[0])) * hz) + 2
    ticks = ts[0] + np.arange(n, dtype=np.float64) / np.float64(hz)
    ticks = ticks[ticks <= ts[-1]]  # the same grid StreamingSpeeding walks (tick_at)
    v, _ = align(speed, ticks)
    if gps is not None:
        ll, _ = align(gps, ticks)
    else:
        ll = np.full((ticks.shape[0], 2), np.nan)
    rules = speed_rules(params)
    out: list[Event] = []
    for ti, vi, (lat, lon) in zip(ticks.tolist(), v[:, 0].tolist(), ll.tolist(), strict=True):
        limit, zone = limit_at(lat, lon)
        sample = SpeedSample(ti, vi, limit, zone)
        for rule in rules:
            out += rule.update(sample)
    for rule in rules:
        out += rule.finish()
    return out


def speed_rules(params: RoadEventParams) -> list[Rule[SpeedSample]]:
    """Fresh rules of every registered rule fed the speed timeline (speeding)."""
    ctx = RuleContext(params.common)
    return [r.build(params.of(r), ctx) for r in road_rules("speed")]


class StreamingSpeeding:
    """Speeding as samples arrive: ticks are released once both streams have passed them."""

    def __init__(
        self, limit_at: LimitFn, params: RoadEventParams, *, speed_offset_s: float = 0.0,
        gps_offset_s: float = 0.0, has_gps: bool = True,
    ) -> None:
        self.params = params
        self.limit_at = limit_at
        gap = params.common.max_gap_s
        self.speed = OnlineAligner("speed", 1, speed_offset_s, gap)
        self.gps = OnlineAligner("gps", 2, gps_offset_s, gap) if has_gps else None
        self.rules = speed_rules(params)
        self._t0: float | None = None
        self._i = 0
        self._speed_closed = False

    def push_speed(self, t_s: float, speed_mps: float) -> list[Event]:
        before = self.speed.latest_t
        self.speed.push(t_s, (speed_mps,))
        if self._t0 is None and self.speed.latest_t > before:
            self._t0 = self.speed.latest_t
        return self._drain()

    def push_gps(self, t_s: float, lat: float, lon: float) -> list[Event]:
        if self.gps is not None:
            self.gps.push(t_s, (lat, lon))
        return self._drain()

    def finish(self) -> list[Event]:
        self.speed.close()
        self._speed_closed = True
        if self.gps is not None:
            self.gps.close()
        out = self._drain()
        for rule in self.rules:
            out += rule.finish()
        return out

    def _drain(self) -> list[Event]:
        out: list[Event] = []
        if self._t0 is None:
            return out
        hz = self.params.common.tick_hz
        while True:
            t = tick_at(self._t0, self._i, hz)
            if self._speed_closed and t > self.speed.latest_t:
                break  # past the end of the speed stream (as the batch grid ends)
            if not self.speed.ready(t) or (self.gps is not None and not self.gps.ready(t)):
                break
            got = self.speed.query(t)
            assert got is not None
            (v,), _ = got
            lat = lon = float("nan")
            if self.gps is not None:
                g = self.gps.query(t)
                assert g is not None
                (lat, lon), _ = g
            limit, zone = self.limit_at(lat, lon)
            sample = SpeedSample(t, v, limit, zone)
            for rule in self.rules:
                out += rule.update(sample)
            self._i += 1
        return out


def fold_frames(engine: RoadEventEngine, frames: Iterable[tuple[FrameItem, float]]) -> list[Event]:
    """Fold ``((t, index, objects), speed)`` pairs through ``engine`` and finish it."""
    out: list[Event] = []
    for (t, idx, objs), v in frames:
        out += engine.on_frame(t, idx, objs, v)
    return out + engine.finish()
