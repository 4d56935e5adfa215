"""Lane changes the road camera sees, ``lane_departure``, and their fusion with the IMU.

Consistency
-----------
A line that jumped farther since the last frame than a car moves sideways
(``max_lateral_speed_mps``: a lane change of width W in T seconds peaks at 2W/T, 2.8 m/s
for 3.5 m in 2.5 s; plus ``gate_slack_m`` of measurement noise) is taken as not seen, unless the jump is
about a lane width (crossing a marking makes the next lane's line the nearest).

Lane changes
------------
Frame by frame the ego's offset from its lane's centre ``p`` (left +) is known where the
lines are (both, or one plus the width measured within the last ``WIDTH_MEMORY_S``). Crossing a marking makes ``p`` jump by about
one lane width: from ``+W/2`` to ``-W/2`` when the left marking is crossed (a change to the
left), the other way for the right one. A jump of more than half a width between
observations at most ``max_gap_s`` apart is a crossing; a crossing undone within
``flicker_s`` (the car rides on the line and the detector assigns it to either side) is
none. A lane change runs from the last moment before the crossing that the ego was in the
middle of its lane (``|p| <= centre_band · W``) to the first such moment after it.

lane_departure
--------------
openpilot's lane departure warning (``selfdrive/selfdrived/ldw.py``) is the starting
point: it warns when a lane line is seen with probability > 0.5 and lies within 1.08 m of
the camera (``laneLines[i].y[0]``: the car's wheels at the marking), the car is above
31 mph (``LDW_MIN_SPEED``), and no blinker was on in the last 5 s (the driver meant to
change lanes). Without a blinker signal, saferoad takes a lane change the camera saw as
the deliberate act: the departure rule is quiet from the lane change's start until
``quiet_after_lane_change_s`` after its end. openpilot also asks its model whether the car
drifts (a lane-change desire > 0.1); here the line has to stay that close for
``min_duration_s`` (a few frames, so a single bad frame does not warn); stretches less than
``departure_merge_gap_s`` apart are one. A departure is reported once, from the first to the
last frame that close, with the side of the marking.

Fusion with the IMU
-------------------
The IMU's ``aggressive_lane_change`` takes its direction from the sign of the lateral
acceleration's first lobe, which a mounting error or a filtered log can flip. A lane change
the camera saw overlapping the IMU event (within ``fusion_margin_s``) gives the direction
of the marking crossed; the IMU's own is kept in the evidence when they disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from saferoad.domain.lanes.geometry import LaneObservation
from saferoad.domain.params import param
from saferoad.domain.types import Direction, Event, EventType, FloatArray, Severity

WIDTH_MEMORY_S = 3.0
"""With one line seen, the lane's centre is placed with the width measured (both lines) at
most this long before; older, the offset is unknown."""


@dataclass(frozen=True, slots=True)
class LaneParams:
    """Every threshold of the lane rules, declared once: the ``[lanes]`` keys of the same
    names are derived from these fields (``config/lanes.py``, ``config/derive.py``)."""

    min_line_confidence: float = param(
        0.5, "A line counts as seen at this confidence or more (openpilot: lane line probability > 0.5).",
        gt=0, le=1,
    )
    departure_line_distance_m: float = param(
        1.08, "lane_departure when a seen line comes closer to the camera than this (openpilot: 1.08 m, "
        "the wheels at the marking).", gt=0,
    )
    departure_min_speed_mps: float = param(
        13.9, "No lane_departure below this speed (openpilot LDW_MIN_SPEED: 31 mph = 13.9 m/s).", ge=0,
    )
    departure_min_duration_s: float = param(
        0.3, "The line must stay that close this long (a few frames: one bad frame does not warn).", ge=0,
    )
    departure_merge_gap_s: float = param(
        0.5, "Stretches of a line that close less than this apart are one departure (a frame measured "
        "just beyond the threshold does not split it).", ge=0,
    )
    quiet_after_lane_change_s: float = param(
        5.0, "No lane_departure from a lane change's start until this long after its end (openpilot: "
        "5 s after a blinker).", ge=0,
    )
    turn_signal_quiet_s: float = param(
        5.0, "No lane_departure toward the side the turn signal (can.csv turn_signal, the live CAN feed) "
        "showed, from the signal's start until this long after it went off (openpilot's LDW: 5 s "
        "blinker cooldown; ISO 17361 allows suppression on the driver's signalled intent).", ge=0,
    )
    max_gap_s: float = param(
        1.0, "Observations farther apart than this are not compared (no lane change is inferred across a gap).",
        gt=0,
    )
    max_lateral_speed_mps: float = param(
        4.0, "A line that moved farther since the last frame than this speed allows (plus gate_slack_m), "
        "and not by a lane width, is taken as not seen (a lane change peaks at about 2.8 m/s).", gt=0,
    )
    gate_slack_m: float = param(
        0.3, "Measurement noise allowed on top of max_lateral_speed_mps between frames.", ge=0,
    )
    flicker_s: float = param(
        1.0, "A line crossing undone within this time is none (the car riding on the line).", ge=0,
    )
    centre_band: float = param(
        0.25, "A lane change starts and ends where the ego is within this share of the lane width of "
        "its lane's centre.", gt=0, lt=0.5,
    )
    fusion_margin_s: float = param(
        1.0, "A camera lane change within this margin of the IMU's aggressive_lane_change gives it its "
        "direction.", ge=0,
    )


@dataclass(frozen=True, slots=True)
class CameraLaneChange:
    """A lane change the road camera saw: the marking crossed at ``crossing_s``."""

    start_s: float
    end_s: float
    crossing_s: float
    direction: Direction

    def to_dict(self) -> dict[str, object]:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "crossing_s": round(self.crossing_s, 3),
            "direction": self.direction.value,
        }


@dataclass
class LaneResult:
    events: list[Event] = field(default_factory=list)
    lane_changes: list[CameraLaneChange] = field(default_factory=list)
    t_s: FloatArray = field(default_factory=lambda: np.zeros(0))
    offset_m: FloatArray = field(default_factory=lambda: np.zeros(0))
    """Per observation: the ego's offset from its lane's centre (left +), NaN where unknown."""
    width_m: FloatArray = field(default_factory=lambda: np.zeros(0))
    confidence: FloatArray = field(default_factory=lambda: np.zeros(0))
    frames_both: int = 0
    frames_left: int = 0
    frames_right: int = 0
    speed_known: bool = False


def lane_events(
    observations: Sequence[LaneObservation],
    speed_t_s: FloatArray | None,
    speed_mps: FloatArray | None,
    params: LaneParams | None = None,
) -> LaneResult:
    """Lane changes and ``lane_departure`` events from per-frame observations in time order;
    ``speed_*`` the ego speed (``None``: unknown, then no departure is reported)."""
    p = params or LaneParams()
    n = len(observations)
    res = LaneResult()
    if n == 0:
        return res
    t = np.array([o.t_s for o in observations], dtype=np.float64)
    thr = p.min_line_confidence
    left = np.array([o.left.a if o.left is not None and o.left.confidence >= thr else math.nan for o in observations])
    right = np.array([o.right.a if o.right is not None and o.right.confidence >= thr else math.nan for o in observations])
    lconf = np.array([o.left.confidence if o.left is not None else 0.0 for o in observations])
    rconf = np.array([o.right.confidence if o.right is not None else 0.0 for o in observations])
    _gate(t, left, right, p)
    both = np.isfinite(left) & np.isfinite(right)
    res.frames_both = int(both.sum())
    res.frames_left = int(np.isfinite(left).sum())
    res.frames_right = int(np.isfinite(right).sum())

    # offset from the lane centre, the width, crossings
    offset = np.full(n, math.nan)
    width = np.full(n, math.nan)
    w_last: float | None = None
    w_t = -math.inf
    crossings: list[tuple[float, int]] = []
    prev: tuple[float, float] | None = None
    for i in range(n):
        lv, rv = left[i], right[i]
        recent = w_last is not None and t[i] - w_t <= WIDTH_MEMORY_S
        if both[i]:
            w = float(lv - rv)
            w_last = w if w_last is None or not recent else 0.8 * w_last + 0.2 * w
            w_t = float(t[i])
            c = (lv + rv) / 2.0
            width[i] = w
        elif recent and w_last is not None and math.isfinite(lv):
            c = lv - w_last / 2.0
        elif recent and w_last is not None and math.isfinite(rv):
            c = rv + w_last / 2.0
        else:
            continue
        pos = -float(c)
        offset[i] = pos
        assert w_last is not None
        if prev is not None and t[i] - prev[0] <= p.max_gap_s:
            jump = pos - prev[1]
            if jump < -0.5 * w_last:
                crossings.append((float(t[i]), +1))
            elif jump > 0.5 * w_last:
                crossings.append((float(t[i]), -1))
        prev = (float(t[i]), pos)
    kept: list[tuple[float, int]] = []
    for tc, d in crossings:
        if kept and kept[-1][1] == -d and tc - kept[-1][0] < p.flicker_s:
            kept.pop()
        else:
            kept.append((tc, d))
    w_ref = float(np.nanmedian(width)) if np.isfinite(width).any() else 3.5
    centred = np.isfinite(offset) & (np.abs(offset) <= p.centre_band * w_ref)
    for tc, d in kept:
        before = np.flatnonzero(centred & (t < tc))
        after = np.flatnonzero(centred & (t > tc))
        start = float(t[before[-1]]) if len(before) else float(t[0])
        end = float(t[after[0]]) if len(after) else float(t[-1])
        res.lane_changes.append(CameraLaneChange(start, end, tc, Direction.LEFT if d > 0 else Direction.RIGHT))

    res.t_s, res.offset_m, res.width_m = t, offset, width
    res.confidence = np.array([o.confidence for o in observations], dtype=np.float64)

    # departures
    if speed_t_s is None or speed_mps is None or len(speed_t_s) == 0:
        return res
    res.speed_known = True
    v = np.interp(t, speed_t_s, speed_mps, left=math.nan, right=math.nan)
    fast = np.isfinite(v) & (v >= p.departure_min_speed_mps)
    quiet = np.zeros(n, dtype=bool)
    for lc in res.lane_changes:
        quiet |= (t >= lc.start_s) & (t <= lc.end_s + p.quiet_after_lane_change_s)
    for side, dist, conf in ((Direction.LEFT, left, lconf), (Direction.RIGHT, -right, rconf)):
        close = np.isfinite(dist) & (dist < p.departure_line_distance_m)
        for i, j in _merge(_runs(close, t, p.max_gap_s), t, p.departure_merge_gap_s):
            if t[j] - t[i] < p.departure_min_duration_s:
                continue
            sl = slice(i, j + 1)
            if quiet[sl].any() or not fast[sl][np.isfinite(dist[sl])].all():
                continue
            dd = dist[sl]
            k = int(np.nanargmin(dd))
            dmin = float(dd[k])
            sev = Severity.HIGH if dmin < 0.3 else Severity.MEDIUM if dmin < 0.9 else Severity.LOW
            res.events.append(Event(
                EventType.LANE_DEPARTURE, float(t[i]), float(t[j]), sev,
                float(np.clip(np.mean(conf[sl][np.isfinite(dd)]), 0.0, 1.0)), side,
                peak={"min_line_distance_m": round(dmin, 3), "speed_kmh": round(float(np.nanmax(v[sl])) * 3.6, 1)},
                evidence={"source": "road_camera", "key_t_s": round(float(t[i + k]), 3)},
            ))
    res.events.sort(key=lambda e: e.start_s)
    return res


def _gate(t: FloatArray, left: FloatArray, right: FloatArray, p: LaneParams) -> None:
    """Drop (in place, to NaN) a line that moved farther since the last line kept on its side
    than the car can move sideways (``max_lateral_speed_mps`` × the time since, plus
    ``gate_slack_m``), unless it moved by about a lane width (the next lane's line becoming
    the nearest as the car crosses a marking). After ``max_gap_s`` without a kept line the
    side is taken afresh."""
    w = 3.5
    last: dict[int, tuple[float, float]] = {}
    for i in range(len(t)):
        if math.isfinite(left[i]) and math.isfinite(right[i]) and 2.2 <= left[i] - right[i] <= 5.0:
            w = float(left[i] - right[i])
        for k, arr in ((0, left), (1, right)):
            a = float(arr[i])
            if not math.isfinite(a):
                continue
            prev = last.get(k)
            if prev is not None and t[i] - prev[0] <= p.max_gap_s:
                tol = p.max_lateral_speed_mps * (t[i] - prev[0]) + p.gate_slack_m
                if min(abs(a - prev[1]), abs(abs(a - prev[1]) - w)) > tol:
                    arr[i] = math.nan
                    continue
            last[k] = (float(t[i]), a)


def _runs(mask: np.ndarray, t: FloatArray, max_gap_s: float) -> list[tuple[int, int]]:
    """(first, last) indices of runs of consecutive ``mask`` frames; a run also ends where
    two frames are more than ``max_gap_s`` apart."""
    out: list[tuple[int, int]] = []
    start = last = -1
    for i in np.flatnonzero(mask).tolist():
        if start >= 0 and i == last + 1 and t[i] - t[last] <= max_gap_s:
            last = i
            continue
        if start >= 0:
            out.append((start, last))
        start = last = i
    if start >= 0:
        out.append((start, last))
    return out


def _merge(runs: list[tuple[int, int]], t: FloatArray, gap_s: float) -> list[tuple[int, int]]:
    """Runs less than ``gap_s`` apart as one (a frame or two measured just beyond the
    threshold does not split a departure in two)."""
    out: list[tuple[int, int]] = []
    for i, j in runs:
        if out and t[i] - t[out[-1][1]] < gap_s:
            out[-1] = (out[-1][0], j)
        else:
            out.append((i, j))
    return out


def fuse_lane_changes(
    events: Sequence[Event], lane_changes: Sequence[CameraLaneChange], params: LaneParams | None = None
) -> list[Event]:
    """The IMU's ``aggressive_lane_change`` events with the direction of the marking the
    camera saw crossed where a camera lane change overlaps them; other events unchanged."""
    p = params or LaneParams()
    out = []
    for ev in events:
        if ev.type is not EventType.AGGRESSIVE_LANE_CHANGE or not lane_changes:
            out.append(ev)
            continue
        m = p.fusion_margin_s
        over = [lc for lc in lane_changes if lc.start_s <= ev.end_s + m and lc.end_s >= ev.start_s - m]
        if not over:
            out.append(ev)
            continue
        mid = (ev.start_s + ev.end_s) / 2.0
        lc = min(over, key=lambda x: abs(x.crossing_s - mid))
        evidence = dict(ev.evidence)
        evidence["camera_lane_change"] = lc.to_dict()
        if ev.direction is not None and ev.direction != lc.direction:
            evidence["imu_direction"] = ev.direction.value
        evidence["direction_source"] = "road_camera"
        out.append(replace(ev, direction=lc.direction, evidence=evidence))
    return out
