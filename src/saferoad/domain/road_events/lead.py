"""The lead vehicle: which track it is, its range rate, headway and time to collision.

Perception marks the lead (``TrackedObject.is_lead``); when it marks none but gave each
vehicle its lateral offset (``attributes["lateral_m"]``), there is no vehicle in its
corridor and so no lead. Only objects without either (a bare tracker) are judged here: the
nearest vehicle with a known distance whose box centre lies inside the ego corridor (a
lateral offset of at most ``corridor_half_width_m``, from the pinhole model:
``x = (u - cx) Z / fx``); without a camera model such objects are never the lead.

The range rate is the least-squares slope of the lead's distance over the last
``window_s`` seconds of the *same* track (a new lead starts a new history), so a car cutting in
never produces a fake closing speed. State: the samples of one window, nothing more.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from saferoad.domain.road_events.base import NAN, LeadState
from saferoad.domain.types import RoadClass, TrackedObject


def select_lead(
    objects: tuple[TrackedObject, ...] | list[TrackedObject],
    *,
    fx: float | None,
    cx: float | None,
    corridor_half_width_m: float,
) -> TrackedObject | None:
    """The lead vehicle among ``objects`` (None when there is none)."""
    vehicles = [o for o in objects if o.cls == RoadClass.VEHICLE]
    marked = [o for o in vehicles if o.is_lead]
    if marked:
        return min(marked, key=lambda o: o.distance_m if o.distance_m is not None else math.inf)
    best: TrackedObject | None = None
    for o in vehicles:
        z = o.distance_m
        if z is None or not math.isfinite(z) or z <= 0 or "lateral_m" in o.attributes:
            continue
        if fx is None or cx is None or fx <= 0:
            continue
        u = 0.5 * (o.xyxy[0] + o.xyxy[2])
        lateral = (u - cx) * z / fx
        if abs(lateral) > corridor_half_width_m:
            continue
        if best is None or z < (best.distance_m or math.inf):
            best = o
    return best


@dataclass
class LeadTracker:
    """Turns per-frame objects into a :class:`LeadState` (incremental, bounded)."""

    fx: float | None
    cx: float | None
    corridor_half_width_m: float = 1.8
    window_s: float = 0.5
    min_history: int = 3
    _track_id: int | None = None
    _hist: deque[tuple[float, float]] = field(default_factory=deque)

    def reset(self) -> None:
        self._track_id = None
        self._hist.clear()

    def update(
        self, t_s: float, objects: tuple[TrackedObject, ...], speed_mps: float, gap_before: bool
    ) -> LeadState | None:
        if gap_before:
            self.reset()
        lead = select_lead(
            objects, fx=self.fx, cx=self.cx, corridor_half_width_m=self.corridor_half_width_m
        )
        if lead is None or lead.distance_m is None or not math.isfinite(lead.distance_m):
            return None
        if lead.track_id != self._track_id:
            self._track_id = lead.track_id
            self._hist.clear()
        d = float(lead.distance_m)
        self._hist.append((t_s, d))
        while self._hist and self._hist[0][0] < t_s - self.window_s - 1e-9:
            self._hist.popleft()
        rr = _slope(self._hist) if len(self._hist) >= self.min_history else NAN
        if math.isfinite(speed_mps):
            headway = d / speed_mps if speed_mps > 0 else math.inf
        else:
            headway = NAN
        if math.isnan(rr):
            ttc = NAN
        elif rr < 0:
            ttc = d / -rr
        else:
            ttc = math.inf
        sigma = lead.attributes.get("distance_sigma_m")
        sigma_m = float(sigma) if isinstance(sigma, (int, float)) else NAN
        return LeadState(lead.track_id, d, rr, headway, ttc, sigma_m)


def _slope(points: deque[tuple[float, float]]) -> float:
    n = len(points)
    mt = sum(p[0] for p in points) / n
    md = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mt) ** 2 for p in points)
    if sxx <= 0:
        return NAN
    sxy = sum((p[0] - mt) * (p[1] - md) for p in points)
    return sxy / sxx
