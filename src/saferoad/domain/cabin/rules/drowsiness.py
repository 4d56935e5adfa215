"""``drowsiness``: a run of slow eye closures (each at least ``slow_blink_s`` long, consecutive
ones at most ``cluster_gap_s`` apart) in which PERCLOS reached ``perclos_threshold`` or one
closure lasted ``long_closure_s``. The event spans the first slow closure's start to the last
one's end; PERCLOS counts only in an episode of at least ``perclos_min_closures`` slow closures.
Only while moving at ``drowsiness_min_speed_mps`` or more.

The closures are the monitor's (:attr:`~saferoad.domain.cabin.monitor.CabinState.eyes_closed`,
against the driver's own open-eye baseline, or a signal track's), and so is PERCLOS
(:attr:`~saferoad.domain.cabin.monitor.CabinState.perclos`); sources in ``docs/cabin.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from saferoad.domain.cabin.monitor import CabinState, FrameStep, Run, moving_at
from saferoad.domain.cabin.registry import CabinRule, register
from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.cabin.thresholds import CabinThresholds
from saferoad.domain.event_spec_base import EventSpec, Family
from saferoad.domain.types import Event, EventType, Severity


@dataclass
class _Cluster:
    start: float
    end: float
    closures: int = 1
    longest_s: float = 0.0
    peak_perclos: float = 0.0
    qualified: bool = False
    reason: str = ""


class DrowsinessRule:
    """Slow closures gathered into episodes, one stream's."""

    def __init__(self, th: CabinThresholds) -> None:
        self.th = th
        self._clock = FrameStep(th.max_frame_gap_s)
        self._closure: Run | None = None
        self._cluster: _Cluster | None = None
        self._moving = True
        self._perclos = math.nan

    def update(self, sample: CabinSample, state: CabinState, speed_mps: float | None) -> list[Event]:
        th = self.th
        t = sample.t_s
        self._clock.tick(t)
        moving = self._moving = moving_at(speed_mps, th.drowsiness_min_speed_mps)
        perclos = self._perclos = state.perclos
        events: list[Event] = []
        if state.eyes_closed:
            if self._closure is None:
                self._closure = Run(start=t, last=t)
            else:
                self._closure.last = t
        elif self._closure is not None:
            events += self._end_closure(t, moving, perclos)
        if self._cluster is not None:
            if math.isfinite(perclos):
                self._cluster.peak_perclos = max(self._cluster.peak_perclos, perclos)
                if (
                    moving
                    and perclos >= th.perclos_threshold
                    and self._cluster.closures >= th.perclos_min_closures
                    and not self._cluster.qualified
                ):
                    self._cluster.qualified = True
                    self._cluster.reason = "perclos"
            if self._closure is None and t - self._cluster.end > th.cluster_gap_s:
                events += self._emit_cluster()
        return events

    def finish(self) -> list[Event]:
        events: list[Event] = []
        if self._closure is not None:
            events += self._end_closure(self._clock.end_s(), self._moving, self._perclos)
        if self._cluster is not None:
            events += self._emit_cluster()
        return events

    def _end_closure(self, t_end: float, moving: bool, perclos: float) -> list[Event]:
        th = self.th
        run = self._closure
        assert run is not None
        self._closure = None
        duration = t_end - run.start
        if duration < th.slow_blink_s:
            return []  # a blink (the monitor counts it)
        events: list[Event] = []
        cl = self._cluster
        if cl is not None and run.start - cl.end > th.cluster_gap_s:
            events += self._emit_cluster()
            cl = None
        if cl is None:
            cl = self._cluster = _Cluster(start=run.start, end=t_end, longest_s=duration)
        else:
            cl.end = t_end
            cl.closures += 1
            cl.longest_s = max(cl.longest_s, duration)
        if math.isfinite(perclos):
            cl.peak_perclos = max(cl.peak_perclos, perclos)
        if moving and not cl.qualified:
            if duration >= th.long_closure_s:
                cl.qualified, cl.reason = True, "long_closure"
            elif (
                math.isfinite(perclos)
                and perclos >= th.perclos_threshold
                and cl.closures >= th.perclos_min_closures
            ):
                cl.qualified, cl.reason = True, "perclos"
        return events

    def _emit_cluster(self) -> list[Event]:
        cl = self._cluster
        self._cluster = None
        if cl is None or not cl.qualified:
            return []
        th = self.th
        strong = (
            cl.longest_s >= 2.0 * th.long_closure_s or cl.peak_perclos >= 2.0 * th.perclos_threshold
        )
        both = (
            cl.longest_s >= th.long_closure_s
            and cl.peak_perclos >= th.perclos_threshold
            and cl.closures >= th.perclos_min_closures
        )
        peak: dict[str, float] = {"longest_closure_s": round(cl.longest_s, 3)}
        if cl.peak_perclos > 0:
            peak["perclos"] = round(cl.peak_perclos, 4)
        return [
            Event(
                type=EventType.DROWSINESS,
                start_s=cl.start,
                end_s=cl.end,
                severity=Severity.HIGH if strong else Severity.MEDIUM,
                confidence=0.9 if both else 0.7,
                peak=peak,
                evidence={"trigger": cl.reason, "slow_closures": cl.closures},
            )
        ]


SPEC = EventSpec(EventType.DROWSINESS, Family.CABIN, "Drowsiness", "drives while drowsy",
                 5.0, "as Motive's distraction 5 (inattention)", "#4f46e5", ("cabin_camera",))
RULE = register(CabinRule("drowsiness", CabinThresholds, DrowsinessRule, (SPEC,)))
