"""``camera_obstructed``: the cabin camera dark or uniform (lens covered, cabin black) for at
least ``obstructed_min_s`` (each sample's ``obstructed``: ``signals.frame_obstruction``). The
event spans the first obstructed frame to the first clear one (or the end of the stream)."""

from __future__ import annotations

from saferoad.domain.cabin.monitor import CabinState, FrameStep, Run
from saferoad.domain.cabin.registry import CabinRule, register
from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.cabin.thresholds import CabinThresholds
from saferoad.domain.event_spec_base import EventSpec, Family, Priority
from saferoad.domain.types import Event, EventType, Severity


class ObstructionRule:
    """Runs of obstructed frames, one stream's."""

    def __init__(self, th: CabinThresholds) -> None:
        self.th = th
        self._clock = FrameStep(th.max_frame_gap_s)
        self._run: Run | None = None

    def update(self, sample: CabinSample, state: CabinState, speed_mps: float | None) -> list[Event]:
        t = sample.t_s
        self._clock.tick(t)
        if sample.obstructed:
            if self._run is None:
                self._run = Run(start=t, last=t)
            else:
                self._run.last = t
            return []
        return self._end(t) if self._run is not None else []

    def finish(self) -> list[Event]:
        return self._end(self._clock.end_s()) if self._run is not None else []

    def _end(self, t_end: float) -> list[Event]:
        run = self._run
        self._run = None
        assert run is not None
        duration = t_end - run.start
        if duration < self.th.obstructed_min_s:
            return []
        return [
            Event(
                type=EventType.CAMERA_OBSTRUCTED,
                start_s=run.start,
                end_s=t_end,
                severity=Severity.MEDIUM,
                confidence=0.9,
                peak={"duration_s": round(duration, 3)},
            )
        ]


SPEC = EventSpec(EventType.CAMERA_OBSTRUCTED, Family.CABIN, "Camera obstructed", "drives with the camera blocked",
                 0.0, "a device problem, not a driving risk", "#6b7280", ("cabin_camera",), Priority.DEVICE)
RULE = register(CabinRule("camera_obstructed", CabinThresholds, ObstructionRule, (SPEC,)))
