"""``distraction``: the head turned away from the driver's own straight-ahead pose (the
monitor's running median of yaw and pitch: :class:`~saferoad.domain.cabin.monitor.CabinState`)
by more than ``distraction_yaw_deg`` sideways, ``distraction_pitch_deg`` down or
``distraction_pitch_up_deg`` up (:func:`~saferoad.domain.cabin.monitor.look_away`),
continuously for at least ``distraction_min_s`` while moving at ``distraction_min_speed_mps``
or more. Frames without a face inside such a run (a head turned so far the detector loses it)
continue it for at most ``face_gap_s``."""

from __future__ import annotations

from saferoad.domain.cabin.monitor import CabinState, FrameStep, Run, look_away, moving_at
from saferoad.domain.cabin.registry import CabinRule, register
from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.cabin.thresholds import CabinThresholds
from saferoad.domain.event_spec_base import EventSpec, Family
from saferoad.domain.types import Event, EventType, Severity


class DistractionRule:
    """Looks away from the road, one stream's."""

    def __init__(self, th: CabinThresholds) -> None:
        self.th = th
        self._clock = FrameStep(th.max_frame_gap_s)
        self._away: Run | None = None

    def update(self, s: CabinSample, state: CabinState, speed_mps: float | None) -> list[Event]:
        th = self.th
        t = s.t_s
        self._clock.tick(t)
        run = self._away
        if not moving_at(speed_mps, th.distraction_min_speed_mps):
            return self._end(t) if run is not None else []
        yaw0, pitch0 = state.yaw_baseline_deg, state.pitch_baseline_deg
        where = look_away(s, yaw0, pitch0, th)
        if where is not None:
            dev = max(abs(s.yaw_deg - yaw0), abs(s.pitch_deg - pitch0))
            if run is None:
                self._away = Run(start=t, last=t, peak=dev, extra={"look": {where: 1}})
            else:
                run.last = t
                run.peak = max(run.peak, dev)
                looks = run.extra["look"]
                looks[where] = looks.get(where, 0) + 1
            return []
        if run is None:
            return []
        if not s.face and t - run.last <= th.face_gap_s:
            return []  # face lost mid-look: the look goes on for a moment
        end = t if s.face else run.last + self._clock.dt
        return self._end(end)

    def finish(self) -> list[Event]:
        return self._end(self._clock.end_s()) if self._away is not None else []

    def _end(self, t_end: float) -> list[Event]:
        run = self._away
        self._away = None
        assert run is not None
        duration = t_end - run.start
        if duration < self.th.distraction_min_s:
            return []
        looks: dict[str, int] = run.extra["look"]
        look = max(looks, key=lambda k: looks[k])
        return [
            Event(
                type=EventType.DISTRACTION,
                start_s=run.start,
                end_s=t_end,
                severity=Severity.HIGH
                if duration >= 2.0 * self.th.distraction_min_s
                else Severity.MEDIUM,
                confidence=0.8,
                peak={"head_deviation_deg": round(run.peak, 2), "duration_s": round(duration, 3)},
                evidence={"look": look},
            )
        ]


SPEC = EventSpec(EventType.DISTRACTION, Family.CABIN, "Distraction", "takes the eyes off the road",
                 5.0, "Motive distraction 5", "#9333ea", ("cabin_camera",))
RULE = register(CabinRule("distraction", CabinThresholds, DistractionRule, (SPEC,)))
