"""Stop signs (``rolling_stop``, ``stop_sign_violation``) and red lights (``red_light``).

Both follow *tracks* of a fixed object ahead: a stop sign or a traffic light. A track has
**left the view** once it has not been seen for ``leave_view_s``; it is then decided on what
was seen until its last sighting.

**Passing.** The moment the ego passes the object is estimated from the object's last known
distance and the speed after its last sighting: the distance travelled (trapezoidal
integration of the ego speed) reaches the last distance. Without a known distance the pass
is the last sighting.

**Stop signs** (Motive's definition). A stop-sign track seen in at least ``min_frames``
frames and within ``max_distance_m`` (where distance is known) is decided
``window_s`` after it leaves the view:

* the ego speed went below ``stop_speed_mps`` at some time from the first sighting to the
  end of the window: a full stop, no event;
* else, if the lowest speed is at least ``slow_down_fraction`` below the approach speed (the
  highest speed before that lowest point): ``rolling_stop``;
* else (no attempt to slow down): ``stop_sign_violation``.

The event runs from the sign's last sighting to the estimated pass (or the other way round
when the pass is estimated before it). A stop while the sign is still in view counts: the
window starts at the first sighting, so a driver who stops short of the line and then
rolls past it has stopped.

Several sign tracks passed within ``dedupe_s`` of one another (both sides of a road, a
track split in two) are one intersection: the first decision stands.

**Red lights.** A traffic-light track seen in at least ``min_frames`` frames, whose lamp
read ``red`` at its last readable sighting (a box cut by the image border or a light seen
edge-on reads ``unknown`` and is skipped) (the ``lamp`` attribute: from the detector, or from the
lamp-colour classifier on the box's pixels), last seen within ``max_distance_m``, is
``red_light`` when the ego passes it at ``min_speed_mps`` or more (the speed at the
estimated pass): from the last sighting to the pass. A car that still stops at the line
after the light left its view has not passed it: no event.

**Gaps.** A gap in the video or an unknown ego speed while a decision is open makes that
decision impossible: the track is dropped undecided (counted in ``undecided``), never
guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from saferoad.domain.event_spec_base import EventSpec, Family
from saferoad.domain.params import param
from saferoad.domain.road_events.base import NAN, RoadSample, fmt
from saferoad.domain.road_events.registry import MPH, RoadRule, RuleContext, register
from saferoad.domain.types import Event, EventType, RoadClass, Severity, TrackedObject

MAX_TRACKS = 32
"""At most this many open sign / light tracks are followed (the oldest is dropped)."""


@dataclass
class _Fixed:
    """A fixed object ahead followed from its first sighting to its decision."""

    track_id: int
    first_t: float
    first_frame: int
    last_t: float = NAN
    last_frame: int = -1
    n: int = 0
    last_distance: float = NAN
    min_distance: float = math.inf
    last_xyxy: tuple[float, float, float, float] = (NAN, NAN, NAN, NAN)
    lamps: list[str] = field(default_factory=list)
    # ego speed since the first sighting
    speed_min: float = math.inf
    speed_min_t: float = NAN
    speed_max_so_far: float = -math.inf
    approach: float = NAN
    speed_at_last: float = NAN
    # passing
    travelled: float = 0.0
    pass_t: float = NAN
    undecidable: bool = False

    def see(self, s: RoadSample, obj: TrackedObject) -> None:
        self.last_t, self.last_frame = s.t_s, s.frame
        self.n += 1
        d = obj.distance_m
        self.last_distance = float(d) if d is not None and math.isfinite(d) else NAN
        if math.isfinite(self.last_distance):
            self.min_distance = min(self.min_distance, self.last_distance)
        self.last_xyxy = obj.xyxy
        self.speed_at_last = s.speed_mps
        self.travelled = 0.0
        self.pass_t = NAN
        lamp = obj.attributes.get("lamp")
        if lamp is not None and str(lamp) != "unknown":  # unreadable: keep the last reading
            self.lamps.append(str(lamp))
            del self.lamps[:-3]


@dataclass
class _FixedObjectRule:
    cls: RoadClass
    min_frames: int
    leave_view_s: float
    _open: dict[int, _Fixed] = field(default_factory=dict)
    _prev_t: float = NAN
    _prev_v: float = NAN
    undecided: int = 0

    def update(self, s: RoadSample) -> list[Event]:
        out: list[Event] = []
        if s.gap_before or not s.speed_valid:
            for rec in self._open.values():
                rec.undecidable = True
        for rec in self._open.values():
            self._advance(rec, s)
        for obj in s.objects:
            if obj.cls != self.cls:
                continue
            found = self._open.get(obj.track_id)
            if found is None:
                if len(self._open) >= MAX_TRACKS:
                    oldest = min(self._open.values(), key=lambda r: r.last_t)
                    del self._open[oldest.track_id]
                found = _Fixed(obj.track_id, s.t_s, s.frame)
                self._open[obj.track_id] = found
                self._advance(found, s)
            found.see(s, obj)
        self._prev_t, self._prev_v = s.t_s, s.speed_mps
        for tid in [t for t, r in self._open.items() if self._due(r, s.t_s)]:
            out += self._decide(self._open.pop(tid))
        return out

    def finish(self) -> list[Event]:
        out: list[Event] = []
        for rec in sorted(self._open.values(), key=lambda r: r.last_t):
            out += self._decide_at_end(rec)
        self._open.clear()
        return out

    def _advance(self, rec: _Fixed, s: RoadSample) -> None:
        """Fold one sample's ego speed into an open record."""
        if not s.speed_valid:
            return
        v = s.speed_mps
        if v < rec.speed_min:
            rec.speed_min, rec.speed_min_t = v, s.t_s
            rec.approach = max(rec.speed_max_so_far, v)
        rec.speed_max_so_far = max(rec.speed_max_so_far, v)
        left = rec.n > 0 and s.t_s > rec.last_t
        if left and math.isnan(rec.pass_t):
            if not math.isfinite(rec.last_distance):
                rec.pass_t = rec.last_t
            elif math.isfinite(self._prev_v) and s.t_s > self._prev_t:
                step = 0.5 * (self._prev_v + v) * (s.t_s - self._prev_t)
                if rec.travelled + step >= rec.last_distance and step > 0:
                    frac = (rec.last_distance - rec.travelled) / step
                    rec.pass_t = self._prev_t + frac * (s.t_s - self._prev_t)
                rec.travelled += step

    def _due(self, rec: _Fixed, t: float) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def _decide(self, rec: _Fixed) -> list[Event]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _decide_at_end(self, rec: _Fixed) -> list[Event]:
        """The drive ended before the decision was due: undecided, unless the outcome can no
        longer change (subclasses say when)."""
        if rec.n >= self.min_frames:
            self.undecided += 1
        return []

    @staticmethod
    def _evidence(rec: _Fixed, key: str) -> dict[str, object]:
        return {
            key: rec.track_id,
            "first_seen_s": fmt(rec.first_t),
            "last_seen_s": fmt(rec.last_t),
            "first_frame": rec.first_frame,
            "last_frame": rec.last_frame,
            "key_frame": rec.last_frame,
            "key_t_s": fmt(rec.pass_t if math.isfinite(rec.pass_t) else rec.last_t),
            "frames_seen": rec.n,
            "last_xyxy": [fmt(x, 1) for x in rec.last_xyxy],
            "min_distance_m": fmt(rec.min_distance),
            "pass_s": fmt(rec.pass_t),
        }


class StopSignRule(_FixedObjectRule):
    def __init__(
        self, stop_speed_mps: float = 2.682, window_s: float = 7.0, min_frames: int = 3,
        max_distance_m: float = 30.0, slow_down_fraction: float = 0.25,
        leave_view_s: float = 0.5, dedupe_s: float = 3.0,
    ) -> None:
        super().__init__(RoadClass.STOP_SIGN, min_frames, leave_view_s)
        self.stop_speed_mps = stop_speed_mps
        self.window_s = window_s
        self.max_distance_m = max_distance_m
        self.slow_down_fraction = slow_down_fraction
        self.dedupe_s = dedupe_s
        self._last_pass = -math.inf

    def _due(self, rec: _Fixed, t: float) -> bool:
        if t - rec.last_t <= self.leave_view_s + 1e-9:
            return False  # still in view
        if rec.undecidable or rec.speed_min < self.stop_speed_mps:
            return True  # nothing left to wait for
        return t >= rec.last_t + self.window_s - 1e-9

    def _decide_at_end(self, rec: _Fixed) -> list[Event]:
        if rec.speed_min < self.stop_speed_mps:
            return []  # a full stop: the outcome could not change any more
        return super()._decide_at_end(rec)

    def _decide(self, rec: _Fixed) -> list[Event]:
        if rec.n < self.min_frames:
            return []
        if math.isfinite(rec.min_distance) and rec.min_distance > self.max_distance_m:
            return []
        pass_t = rec.pass_t if math.isfinite(rec.pass_t) else rec.last_t
        if abs(pass_t - self._last_pass) < self.dedupe_s:
            return []
        if rec.undecidable:
            self.undecided += 1
            return []
        self._last_pass = pass_t
        if rec.speed_min < self.stop_speed_mps:
            return []
        attempt = rec.speed_min <= (1.0 - self.slow_down_fraction) * rec.approach
        etype = EventType.ROLLING_STOP if attempt else EventType.STOP_SIGN_VIOLATION
        v = rec.speed_min
        sev = Severity.LOW if v < 2 * self.stop_speed_mps else (
            Severity.MEDIUM if v < 4 * self.stop_speed_mps else Severity.HIGH
        )
        ev = self._evidence(rec, "sign_track_id")
        ev.update(
            min_speed_mps=fmt(rec.speed_min),
            min_speed_s=fmt(rec.speed_min_t),
            approach_speed_mps=fmt(rec.approach),
            speed_at_last_seen_mps=fmt(rec.speed_at_last),
            stop_speed_mps=fmt(self.stop_speed_mps),
            window_s=[fmt(rec.last_t), fmt(rec.last_t + self.window_s)],
        )
        return [
            Event(
                type=etype,
                start_s=min(rec.last_t, pass_t),
                end_s=max(rec.last_t, pass_t),
                severity=sev,
                confidence=1.0,
                peak={"min_speed_mps": fmt(rec.speed_min), "approach_speed_mps": fmt(rec.approach)},
                evidence=ev,
            )
        ]


class RedLightRule(_FixedObjectRule):
    def __init__(
        self, min_speed_mps: float = 2.682, min_frames: int = 3, max_distance_m: float = 35.0,
        leave_view_s: float = 0.5, max_pass_wait_s: float = 5.0,
    ) -> None:
        super().__init__(RoadClass.TRAFFIC_LIGHT, min_frames, leave_view_s)
        self.min_speed_mps = min_speed_mps
        self.max_distance_m = max_distance_m
        self.max_pass_wait_s = max_pass_wait_s

    def _due(self, rec: _Fixed, t: float) -> bool:
        if t - rec.last_t <= self.leave_view_s + 1e-9:
            return False
        return rec.undecidable or math.isfinite(rec.pass_t) or t - rec.last_t >= self.max_pass_wait_s

    def _decide(self, rec: _Fixed) -> list[Event]:
        if rec.n < self.min_frames or not rec.lamps or rec.lamps[-1] != "red":
            return []
        if math.isfinite(rec.last_distance) and rec.last_distance > self.max_distance_m:
            return []
        if rec.undecidable:
            self.undecided += 1
            return []
        if not math.isfinite(rec.pass_t):
            return []  # never reached the light (stopped before it)
        # the ego speed at the pass: the last sample folded before the pass was found
        v = self._prev_v
        if not (math.isfinite(v) and v >= self.min_speed_mps):
            return []
        ev = self._evidence(rec, "light_track_id")
        ev.update(
            lamp=rec.lamps[-1],
            lamps_last=list(rec.lamps),
            speed_at_pass_mps=fmt(v),
            speed_at_last_seen_mps=fmt(rec.speed_at_last),
            last_distance_m=fmt(rec.last_distance),
        )
        sev = Severity.HIGH if v >= 3 * self.min_speed_mps else Severity.MEDIUM
        return [
            Event(
                type=EventType.RED_LIGHT,
                start_s=min(rec.last_t, rec.pass_t),
                end_s=max(rec.last_t, rec.pass_t),
                severity=sev,
                confidence=1.0,
                peak={"speed_mps": fmt(v)},
                evidence=ev,
            )
        ]


# --- registration: params (the config keys), specs, builders ---------------------------


@dataclass(frozen=True, slots=True)
class StopSignParams:
    stop_speed_mps: float = param(
        round(6 * MPH, 3), "A stop counts when the ego speed goes below this (m/s). Motive: 6 mph "
        "(2.68 m/s).", gt=0,
    )
    stop_window_s: float = param(
        7.0, "Seconds after the stop sign leaves the view within which the stop must "
        "happen. Motive: 7 s.", gt=0,
    )
    stop_sign_min_frames: int = param(
        3, "A stop-sign track must be seen in at least this many frames to count (one "
        "stray detection is not a sign).", ge=1,
    )
    stop_sign_max_distance_m: float = param(
        30.0, "The sign must have been seen within this distance (m) where its distance "
        "is known, i.e. the ego really came up to it (not a sign far down a side road).", gt=0,
    )
    slow_down_fraction: float = param(
        0.25, "A rolling stop needs an attempt to slow down: the lowest speed in the window "
        "at least this fraction below the approach speed. Less is a stop_sign_violation "
        "(running the sign without an attempt to stop).", gt=0, lt=1,
    )


@dataclass(frozen=True, slots=True)
class RedLightParams:
    red_light_min_speed_mps: float = param(
        round(6 * MPH, 3), "Passing a red light counts when the ego moves at least this fast (m/s) as "
        "the light leaves the view; slower is creeping at the line. Same 6 mph as a stop.", ge=0,
    )
    red_light_max_distance_m: float = param(
        35.0, "The light must have been last seen within this distance (m) where known: "
        "a light lost far away was not passed.", gt=0,
    )
    red_light_min_frames: int = param(
        3, "A traffic-light track must be seen in at least this many frames, and the "
        "lamp read red in the last of them, to count.", ge=1,
    )


def _stop_signs(p: StopSignParams, ctx: RuleContext) -> StopSignRule:
    return StopSignRule(
        p.stop_speed_mps, p.stop_window_s, p.stop_sign_min_frames, p.stop_sign_max_distance_m,
        p.slow_down_fraction, ctx.common.leave_view_s,
    )


def _red_lights(p: RedLightParams, ctx: RuleContext) -> RedLightRule:
    return RedLightRule(
        p.red_light_min_speed_mps, p.red_light_min_frames, p.red_light_max_distance_m,
        ctx.common.leave_view_s,
    )


register(RoadRule("stop_sign", StopSignParams, _stop_signs, (
    EventSpec(EventType.ROLLING_STOP, Family.ROAD, "Rolling stop", "rolls through stop signs without stopping",
              7.0, "Motive stop sign 7", "#0891b2", ("road_camera", "speed")),
    EventSpec(EventType.STOP_SIGN_VIOLATION, Family.ROAD, "Stop sign violation", "drives through stop signs",
              7.0, "Motive stop sign 7", "#0e7490", ("road_camera", "speed")),
)))
register(RoadRule("red_light", RedLightParams, _red_lights, (
    EventSpec(EventType.RED_LIGHT, Family.ROAD, "Red light", "runs red lights",
              7.0, "as Motive's stop sign 7 (running a control)", "#b91c1c", ("road_camera", "speed")),
)))
