"""``speeding``: over the limit in force by more than a margin for a minimum duration.

Runs on the speed timeline (:class:`SpeedSample` ticks), camera or not. The limit of each
tick comes with it (a global limit, or the zone the GPS fix falls in); a tick without a known
limit or speed ends a run, as does a gap between ticks longer than ``max_tick_gap_s``: the
rule does not decide across what it cannot see. Over the limit means
``speed > limit + margin``; the run lasts from its first such tick to its last, and is an
event when that lasts at least ``min_duration_s`` (Motive: 6 mph over for more than 1 min).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from saferoad.domain.event_spec_base import EventSpec, Family
from saferoad.domain.params import param
from saferoad.domain.road_events.base import NAN, SpeedSample, fmt
from saferoad.domain.road_events.registry import MPH, RoadRule, RuleContext, register
from saferoad.domain.types import Event, EventType, Severity


@dataclass
class _SpeedRun:
    start_t: float = NAN
    last_t: float = NAN
    n: int = 0
    max_over: float = -math.inf
    max_over_t: float = NAN
    max_speed: float = NAN
    limit_at_max: float = NAN
    over_sum: float = 0.0
    zone: str | None = None


class SpeedingRule:
    def __init__(
        self, margin_mps: float = 2.682, min_duration_s: float = 60.0, max_tick_gap_s: float = 1.0
    ) -> None:
        self.margin_mps = margin_mps
        self.min_duration_s = min_duration_s
        self.max_tick_gap_s = max_tick_gap_s
        self._run = _SpeedRun()

    def update(self, s: SpeedSample) -> list[Event]:
        out: list[Event] = []
        run = self._run
        if run.n and s.t_s - run.last_t > self.max_tick_gap_s + 1e-9:
            out += self._close()
            run = self._run
        ok = math.isfinite(s.speed_mps) and math.isfinite(s.limit_mps)
        over = s.speed_mps - s.limit_mps if ok else NAN
        if not ok or not over > self.margin_mps:
            if run.n:
                out += self._close()
            return out
        if not run.n:
            run.start_t = s.t_s
        run.last_t = s.t_s
        run.n += 1
        run.over_sum += over
        if over > run.max_over:
            run.max_over, run.max_over_t = over, s.t_s
            run.max_speed, run.limit_at_max, run.zone = s.speed_mps, s.limit_mps, s.zone
        return out

    def finish(self) -> list[Event]:
        return self._close()

    def _close(self) -> list[Event]:
        run, self._run = self._run, _SpeedRun()
        if not run.n or run.last_t - run.start_t < self.min_duration_s - 1e-9:
            return []
        kmh = 3.6
        sev = (
            Severity.HIGH if run.max_over > 3 * self.margin_mps
            else Severity.MEDIUM if run.max_over > 2 * self.margin_mps
            else Severity.LOW
        )
        return [
            Event(
                type=EventType.SPEEDING,
                start_s=run.start_t,
                end_s=run.last_t,
                severity=sev,
                confidence=1.0,
                peak={
                    "max_speed_mps": fmt(run.max_speed),
                    "max_over_mps": fmt(run.max_over),
                    "limit_mps": fmt(run.limit_at_max),
                },
                evidence={
                    "key_t_s": fmt(run.max_over_t),
                    "limit_kmh": fmt(run.limit_at_max * kmh, 1),
                    "max_speed_kmh": fmt(run.max_speed * kmh, 1),
                    "mean_over_kmh": fmt(run.over_sum / run.n * kmh, 1),
                    "zone": run.zone,
                    "margin_mps": fmt(self.margin_mps),
                },
            )
        ]


# --- registration: params (the config keys), spec, builder -----------------------------


@dataclass(frozen=True, slots=True)
class SpeedingParams:
    speeding_margin_mps: float = param(
        round(6 * MPH, 3), "Speeding is being over the limit by more than this (m/s). Motive: 6 mph.", ge=0,
    )
    speeding_min_duration_s: float = param(
        60.0, "How long the speed must stay over limit + margin. Motive: > 1 min "
        "(Netradyne records after 30 s).", ge=0,
    )


def _speeding(p: SpeedingParams, ctx: RuleContext) -> SpeedingRule:
    # a gap between ticks longer than 1.5 ticks ends a run
    return SpeedingRule(p.speeding_margin_mps, p.speeding_min_duration_s, 1.5 / ctx.common.tick_hz)


register(RoadRule("speeding", SpeedingParams, _speeding, (
    EventSpec(EventType.SPEEDING, Family.ROAD, "Speeding", "drives over the speed limit",
              6.0, "Motive speeding 6", "#2563eb", ("speed",)),
), on="speed"))
