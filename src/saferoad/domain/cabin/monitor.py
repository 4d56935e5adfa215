"""The driver-monitoring rules: streaming, bounded state, the same code for batch.

Feed :meth:`CabinMonitor.update` one :class:`~saferoad.domain.cabin.signals.CabinSample` at a
time (with the ego speed at that moment, or ``None`` when unknown); it returns the frame's
derived state and any event that has just ended. :meth:`CabinMonitor.finish` closes what is
still open at the end of the stream. State is bounded: a time window of samples for the
baselines and PERCLOS, plus the episode being built.

Rules (defaults in :class:`CabinThresholds`, sources in ``docs/cabin.md``):

* **Eye closure** (when the monitor classifies eyes itself, from landmarks): the eyes are
  closed when the mean eye aspect ratio falls below ``closed_ratio`` times the driver's own
  open-eye EAR, the running median of the last ``baseline_window_s`` of frames (the published
  absolute threshold of 0.2-0.25 against an open EAR of about 0.3, made relative so narrow eyes
  or glasses do not read as closed).
* **PERCLOS**: the share of the last ``perclos_window_s`` (with a face) spent with eyes closed.
* **drowsiness**: a run of slow closures (each at least ``slow_blink_s`` long, consecutive ones
  at most ``cluster_gap_s`` apart) in which PERCLOS reached ``perclos_threshold`` or one closure
  lasted ``long_closure_s``. The event spans the first slow closure's start to the last one's
  end; PERCLOS counts only in an episode of at least ``perclos_min_closures`` slow closures.
  Only while moving at ``drowsiness_min_speed_mps`` or more.
* **distraction**: the head turned away from the driver's own straight-ahead pose (running
  median of yaw and pitch) by more than ``distraction_yaw_deg`` sideways, ``distraction_pitch_deg`` down or
  ``distraction_pitch_up_deg`` up, continuously for at least ``distraction_min_s`` while moving at
  ``distraction_min_speed_mps`` or more. Frames without a face inside such a run (a head turned so far the
  detector loses it) continue it for at most ``face_gap_s``.
* **camera_obstructed**: dark or uniform frames for at least ``obstructed_min_s``.
* **phone_use**: the samples' phone (``phone_score``, ``phone_at``) through
  :class:`~saferoad.domain.cabin.phone.PhoneMonitor` (``phone``: its ``phone_*`` thresholds).
* every **registered cabin rule** (``registry.py``: a module that declares its params, specs
  and rule), fed each frame's sample, the :class:`CabinState` derived here and the speed.

With ``speed_mps=None`` the vehicle is taken to be moving (cabin video on its own).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from saferoad.domain.cabin.phone import PhoneMonitor, PhoneObservation
from saferoad.domain.cabin.registry import build_rules
from saferoad.domain.cabin.signals import CabinSample

# re-exported: the thresholds moved to a module of their own (the rule registry reads them)
from saferoad.domain.cabin.thresholds import CabinThresholds as CabinThresholds
from saferoad.domain.types import Event, EventType, Severity


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
class _Run:
    """An ongoing episode (closure, off-road look, obstruction, yawn)."""

    start: float
    last: float
    peak: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Cluster:
    start: float
    end: float
    closures: int = 1
    longest_s: float = 0.0
    peak_perclos: float = 0.0
    qualified: bool = False
    reason: str = ""


class CabinMonitor:
    """Streaming driver monitor (see the module docstring for the rules).

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
        self._prev_t: float | None = None
        self._dt = 0.1
        self._closure: _Run | None = None
        self._cluster: _Cluster | None = None
        self._away: _Run | None = None
        self._obstructed: _Run | None = None
        self._yawn: _Run | None = None
        self._last_t = 0.0
        self._moving = True
        self.counts = {"frames": 0, "face_frames": 0, "blinks": 0, "yawns": 0, "slow_closures": 0}
        self.phone = PhoneMonitor(th.phone)
        """``phone_use`` over the samples' ``phone_score``/``phone_at`` (``.phone``)."""
        self._rules = build_rules(th)
        """The registered cabin rules (``registry.py``), fed after the monitor's own."""

    # -- public -----------------------------------------------------------------------------

    def update(
        self, sample: CabinSample, speed_mps: float | None = None
    ) -> tuple[CabinState, list[Event]]:
        th = self.th
        t = sample.t_s
        if self._prev_t is not None:
            if t <= self._prev_t:
                raise ValueError(f"cabin frame {sample.frame}: t_s {t} does not increase")
            self._dt = min(t - self._prev_t, th.max_frame_gap_s)
        self._prev_t = t
        self._last_t = t
        self.counts["frames"] += 1
        v = speed_mps if speed_mps is not None and math.isfinite(speed_mps) else math.inf
        moving = v >= th.distraction_min_speed_mps  # unknown speed: taken as moving
        awake_needed = v >= th.drowsiness_min_speed_mps
        self._moving = awake_needed
        events: list[Event] = []

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
        events += self._update_closure(t, face, closed, perclos, awake_needed)
        off_road = self._off_road(sample, yaw0, pitch0)
        events += self._update_away(sample, off_road, moving, yaw0, pitch0)
        events += self._update_obstructed(t, sample.obstructed)
        self._update_yawn(
            t, face and math.isfinite(sample.mouth_open) and sample.mouth_open >= th.yawn_ratio
        )
        events += self.phone.update(
            PhoneObservation(sample.frame, t, sample.phone_score, sample.phone_at), speed_mps
        )

        while self._blinks and self._blinks[0] < t - th.perclos_window_s:
            self._blinks.popleft()
        window = min(th.perclos_window_s, max(self._perclos_total, self._dt))
        blink_rate = (
            len(self._blinks) / window * 60.0
            if self._perclos_total >= th.perclos_min_s
            else math.nan
        )
        state = CabinState(
            eyes_closed=closed,
            perclos=perclos,
            blink_rate_per_min=blink_rate,
            off_road=off_road is not None,
            ear_baseline=ear0,
            yaw_baseline_deg=yaw0,
            pitch_baseline_deg=pitch0,
        )
        for _rule, rule_state in self._rules:
            events += rule_state.update(sample, state, speed_mps)
        return state, events

    def finish(self) -> list[Event]:
        """Close every open episode at the end of the stream."""
        t_end = self._last_t + self._dt
        events: list[Event] = []
        if self._closure is not None:
            events += self._end_closure(t_end, self._moving, self._current_perclos())
        if self._cluster is not None:
            events += self._emit_cluster()
        if self._away is not None:
            events += self._end_away(t_end)
        if self._obstructed is not None:
            events += self._end_obstructed(t_end)
        if self._yawn is not None:
            self._end_yawn(t_end)
        events += self.phone.finish()
        for _rule, rule_state in self._rules:
            events += rule_state.finish()
        return events

    # -- PERCLOS and closures ---------------------------------------------------------------

    def _current_perclos(self) -> float:
        if self._perclos_total < self.th.perclos_min_s:
            return math.nan
        return self._perclos_closed / self._perclos_total

    def _update_perclos(self, t: float, face: bool, closed: bool) -> float:
        if face:
            self._perclos.append((t, self._dt, closed))
            self._perclos_total += self._dt
            self._perclos_closed += self._dt if closed else 0.0
        while self._perclos and self._perclos[0][0] < t - self.th.perclos_window_s:
            _, dt, c = self._perclos.popleft()
            self._perclos_total -= dt
            self._perclos_closed -= dt if c else 0.0
        if not self._perclos:  # no rounding residue from hours of running sums
            self._perclos_total = self._perclos_closed = 0.0
        return self._current_perclos()

    def _update_closure(
        self, t: float, face: bool, closed: bool, perclos: float, moving: bool
    ) -> list[Event]:
        th = self.th
        events: list[Event] = []
        if closed:
            if self._closure is None:
                self._closure = _Run(start=t, last=t)
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

    def _end_closure(self, t_end: float, moving: bool, perclos: float) -> list[Event]:
        th = self.th
        run = self._closure
        assert run is not None
        self._closure = None
        duration = t_end - run.start
        if duration < th.slow_blink_s:
            self.counts["blinks"] += 1
            self._blinks.append(run.start)
            return []
        self.counts["slow_closures"] += 1
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

    # -- head pose --------------------------------------------------------------------------

    def _off_road(self, s: CabinSample, yaw0: float, pitch0: float) -> str | None:
        """Where the head points when away from the road (``left``, ``right``, ``down``,
        ``up``), or ``None`` when on the road or unknown."""
        th = self.th
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

    def _update_away(
        self, s: CabinSample, where: str | None, moving: bool, yaw0: float, pitch0: float
    ) -> list[Event]:
        th = self.th
        t = s.t_s
        run = self._away
        if not moving:
            return self._end_away(t) if run is not None else []
        if where is not None:
            dev = max(abs(s.yaw_deg - yaw0), abs(s.pitch_deg - pitch0))
            if run is None:
                self._away = _Run(start=t, last=t, peak=dev, extra={"look": {where: 1}})
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
        end = t if s.face else run.last + self._dt
        return self._end_away(end)

    def _end_away(self, t_end: float) -> list[Event]:
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

    # -- obstruction and yawns --------------------------------------------------------------

    def _update_obstructed(self, t: float, obstructed: bool) -> list[Event]:
        if obstructed:
            if self._obstructed is None:
                self._obstructed = _Run(start=t, last=t)
            else:
                self._obstructed.last = t
            return []
        return self._end_obstructed(t) if self._obstructed is not None else []

    def _end_obstructed(self, t_end: float) -> list[Event]:
        run = self._obstructed
        self._obstructed = None
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

    def _update_yawn(self, t: float, mouth_wide: bool) -> None:
        if mouth_wide:
            if self._yawn is None:
                self._yawn = _Run(start=t, last=t)
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
