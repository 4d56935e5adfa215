"""Fast road-camera alerts: forward collision and tailgating at the frame that completes the rule.

The recorder's road rules (:class:`~saferoad.application.edge.RoadStream`) hold each frame until
the fused ego speed at its time is final - ``motion_guard_s`` (10 s) plus a hop later - and a
run (a following rule's condition held over frames) becomes an event only when it ends. That
keeps the recorder's events equal to analyze's, but a forward-collision warning 11 s late warns
no one. So every frame also goes, as it arrives, through a second copy of the same engine
(:class:`~saferoad.domain.road_events.engine.RoadEventEngine`, its own lead tracker) fed the
freshest ego speed there is (the newest motion window's, held after its end: at most
``motion_hop_s`` old); the frame at which a run first lasts the rule's minimum duration (forward
collision 0.3 s of time to collision under 2 s, tailgating 10 s of headway under 0.7 s)
completes the rule, and the alert goes out then, marked provisional.

The final event, from the slow path, confirms it (same type, overlapping) and is not announced
again; a provisional alert whose fast run ended ``horizon_s`` ago with no final event to confirm
it is counted as retracted. State: the lead tracker and the open runs of one engine, and the
provisional events not yet confirmed (each dropped at the latest ``horizon_s`` after its run).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from saferoad.domain.lanes.geometry import LaneObservation
from saferoad.domain.lanes.rules import WIDTH_MEMORY_S, LaneParams, lane_events
from saferoad.domain.road_events.engine import RoadEventEngine, RoadEventParams
from saferoad.domain.types import Direction, Event, EventType

FAST_TYPES = frozenset({EventType.FORWARD_COLLISION_WARNING, EventType.TAILGATING})
"""The road rules alerted at the completing frame."""


@dataclass
class _Provisional:
    event: Event
    end_s: float = math.inf
    """End of its fast run (infinite while the run goes on)."""


class _ProvisionalBook:
    """Provisional alerts waiting for the final event that confirms them: counted as confirmed
    when one arrives, as retracted when none has ``horizon_s`` after their run ended."""

    horizon_s: float
    pending: list[_Provisional]
    confirmed: int
    retracted: int

    def _confirms(self, p: _Provisional, final: Event) -> bool:
        raise NotImplementedError

    def confirm(self, final: Event) -> list[Event]:
        """The provisional alerts ``final`` confirms (:meth:`_confirms`), taken off the book."""
        hit = [p for p in self.pending if self._confirms(p, final)]
        if hit:
            self.pending = [p for p in self.pending if p not in hit]
            self.confirmed += len(hit)
        return [p.event for p in hit]

    def retract(self, now_s: float) -> None:
        """Drop provisional alerts whose run ended ``horizon_s`` before ``now_s`` unconfirmed."""
        kept = [p for p in self.pending if p.end_s >= now_s - self.horizon_s]
        self.retracted += len(self.pending) - len(kept)
        self.pending = kept

    def finish(self) -> None:
        """The drive ended (after its last final events): what is left was never confirmed."""
        self.retracted += len(self.pending)
        self.pending = []


class FastRoadAlerts(_ProvisionalBook):
    """Frames as they arrive, through the following rules on the freshest ego speed."""

    def __init__(
        self,
        params: RoadEventParams,
        *,
        fx: float | None,
        cx: float | None,
        speed_offset_s: float = 0.0,
        horizon_s: float = 60.0,
    ) -> None:
        self.engine = RoadEventEngine(params, fx=fx, cx=cx, onsets=True)
        self.speed_offset_s = speed_offset_s
        self.horizon_s = horizon_s
        self.pending: list[_Provisional] = []
        self.confirmed = 0
        self.retracted = 0

    def frames(self, items: Sequence[tuple[float, int, Any]], speed_at: Callable[[float], float | None]) -> list[Event]:
        """Run the frames ``(t_s, index, tracked objects)`` just arrived; the runs they complete,
        as provisional events ending at the completing frame. ``speed_at(t)``: the freshest ego
        speed at speed-clock time ``t`` (None: unknown)."""
        out: list[Event] = []
        for t, idx, objs in items:
            v = speed_at(t - self.speed_offset_s)
            ended = self.engine.on_frame(t, idx, objs, math.nan if v is None else v)
            for ev in ended:  # a fast run ended: its provisional alert waits at most horizon_s more
                for p in self.pending:
                    if p.event.type == ev.type and p.event.start_s == ev.start_s:
                        p.end_s = ev.end_s
            for ev in self.engine.take_onsets():
                if ev.type in FAST_TYPES:
                    self.pending.append(_Provisional(ev))
                    out.append(ev)
        return out

    def _confirms(self, p: _Provisional, final: Event) -> bool:
        """A final road event confirms a provisional one of its type that it overlaps."""
        return p.event.type == final.type and p.event.start_s <= final.end_s and final.start_s <= p.end_s


@dataclass
class _LaneRun:
    alert: _Provisional
    seen_end_s: float
    """The last frame the run was still going at."""


class FastLaneAlerts(_ProvisionalBook):
    """``lane_departure`` at the frame that completes it, on the freshest ego speed.

    The final departures (:class:`~saferoad.domain.lanes.streaming.StreamingLanes`) wait until
    a departure ended ``guard_s`` ago and the final speed covers it: 10-11 s after its end. Here
    every lane observation, as it arrives, re-runs the same batch rule
    (:func:`~saferoad.domain.lanes.rules.lane_events`: confidence, consistency gate, merge gap,
    minimum duration, speed, quiet after a lane change) on the last ``window_s`` of
    observations, the ego speed at each being the freshest there is (``speed_at``). A departure
    that reaches the newest frame and was not going on at the frame before is new: the rule
    completed at this frame (its line has just been close for ``departure_min_duration_s``), and
    the alert goes out, provisional, ending there; a run that resumes within the merge gap is
    the same departure (not announced again). A frame where neither line is within the
    departure distance cannot complete or extend one, and the rule is not re-run.

    A lane change decides its quiet only once the marking is crossed, so a drift that becomes a
    lane change may alert here and never be confirmed: counted as retracted ``horizon_s`` after
    its run ended (as :class:`FastRoadAlerts`). State: the window's observations, the last run
    per side, the provisional alerts not yet confirmed."""

    def __init__(self, params: LaneParams, *, window_s: float | None = None, horizon_s: float = 60.0) -> None:
        if window_s is None:
            # a lane change seen in the window (its crossing, up to WIDTH_MEMORY_S before its
            # end) keeps the rule quiet for quiet_after_lane_change_s after it, as in batch
            window_s = params.quiet_after_lane_change_s + WIDTH_MEMORY_S
        if not window_s > params.departure_min_duration_s + params.departure_merge_gap_s:
            raise ValueError(
                f"fast lane alerts: window_s ({window_s}) must exceed the departure's minimum duration plus its merge gap"
            )
        self.params = params
        self.window_s = window_s
        self.horizon_s = horizon_s
        self.obs: deque[LaneObservation] = deque()
        self.open: dict[Direction, _LaneRun] = {}
        self.pending: list[_Provisional] = []
        self.confirmed = 0
        self.retracted = 0
        self.runs = 0
        """Times the rule was re-run (frames with a line within the departure distance)."""
        self.max_held = 0
        self.quiet: Callable[[Event], bool] | None = None
        """The turn signal's quiet (``LaneQuiet.fast``): a departure it covers is not alerted."""
        self.signalled = 0
        """Departures completed while the turn signal showed their side: not alerted."""

    def observations(self, items: Iterable[LaneObservation], speed_at: Callable[[float], float | None]) -> list[Event]:
        """Lane observations just arrived (time order); the departures they complete, as
        provisional events ending at the completing frame."""
        out: list[Event] = []
        p = self.params
        for obs in items:
            self.obs.append(obs)
            while self.obs and self.obs[0].t_s < obs.t_s - self.window_s:
                self.obs.popleft()
            self.max_held = max(self.max_held, len(self.obs))
            near = any(
                ln is not None and ln.confidence >= p.min_line_confidence and sign * ln.a < p.departure_line_distance_m
                for ln, sign in ((obs.left, 1.0), (obs.right, -1.0))
            )  # the rule's distances: the left line's offset, the right one's negated
            going: dict[Direction, Event] = {}
            if near:
                self.runs += 1
                t = np.array([o.t_s for o in self.obs], dtype=np.float64)
                v = np.array([math.nan if (s := speed_at(x)) is None else s for x in t.tolist()], dtype=np.float64)
                for ev in lane_events(list(self.obs), t, v, p).events:
                    if ev.end_s >= obs.t_s and ev.direction is not None:
                        going[ev.direction] = ev
            for side, last in self.open.items():
                if side not in going:  # its run ended at the frame before (or paused)
                    last.alert.end_s = last.seen_end_s
            for side, ev in going.items():
                run = self.open.get(side)
                if run is not None and ev.start_s <= run.seen_end_s:
                    # the run alerted already (going on, or resumed within the merge gap)
                    run.seen_end_s = ev.end_s
                    run.alert.end_s = math.inf
                    continue
                alert = _Provisional(ev)
                self.open[side] = _LaneRun(alert, ev.end_s)
                if self.quiet is not None and self.quiet(ev):
                    self.signalled += 1  # the driver signalled that side: a run not alerted
                    continue
                self.pending.append(alert)
                out.append(ev)
        return out

    def _confirms(self, p: _Provisional, final: Event) -> bool:
        """A final ``lane_departure`` confirms a provisional one on its side that it overlaps."""
        return (
            p.event.direction == final.direction and p.event.start_s <= final.end_s and final.start_s <= p.end_s
        )

    def finish(self) -> None:
        super().finish()
        self.open = {}
