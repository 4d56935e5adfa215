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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from saferoad.domain.road_events.engine import RoadEventEngine, RoadEventParams
from saferoad.domain.types import Event, EventType

FAST_TYPES = frozenset({EventType.FORWARD_COLLISION_WARNING, EventType.TAILGATING})
"""The road rules alerted at the completing frame."""


@dataclass
class _Provisional:
    event: Event
    end_s: float = math.inf
    """End of its fast run (infinite while the run goes on)."""


class FastRoadAlerts:
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

    def confirm(self, final: Event) -> list[Event]:
        """The provisional events ``final`` (a final road event) confirms: same type, overlapping."""
        hit = [
            p for p in self.pending
            if p.event.type == final.type and p.event.start_s <= final.end_s and final.start_s <= p.end_s
        ]  # fmt: skip
        if hit:
            self.pending = [p for p in self.pending if p not in hit]
            self.confirmed += len(hit)
        return [p.event for p in hit]

    def retract(self, now_s: float) -> None:
        """Drop provisional events whose fast run ended ``horizon_s`` before ``now_s`` unconfirmed."""
        kept = [p for p in self.pending if p.end_s >= now_s - self.horizon_s]
        self.retracted += len(self.pending) - len(kept)
        self.pending = kept

    def finish(self) -> None:
        """The drive ended (after its last final events): what is left was never confirmed."""
        self.retracted += len(self.pending)
        self.pending = []
