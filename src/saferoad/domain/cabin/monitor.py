"""The driver-monitoring rules: streaming, bounded state, the same code for batch.

Feed :meth:`CabinMonitor.update` one :class:`~saferoad.domain.cabin.signals.CabinSample` at a
time (with the ego speed at that moment, or ``None`` when unknown); it returns the frame's
derived state and any event that has just ended. :meth:`CabinMonitor.finish` closes what is
still open at the end of the stream. State is bounded: a time window of samples for the
baselines and PERCLOS, plus the episode being built.

The monitor derives each frame's state (defaults in :class:`CabinThresholds`, sources in
``docs/cabin.md``), then runs every registered cabin rule on it:

* **Eye closure** (when the monitor classifies eyes itself, from landmarks): the eyes are
  closed when the mean eye aspect ratio falls below ``closed_ratio`` times the driver's own
  open-eye EAR, the running median of the last ``baseline_window_s`` of frames (the published
  absolute threshold of 0.2-0.25 against an open EAR of about 0.3, made relative so narrow eyes
  or glasses do not read as closed).
* **PERCLOS**: the share of the last ``perclos_window_s`` (with a face) spent with eyes closed.
* **Blinks**: closures shorter than ``slow_blink_s`` (the blink rate; longer ones are counted as
  slow closures), and **yawns**: the mouth open ``yawn_ratio`` or more for ``yawn_min_s``.
* **Off the road**: the head turned away from the driver's own straight-ahead pose (running
  median of yaw and pitch) by the distraction thresholds (:func:`look_away`).
* the **rules** (``registry.py``; each a module of ``rules/``, run in registration order): the
  built-in ``drowsiness`` (``rules/drowsiness.py``), ``distraction`` (``rules/distraction.py``),
  ``camera_obstructed`` (``rules/obstruction.py``) and ``phone_use`` (``rules/phone_use.py``),
  then any other registered rule, each fed the frame's sample, the :class:`CabinState` derived
  here and the speed.

With ``speed_mps=None`` the vehicle is taken to be moving (cabin video on its own).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from saferoad.domain.cabin.phone import PhoneMonitor, PhoneRule
from saferoad.domain.cabin.registry import build_rules
from saferoad.domain.cabin.signals import CabinSample

# re-exported: the thresholds moved to a module of their own (the rule registry reads them)
from saferoad.domain.cabin.thresholds import CabinThresholds as CabinThresholds
from saferoad.domain.types import Event


@dataclass(frozen=True, slots=True)
class CabinState:
    """What the monitor derived for one frame."""

    eyes_closed: bool
    perclos: float
    """Share of the PERCLOS window with eyes closed; NaN until ``perclos_min_s`` of face time."""
    blink_rate_per_min: float
    off_road: bool
    ear_baseline: float
    """The driver's open-eye level of :attr:`CabinSample.openness` (NaN while calibrating)."""
    yaw_baseline_deg: float
    pitch_baseline_deg: float


class _WindowMedian:
    """Median of the values of the last ``window_s`` seconds (bounded by time): a time-ordered
    queue plus a sorted list, so adding, expiring and reading the median stay cheap."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._items: deque[tuple[float, float]] = deque()
        self._sorted: list[float] = []

    def add(self, t: float, value: float) -> None:
        self._items.append((t, value))
        bisect.insort(self._sorted, value)
        self.trim(t)

    def trim(self, t: float) -> None:
        while self._items and self._items[0][0] < t - self.window_s:
            _, old = self._items.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]

    def __len__(self) -> int:
        return len(self._items)

    def span_s(self) -> float:
        return self._items[-1][0] - self._items[0][0] if self._items else 0.0

    def ready(self, min_s: float) -> bool:
        """Enough history for a baseline: samples covering at least ``min_s`` seconds."""
        return len(self._items) >= 5 and self.span_s() >= min_s

    def median(self, default: float) -> float:
        n = len(self._sorted)
        if n == 0:
            return default
        mid = n // 2
        return self._sorted[mid] if n % 2 else 0.5 * (self._sorted[mid - 1] + self._sorted[mid])


@dataclass
class Run:
    """An ongoing episode (closure, off-road look, obstruction, yawn): the rules' bookkeeping."""

    start: float
    last: float
    peak: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class FrameStep:
    """The time each frame stands for, as the monitor and its rules count it: the time since the
    frame before, at most ``max_gap_s`` (``CabinThresholds.max_frame_gap_s``; 0.1 s for the
    first), so a gap in the video adds no more; the stream ends one such step after its last
    frame (:meth:`end_s`). Not the live camera's :class:`~saferoad.domain.frame_clock.FrameClock`
    (frame times from indices)."""

    def __init__(self, max_gap_s: float) -> None:
        self.max_gap_s = max_gap_s
        self.prev_t: float | None = None
        self.dt = 0.1
        self.last_t = 0.0

    def tick(self, t: float) -> None:
        """A frame at ``t`` (after the one before)."""
        if self.prev_t is not None:
            self.dt = min(t - self.prev_t, self.max_gap_s)
        self.prev_t = self.last_t = t

    def end_s(self) -> float:
        """Where an episode still open at the end of the stream ends."""
        return self.last_t + self.dt


def moving_at(speed_mps: float | None, min_speed_mps: float) -> bool:
    """At or above ``min_speed_mps``; an unknown speed (``None``, NaN) is taken as moving."""
    v = speed_mps if speed_mps is not None and math.isfinite(speed_mps) else math.inf
    return v >= min_speed_mps


def look_away(s: CabinSample, yaw0: float, pitch0: float, th: CabinThresholds) -> str | None:
    """Where the head points when away from the road (``left``, ``right``, ``down``, ``up``):
    turned from the straight-ahead pose (``yaw0``, ``pitch0``) by more than
    ``distraction_yaw_deg`` sideways, ``distraction_pitch_deg`` down or
    ``distraction_pitch_up_deg`` up; ``None`` when on the road or unknown (no face, pose or
    baseline). :attr:`CabinState.off_road` and the distraction rule read it."""
    if not s.face or not (math.isfinite(s.yaw_deg) and math.isfinite(s.pitch_deg)):
        return None
    if not (math.isfinite(yaw0) and math.isfinite(pitch0)):
        return None
    dy = s.yaw_deg - yaw0
    dp = s.pitch_deg - pitch0
    if abs(dy) > th.distraction_yaw_deg:
        return "left" if dy > 0 else "right"
    if dp > th.distraction_pitch_deg:
        return "down"
    if -dp > th.distraction_pitch_up_deg:
        return "up"
    return None


class CabinMonitor:
    """Streaming driver monitor (see the module docstring for the state and the rules).

    ``classify_eyes``: decide ``eyes_closed`` from the eye aspect ratios against the driver's
    baseline (frames from the camera); when false, trust each sample's ``eyes_closed`` (a
    recorded signal track).
    """

    def __init__(
        self, thresholds: CabinThresholds | None = None, classify_eyes: bool = True
    ) -> None:
        self.th = thresholds or CabinThresholds()
        self.classify_eyes = classify_eyes
        th = self.th
        self._ear = _WindowMedian(th.baseline_window_s)
        self._yaw = _WindowMedian(th.baseline_window_s)
        self._pitch = _WindowMedian(th.baseline_window_s)
        self._perclos: deque[tuple[float, float, bool]] = deque()
        self._perclos_closed = 0.0
        self._perclos_total = 0.0
        self._blinks: deque[float] = deque()
        self._clock = FrameStep(th.max_frame_gap_s)
        self._closure: Run | None = None
        self._yawn: Run | None = None
        self.counts = {"frames": 0, "face_frames": 0, "blinks": 0, "yawns": 0, "slow_closures": 0}
        self._rules = build_rules(th)
        """Every registered cabin rule (``registry.py``), built for this stream: the built-in
        drowsiness, distraction, camera_obstructed and phone_use first (``rules/``)."""
        phone = [st.monitor for _r, st in self._rules if isinstance(st, PhoneRule)]
        self.phone: PhoneMonitor = phone[0] if phone else PhoneMonitor(th.phone)
        """``phone_use`` over the samples' ``phone_score``/``phone_at``: the phone rule's
        :class:`~saferoad.domain.cabin.phone.PhoneMonitor` (its frame counts; an idle one if
        the rule is not registered)."""

    # -- public -----------------------------------------------------------------------------

    def update(
        self, sample: CabinSample, speed_mps: float | None = None
    ) -> tuple[CabinState, list[Event]]:
        th = self.th
        t = sample.t_s
        clock = self._clock
        if clock.prev_t is not None and t <= clock.prev_t:
            raise ValueError(f"cabin frame {sample.frame}: t_s {t} does not increase")
        clock.tick(t)
        self.counts["frames"] += 1

        # the driver's own baselines; until they exist (baseline_min_s of frames with a
        # face) no eye or head decision is made
        need = th.baseline_min_s
        yaw0 = self._yaw.median(math.nan) if self._yaw.ready(need) else math.nan
        pitch0 = self._pitch.median(math.nan) if self._pitch.ready(need) else math.nan
        ear0 = self._ear.median(math.nan) if self._ear.ready(need) else math.nan

        face = sample.face
        ear = sample.openness
        if face and self.classify_eyes:
            closed = math.isfinite(ear) and math.isfinite(ear0) and ear < th.closed_ratio * ear0
        else:
            closed = face and sample.eyes_closed

        # baselines: the driver's own open eyes and straight-ahead pose
        if face:
            self.counts["face_frames"] += 1
            if math.isfinite(sample.yaw_deg) and math.isfinite(sample.pitch_deg):
                self._yaw.add(t, sample.yaw_deg)
                self._pitch.add(t, sample.pitch_deg)
            frontal = (
                not math.isfinite(sample.yaw_deg)
                or not math.isfinite(yaw0)
                or abs(sample.yaw_deg - yaw0) <= th.baseline_max_yaw_deg
            )
            if math.isfinite(ear) and frontal:
                self._ear.add(t, ear)
        for med in (self._ear, self._yaw, self._pitch):
            med.trim(t)

        perclos = self._update_perclos(t, face, closed)
        self._update_closure(t, closed)
        self._update_yawn(
            t, face and math.isfinite(sample.mouth_open) and sample.mouth_open >= th.yawn_ratio
        )

        while self._blinks and self._blinks[0] < t - th.perclos_window_s:
            self._blinks.popleft()
        window = min(th.perclos_window_s, max(self._perclos_total, clock.dt))
        blink_rate = (
            len(self._blinks) / window * 60.0
            if self._perclos_total >= th.perclos_min_s
            else math.nan
        )
        state = CabinState(
            eyes_closed=closed,
            perclos=perclos,
            blink_rate_per_min=blink_rate,
            off_road=look_away(sample, yaw0, pitch0, th) is not None,
            ear_baseline=ear0,
            yaw_baseline_deg=yaw0,
            pitch_baseline_deg=pitch0,
        )
        events: list[Event] = []
        for _rule, rule_state in self._rules:
            events += rule_state.update(sample, state, speed_mps)
        return state, events

    def finish(self) -> list[Event]:
        """Close every open episode at the end of the stream: the monitor's, then each rule's."""
        t_end = self._clock.end_s()
        if self._closure is not None:
            self._end_closure(t_end)
        if self._yawn is not None:
            self._end_yawn(t_end)
        events: list[Event] = []
        for _rule, rule_state in self._rules:
            events += rule_state.finish()
        return events

    # -- PERCLOS, blinks and yawns ----------------------------------------------------------

    def _current_perclos(self) -> float:
        if self._perclos_total < self.th.perclos_min_s:
            return math.nan
        return self._perclos_closed / self._perclos_total

    def _update_perclos(self, t: float, face: bool, closed: bool) -> float:
        dt = self._clock.dt
        if face:
            self._perclos.append((t, dt, closed))
            self._perclos_total += dt
            self._perclos_closed += dt if closed else 0.0
        while self._perclos and self._perclos[0][0] < t - self.th.perclos_window_s:
            _, old_dt, c = self._perclos.popleft()
            self._perclos_total -= old_dt
            self._perclos_closed -= old_dt if c else 0.0
        if not self._perclos:  # no rounding residue from hours of running sums
            self._perclos_total = self._perclos_closed = 0.0
        return self._current_perclos()

    def _update_closure(self, t: float, closed: bool) -> None:
        if closed:
            if self._closure is None:
                self._closure = Run(start=t, last=t)
            else:
                self._closure.last = t
        elif self._closure is not None:
            self._end_closure(t)

    def _end_closure(self, t_end: float) -> None:
        """A closure ended: a blink (the blink rate) or a slow closure (counted; the
        drowsiness rule tracks the same closures from :attr:`CabinState.eyes_closed`)."""
        run = self._closure
        assert run is not None
        self._closure = None
        if t_end - run.start < self.th.slow_blink_s:
            self.counts["blinks"] += 1
            self._blinks.append(run.start)
        else:
            self.counts["slow_closures"] += 1

    def _update_yawn(self, t: float, mouth_wide: bool) -> None:
        if mouth_wide:
            if self._yawn is None:
                self._yawn = Run(start=t, last=t)
            else:
                self._yawn.last = t
        elif self._yawn is not None:
            self._end_yawn(t)

    def _end_yawn(self, t_end: float) -> None:
        run = self._yawn
        self._yawn = None
        if run is not None and t_end - run.start >= self.th.yawn_min_s:
            self.counts["yawns"] += 1

    def summary(self) -> dict[str, Any]:
        """Counts for ``summary.json``: frames, frames with a face, blinks, slow closures, yawns."""
        return dict(self.counts)


def monitor_samples(
    samples: list[CabinSample],
    speed_mps: list[float | None] | None = None,
    thresholds: CabinThresholds | None = None,
    classify_eyes: bool = False,
) -> tuple[list[CabinSample], list[CabinState], list[Event], dict[str, Any]]:
    """Batch helper: run the streaming monitor over a whole list of samples. Returns the
    samples (with ``eyes_closed`` as decided), the per-frame states, the events sorted by start,
    and the summary counts."""
    mon = CabinMonitor(thresholds, classify_eyes=classify_eyes)
    out_samples: list[CabinSample] = []
    states: list[CabinState] = []
    events: list[Event] = []
    for i, s in enumerate(samples):
        state, evs = mon.update(s, None if speed_mps is None else speed_mps[i])
        out_samples.append(
            replace(s, eyes_closed=state.eyes_closed) if s.eyes_closed != state.eyes_closed else s
        )
        states.append(state)
        events += evs
    events += mon.finish()
    events.sort(key=lambda e: (e.start_s, e.type.value))
    return out_samples, states, events, mon.summary()
