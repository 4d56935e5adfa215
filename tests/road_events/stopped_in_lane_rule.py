"""A road rule kept outside the tree, as ONE module: ``stopped_in_lane``, the ego standing
still with no vehicle ahead to queue behind, for a while (a toy for the registry test,
``test_rule_registry.py``; not a rule saferoad ships).

Everything the rule needs is here: its params (they become ``[road_events]`` keys with these
defaults, descriptions and bounds, rows of docs/config.md and options a client of
``saferoad serve`` may set), its event type (``EventType.define``: no line in
``domain/types.py``), the type's spec, the rule and its registration. In the tree the module
would sit in ``domain/road_events/`` (found by the package on import), unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from saferoad.domain.event_spec_base import EventSpec, Family
from saferoad.domain.params import param
from saferoad.domain.road_events.base import NAN, RoadSample, fmt
from saferoad.domain.road_events.registry import RoadRule, RuleContext, register
from saferoad.domain.types import Event, EventType, Severity

STOPPED_IN_LANE = EventType.define("stopped_in_lane")


@dataclass(frozen=True, slots=True)
class StoppedInLaneParams:
    stopped_in_lane_speed_mps: float = param(
        0.5, "The ego counts as standing still below this speed (m/s).", gt=0,
    )
    stopped_in_lane_min_s: float = param(
        30.0, "How long the ego must stand still with no vehicle ahead for a stopped_in_lane.", gt=0,
    )


class StoppedInLaneRule:
    """Standing still (speed below the threshold) with no lead vehicle for ``min_s``; a gap
    in the video or an unknown speed ends the run, as every camera rule's."""

    def __init__(self, p: StoppedInLaneParams) -> None:
        self.p = p
        self._start = NAN
        self._last = NAN
        self._frames = (-1, -1)

    def update(self, s: RoadSample) -> list[Event]:
        out: list[Event] = []
        if math.isfinite(self._start) and (s.gap_before or not s.speed_valid):
            out += self._close()
        if s.speed_valid and s.speed_mps < self.p.stopped_in_lane_speed_mps and s.lead is None:
            if not math.isfinite(self._start):
                self._start, self._frames = s.t_s, (s.frame, s.frame)
            self._last, self._frames = s.t_s, (self._frames[0], s.frame)
        elif math.isfinite(self._start):
            out += self._close()
        return out

    def finish(self) -> list[Event]:
        return self._close()

    def _close(self) -> list[Event]:
        start, last, (first, final) = self._start, self._last, self._frames
        self._start = self._last = NAN
        if not math.isfinite(start) or last - start < self.p.stopped_in_lane_min_s - 1e-9:
            return []
        return [Event(
            type=STOPPED_IN_LANE, start_s=start, end_s=last, severity=Severity.LOW, confidence=1.0,
            peak={"stopped_s": fmt(last - start)},
            evidence={"first_frame": first, "last_frame": final, "key_frame": first, "key_t_s": fmt(start)},
        )]


def _build(p: StoppedInLaneParams, ctx: RuleContext) -> StoppedInLaneRule:
    return StoppedInLaneRule(p)


SPEC = EventSpec(STOPPED_IN_LANE, Family.ROAD, "Stopped in lane", "stops in the lane with no traffic ahead",
                 3.0, "toy weight for the registry test", "#123456", ("road_camera", "speed"))
RULE = register(RoadRule("stopped_in_lane", StoppedInLaneParams, _build, (SPEC,)))
