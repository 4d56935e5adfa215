"""Following too close (``tailgating``) and forward-collision risk (``forward_collision_warning``).

Both are *runs*: a condition on the lead vehicle held over consecutive frames.

Where perception measured the lead's distance from the image, the evidence carries its
uncertainty at the key frame (``distance_sigma_m_at_min``, one sigma, growing with range).
Headway is distance / speed, so it carries the same relative error
(``headway_s_sigma_at_min``). Time to collision is distance / closing speed, both from the
same distance track: a scale error of the distance (a car wider than the class prior)
scales both and cancels, so TTC gets no sigma of its own from it.

* ``tailgating``: ego speed >= ``min_speed_mps`` and time headway (distance to the lead /
  ego speed) < ``headway_s``, held for at least ``min_duration_s``.
* ``forward_collision_warning``: ego speed >= ``min_speed_mps``, the lead closing faster than
  ``min_closing_mps`` and time to collision (distance / closing speed) < ``ttc_s``, held for
  at least ``min_duration_s``.

A run starts at the first frame where the condition holds and ends at the last one. A frame
where it does not hold, or where no lead is seen, is bridged when the condition holds again
within ``dropout_s`` (a missed detection does not split an event). A gap in the video or an
unknown ego speed ends the run at its last frame: the rule decides on what it saw and never
across what it did not. The event is emitted when the run ends (or at ``finish``).

*Onsets* (:meth:`_RunRule.take_onsets`): the frame at which a run has first lasted
``min_duration_s`` is the one that completes the rule - from then on the run will be an event
whatever comes after. The run so far (start to that frame) is kept there as a provisional
event, once per run, for an alert at once (the edge recorder's fast road alerts); the final
event, emitted when the run ends, starts at the same frame and ends later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from saferoad.domain.event_spec_base import EventSpec, Family, Priority
from saferoad.domain.params import param
from saferoad.domain.road_events.base import NAN, RoadSample, fmt
from saferoad.domain.road_events.registry import MPH, RoadRule, RuleContext, register
from saferoad.domain.types import Event, EventType, Severity

MAX_IDS = 8
"""At most this many lead track ids are listed in an event's evidence."""


@dataclass
class _Run:
    start_t: float = NAN
    last_t: float = NAN
    start_frame: int = -1
    last_frame: int = -1
    key_value: float = math.inf
    key_t: float = NAN
    key_frame: int = -1
    key_track: int = -1
    key_distance: float = NAN
    key_sigma: float = NAN
    key_speed: float = NAN
    speed_min: float = math.inf
    speed_max: float = -math.inf
    speed_sum: float = 0.0
    n: int = 0
    ids: list[int] = field(default_factory=list)
    announced: bool = False
    """Its onset (``min_duration_s`` reached) has been taken as a provisional event."""

    @property
    def active(self) -> bool:
        return self.n > 0


@dataclass
class _RunRule:
    """A condition held over frames, bridged over short dropouts, closed at gaps."""

    event_type: EventType
    min_duration_s: float
    dropout_s: float
    value_name: str
    _run: _Run = field(default_factory=_Run)
    value_scales_with_distance: bool = False
    """The value is proportional to the distance (headway): it carries its relative error."""
    collect_onsets: bool = False
    """Keep onsets for :meth:`take_onsets` (off: nothing is kept, the state stays bounded)."""
    _onsets: list[Event] = field(default_factory=list)

    def _value(self, s: RoadSample) -> float | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _severity(self, run: _Run) -> Severity:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, s: RoadSample) -> list[Event]:
        out: list[Event] = []
        run = self._run
        if run.active and (
            s.gap_before or not s.speed_valid or s.t_s - run.last_t > self.dropout_s + 1e-9
        ):
            out += self._close()  # a gap, an unknown speed, or a dropout longer than bridged
            run = self._run
        value = self._value(s)
        if value is None:
            return out
        assert s.lead is not None
        if not run.active:
            run.start_t, run.start_frame = s.t_s, s.frame
        run.last_t, run.last_frame = s.t_s, s.frame
        run.n += 1
        run.speed_min = min(run.speed_min, s.speed_mps)
        run.speed_max = max(run.speed_max, s.speed_mps)
        run.speed_sum += s.speed_mps
        if s.lead.track_id not in run.ids and len(run.ids) < MAX_IDS:
            run.ids.append(s.lead.track_id)
        if value < run.key_value:
            run.key_value, run.key_t, run.key_frame = value, s.t_s, s.frame
            run.key_track, run.key_distance, run.key_speed = (
                s.lead.track_id, s.lead.distance_m, s.speed_mps,
            )
            run.key_sigma = s.lead.distance_sigma_m
        if self.collect_onsets and not run.announced and run.last_t - run.start_t >= self.min_duration_s - 1e-9:
            run.announced = True
            self._onsets.append(self._event(run))
        return out

    def take_onsets(self) -> list[Event]:
        """Runs that reached ``min_duration_s`` since the last call, each as a provisional
        event from its start to the frame that completed the rule (once per run)."""
        out, self._onsets = self._onsets, []
        return out

    def finish(self) -> list[Event]:
        return self._close()

    def _close(self) -> list[Event]:
        run, self._run = self._run, _Run()
        if not run.active or run.last_t - run.start_t < self.min_duration_s - 1e-9:
            return []
        return [self._event(run)]

    def _event(self, run: _Run) -> Event:
        uncertainty: dict[str, float | None] = {}
        if math.isfinite(run.key_sigma):
            uncertainty["distance_sigma_m_at_min"] = fmt(run.key_sigma)
            if self.value_scales_with_distance and run.key_distance > 0:
                uncertainty[f"{self.value_name}_sigma_at_min"] = fmt(
                    run.key_value * run.key_sigma / run.key_distance
                )
        return Event(
            type=self.event_type,
            start_s=run.start_t,
            end_s=run.last_t,
            severity=self._severity(run),
            confidence=1.0,
            peak={
                f"min_{self.value_name}": fmt(run.key_value),
                "distance_m_at_min": fmt(run.key_distance),
                "speed_mps_at_min": fmt(run.key_speed),
            },
            evidence={
                "key_t_s": fmt(run.key_t),
                "key_frame": run.key_frame,
                "first_frame": run.start_frame,
                "last_frame": run.last_frame,
                "lead_track_id": run.key_track,
                "lead_track_ids": list(run.ids),
                f"min_{self.value_name}": fmt(run.key_value),
                "speed_mps": {
                    "min": fmt(run.speed_min),
                    "max": fmt(run.speed_max),
                    "mean": fmt(run.speed_sum / run.n),
                },
                **uncertainty,
            },
        )


class TailgatingRule(_RunRule):
    def __init__(
        self, headway_s: float = 0.7, min_duration_s: float = 10.0,
        min_speed_mps: float = 15.646, dropout_s: float = 0.5,
    ) -> None:
        super().__init__(EventType.TAILGATING, min_duration_s, dropout_s, "headway_s")
        self.value_scales_with_distance = True
        self.headway_s = headway_s
        self.min_speed_mps = min_speed_mps

    def _value(self, s: RoadSample) -> float | None:
        lead = s.lead
        if lead is None or not s.speed_valid or s.speed_mps < self.min_speed_mps:
            return None
        if not math.isfinite(lead.headway_s) or lead.headway_s >= self.headway_s:
            return None
        return lead.headway_s

    def _severity(self, run: _Run) -> Severity:
        h = run.key_value
        if h < 0.5 * self.headway_s:
            return Severity.HIGH
        if h < 0.75 * self.headway_s:
            return Severity.MEDIUM
        return Severity.LOW


class ForwardCollisionRule(_RunRule):
    def __init__(
        self, ttc_s: float = 2.0, min_duration_s: float = 0.3, min_speed_mps: float = 11.176,
        min_closing_mps: float = 1.0, dropout_s: float = 0.5,
    ) -> None:
        super().__init__(EventType.FORWARD_COLLISION_WARNING, min_duration_s, dropout_s, "ttc_s")
        self.ttc_s = ttc_s
        self.min_speed_mps = min_speed_mps
        self.min_closing_mps = min_closing_mps

    def _value(self, s: RoadSample) -> float | None:
        lead = s.lead
        if lead is None or not s.speed_valid or s.speed_mps < self.min_speed_mps:
            return None
        if not math.isfinite(lead.range_rate_mps) or -lead.range_rate_mps < self.min_closing_mps:
            return None
        if not math.isfinite(lead.ttc_s) or lead.ttc_s >= self.ttc_s:
            return None
        return lead.ttc_s

    def _severity(self, run: _Run) -> Severity:
        t = run.key_value
        if t < 0.5 * self.ttc_s:
            return Severity.HIGH
        if t < 0.75 * self.ttc_s:
            return Severity.MEDIUM
        return Severity.LOW


# --- registration: params (the config keys), specs, builders ---------------------------


@dataclass(frozen=True, slots=True)
class TailgatingParams:
    tailgating_headway_s: float = param(
        0.7, "Time headway (distance to the lead / ego speed) below which following is "
        "too close. Motive: 0.7 s; Samsara now < 0.5 s (earlier <= 1 s).", gt=0,
    )
    tailgating_min_duration_s: float = param(
        10.0, "How long the headway must stay below the threshold. Motive: 10-15 s; "
        "Samsara: 30 s.", ge=0,
    )
    tailgating_min_speed_mps: float = param(
        round(35 * MPH, 3), "Tailgating is judged only above this ego speed (m/s). Motive: 35 mph "
        "(15.6 m/s); Samsara 55 mph (earlier 45 mph).", ge=0,
    )


@dataclass(frozen=True, slots=True)
class ForwardCollisionParams:
    fcw_ttc_s: float = param(
        2.0, "Time to collision (distance / closing speed) below which a closing lead is "
        "a forward-collision risk. NHTSA NCAP's FCW test asks for a warning by 2.0-2.4 s TTC.", gt=0,
    )
    fcw_min_duration_s: float = param(
        0.3, "How long TTC must stay below the threshold (debounces one noisy range rate).", ge=0,
    )
    fcw_min_speed_mps: float = param(
        round(25 * MPH, 3), "Forward-collision risk is judged only above this ego speed (m/s). "
        "Samsara: 25 mph (11.2 m/s).", ge=0,
    )
    fcw_min_closing_mps: float = param(
        1.0, "Closing speed (m/s) below which the lead is not considered closing (TTC is "
        "infinite): keeps range-rate noise from making a TTC.", gt=0,
    )


def _tailgating(p: TailgatingParams, ctx: RuleContext) -> TailgatingRule:
    rule = TailgatingRule(
        p.tailgating_headway_s, p.tailgating_min_duration_s, p.tailgating_min_speed_mps,
        ctx.common.lead_dropout_s,
    )
    rule.collect_onsets = ctx.onsets
    return rule


def _forward_collision(p: ForwardCollisionParams, ctx: RuleContext) -> ForwardCollisionRule:
    rule = ForwardCollisionRule(
        p.fcw_ttc_s, p.fcw_min_duration_s, p.fcw_min_speed_mps, p.fcw_min_closing_mps,
        ctx.common.lead_dropout_s,
    )
    rule.collect_onsets = ctx.onsets
    return rule


register(RoadRule("tailgating", TailgatingParams, _tailgating, (
    EventSpec(EventType.TAILGATING, Family.ROAD, "Tailgating", "follows the vehicle ahead too closely",
              9.0, "Motive close following 9", "#7c3aed", ("road_camera", "speed")),
)))
register(RoadRule("forward_collision", ForwardCollisionParams, _forward_collision, (
    EventSpec(EventType.FORWARD_COLLISION_WARNING, Family.ROAD, "Forward collision warning",
              "comes close to hitting the vehicle ahead",
              9.0, "as close following 9 (Samsara weighs collision risk at twice a harsh event)",
              "#be185d", ("road_camera", "speed"), Priority.COLLISION),
)))
