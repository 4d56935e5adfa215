"""Ground-truth events of a scenario, derived from its noise-free truth by the published
definitions the rules implement, with the thresholds taken from the configuration.

So a label follows the definition, not the scenario's intent: raise the braking threshold
above a scenario's deceleration and its ``harsh_braking`` label disappears, exactly as the
detection should. The definitions (docs/events.md, docs/simulator.md):

* harsh braking / acceleration: longitudinal acceleration beyond ``braking_g`` /
  ``acceleration_g`` held ≥ ``min_duration_s``; the event runs from the threshold crossing
  until the signal falls below ``(1 − hysteresis) ×`` threshold; events closer than
  ``merge_gap_s`` merge.
* harsh cornering: the same on the curvature part of lateral acceleration (``v² κ``),
  direction from its sign (left positive).
* aggressive lane change: a lane change whose lateral acceleration passes ``lane_change_g``
  in both halves (towards the new lane, then back); it runs from the first crossing to the
  end of the second half's hysteresis run.
* tailgating: time headway (gap / ego speed) to the vehicle ahead in the ego's lane, seen
  by the camera, below ``tailgating_headway_s`` above ``tailgating_min_speed_mps`` for at
  least ``tailgating_min_duration_s``.
* forward collision warning: time to collision (gap / closing speed, closing ≥
  ``fcw_min_closing_mps``) below ``fcw_ttc_s`` above ``fcw_min_speed_mps`` for at least
  ``fcw_min_duration_s``.
* rolling stop / stop sign violation: a sign seen in ≥ ``stop_sign_min_frames`` frames and
  within ``stop_sign_max_distance_m``; the ego never goes below ``stop_speed_mps`` from the
  first sighting until ``stop_window_s`` after the sign leaves the camera's view; a rolling
  stop if its lowest speed is at least ``slow_down_fraction`` below the approach speed (the
  highest speed before that lowest point), else a violation. The event runs from the last
  sighting to the moment the ego passes the sign (or the other way round).
* red light: a light seen in ≥ ``red_light_min_frames`` frames, last seen within
  ``red_light_max_distance_m`` with its lamp red, passed at ``red_light_min_speed_mps`` or
  faster; from the last sighting to the pass.
* speeding: above the posted limit plus ``speeding_margin_mps`` for at least
  ``speeding_min_duration_s``.
* drowsiness: an eye closure of at least ``drowsy_closure_s``; distraction: head yaw beyond
  ``distraction_yaw_deg`` (or pitch beyond ``distraction_pitch_deg``) for at least
  ``distraction_min_s`` while moving above ``distraction_min_speed_mps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from saferoad.domain.simulation.camera import (
    ObjectView,
    frame_times,
    last_visible_time,
    object_views,
)
from saferoad.domain.simulation.model import Scenario
from saferoad.domain.types import Direction, EventLabel, FloatArray, G

MPH = 0.44704


@dataclass(frozen=True, slots=True)
class MotionDefinitions:
    braking_g: float = 0.38
    acceleration_g: float = 0.37
    cornering_g: float = 0.38
    lane_change_g: float = 0.25
    min_duration_s: float = 0.1
    hysteresis: float = 0.17
    merge_gap_s: float = 1.0


@dataclass(frozen=True, slots=True)
class RoadDefinitions:
    tailgating_headway_s: float = 0.7
    tailgating_min_duration_s: float = 10.0
    tailgating_min_speed_mps: float = round(35 * MPH, 3)
    fcw_ttc_s: float = 2.0
    fcw_min_duration_s: float = 0.3
    fcw_min_speed_mps: float = round(25 * MPH, 3)
    fcw_min_closing_mps: float = 1.0
    stop_speed_mps: float = round(6 * MPH, 3)
    stop_window_s: float = 7.0
    stop_sign_max_distance_m: float = 30.0
    stop_sign_min_frames: int = 3
    slow_down_fraction: float = 0.25
    red_light_min_speed_mps: float = round(6 * MPH, 3)
    red_light_max_distance_m: float = 35.0
    red_light_min_frames: int = 3
    speeding_margin_mps: float = round(6 * MPH, 3)
    speeding_min_duration_s: float = 60.0
    corridor_half_width_m: float = 1.8


@dataclass(frozen=True, slots=True)
class CabinDefinitions:
    drowsy_closure_s: float = 1.5
    distraction_yaw_deg: float = 30.0
    distraction_pitch_deg: float = 25.0
    distraction_min_s: float = 3.0
    distraction_min_speed_mps: float = 5.0 / 3.6


@dataclass(frozen=True, slots=True)
class Definitions:
    motion: MotionDefinitions = MotionDefinitions()
    road: RoadDefinitions = RoadDefinitions()
    cabin: CabinDefinitions = CabinDefinitions()


def runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Index ranges ``[i, j)`` where ``mask`` is true."""
    m = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def threshold_intervals(
    t: FloatArray,
    x: FloatArray,
    threshold: float,
    *,
    hysteresis: float = 0.0,
    min_duration_s: float = 0.0,
    merge_gap_s: float = 0.0,
) -> list[tuple[float, float]]:
    """Intervals where ``x`` rises to ``threshold`` (held ≥ ``min_duration_s``) until it
    falls below ``(1 − hysteresis) × threshold``; intervals closer than ``merge_gap_s``
    merge. Times are sample times of ``t``."""
    if t.shape[0] == 0:
        return []
    above = x >= threshold
    still = x >= (1.0 - hysteresis) * threshold
    out: list[tuple[float, float]] = []
    for a, b in runs(still):
        seg = above[a:b]
        held = [(i, j) for i, j in runs(seg) if t[a + j - 1] - t[a + i] >= min_duration_s - 1e-9]
        if not held:
            continue
        start = float(t[a + held[0][0]])
        end = float(t[b - 1])
        if out and start - out[-1][1] < merge_gap_s:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def motion_labels(sc: Scenario, m: MotionDefinitions) -> list[EventLabel]:
    e = sc.ego
    out: list[EventLabel] = []
    kw = {"hysteresis": m.hysteresis, "min_duration_s": m.min_duration_s, "merge_gap_s": m.merge_gap_s}
    for a, b in threshold_intervals(e.t, -e.a_long / G, m.braking_g, **kw):
        out.append(EventLabel("harsh_braking", a, b))
    for a, b in threshold_intervals(e.t, e.a_long / G, m.acceleration_g, **kw):
        out.append(EventLabel("harsh_acceleration", a, b))
    for sign, direction in ((1.0, Direction.LEFT), (-1.0, Direction.RIGHT)):
        for a, b in threshold_intervals(e.t, sign * e.a_lat_path / G, m.cornering_g, **kw):
            out.append(EventLabel("harsh_cornering", a, b, direction))
    thr = m.lane_change_g * G
    for note in sc.manoeuvres:
        if note.kind != "lane_change":
            continue
        mid = 0.5 * (note.start_s + note.end_s)
        first = (e.t >= note.start_s) & (e.t < mid)
        second = (e.t >= mid) & (e.t <= note.end_s)
        sgn = 1.0 if note.direction == "left" else -1.0
        lat = sgn * e.a_lat_lane
        if lat[first].max(initial=0.0) >= thr and (-lat[second]).max(initial=0.0) >= thr:
            i1 = threshold_intervals(e.t[first], lat[first], thr, hysteresis=m.hysteresis)
            i2 = threshold_intervals(e.t[second], -lat[second], thr, hysteresis=m.hysteresis)
            if i1 and i2:
                direction = Direction.LEFT if note.direction == "left" else Direction.RIGHT
                out.append(EventLabel("aggressive_lane_change", i1[0][0], i2[-1][1], direction))
    return out


def _lead_gap(
    sc: Scenario, t: FloatArray, r: RoadDefinitions, views: dict[int, ObjectView]
) -> tuple[FloatArray, FloatArray]:
    """Gap to the nearest visible vehicle ahead in the ego's corridor, and its speed
    (NaN where there is none), at times ``t``."""
    ego_d = np.interp(t, sc.t, sc.ego.d)
    gap = np.full(t.shape[0], np.inf)
    lead_v = np.full(t.shape[0], np.nan)
    for veh in sc.vehicles:
        view = views[veh.track_id]
        d = np.interp(t, sc.t, veh.d)
        vs = np.gradient(np.interp(t, sc.t, veh.s), t) if t.shape[0] > 1 else np.zeros_like(t)
        ahead = (view.visible > 0) & (np.abs(d - ego_d) <= r.corridor_half_width_m)
        g = np.where(ahead, view.distance_m, np.inf)
        closer = g < gap
        gap = np.where(closer, g, gap)
        lead_v = np.where(closer, vs, lead_v)
    return np.where(np.isfinite(gap), gap, np.nan), lead_v


def _pass_time(sc: Scenario, s_obj: float) -> float:
    """When the ego's front (the camera) reaches arc length ``s_obj`` (inf if never)."""
    idx = np.flatnonzero(sc.ego.s >= s_obj)
    if idx.size == 0:
        return float("inf")
    i = int(idx[0])
    if i == 0:
        return float(sc.t[0])
    s0, s1 = float(sc.ego.s[i - 1]), float(sc.ego.s[i])
    return float(sc.t[i - 1] + (s_obj - s0) / max(s1 - s0, 1e-12) * (sc.t[i] - sc.t[i - 1]))


def camera_views(sc: Scenario) -> tuple[FloatArray, list[ObjectView]]:
    """Frame times and every object's view: what the labels and detections.json share."""
    t_f = frame_times(sc.duration_s, sc.camera.fps)
    return t_f, object_views(sc, t_f)


def road_labels(
    sc: Scenario, r: RoadDefinitions, camera: tuple[FloatArray, list[ObjectView]] | None = None
) -> list[EventLabel]:
    out: list[EventLabel] = []
    t_f, view_list = camera if camera is not None else camera_views(sc)
    views = {vw.track_id: vw for vw in view_list}
    v = np.interp(t_f, sc.t, sc.ego.v)
    if sc.vehicles:
        gap, lead_v = _lead_gap(sc, t_f, r, views)
        with np.errstate(invalid="ignore", divide="ignore"):
            headway = gap / np.maximum(v, 1e-6)
            closing = v - lead_v
            ttc = np.where(closing >= r.fcw_min_closing_mps, gap / closing, np.inf)
        tail = (headway < r.tailgating_headway_s) & (v >= r.tailgating_min_speed_mps)
        for a, b in runs(np.nan_to_num(tail, nan=0.0) > 0):
            if t_f[b - 1] - t_f[a] >= r.tailgating_min_duration_s:
                out.append(EventLabel("tailgating", float(t_f[a]), float(t_f[b - 1])))
        fcw = (ttc < r.fcw_ttc_s) & (v >= r.fcw_min_speed_mps)
        for a, b in runs(fcw):
            if t_f[b - 1] - t_f[a] >= r.fcw_min_duration_s:
                out.append(EventLabel("forward_collision_warning", float(t_f[a]), float(t_f[b - 1])))
    if sc.stop_signs or sc.lights:
        for sign in sc.stop_signs:
            view = views[sign.track_id]
            t_leave = last_visible_time(view, t_f)
            seen = np.flatnonzero(view.visible)
            if t_leave is None or seen.size < r.stop_sign_min_frames:
                continue
            if float(view.distance_m[seen].min()) > r.stop_sign_max_distance_m:
                continue
            t_first = float(t_f[seen[0]])
            win = (sc.t >= t_first) & (sc.t <= t_leave + r.stop_window_s)
            if not win.any() or float(sc.ego.v[win].min()) < r.stop_speed_mps:
                continue  # a full stop
            v_win = sc.ego.v[win]
            i_low = int(np.argmin(v_win))
            low, approach = float(v_win[i_low]), float(v_win[: i_low + 1].max())
            t_pass = _pass_time(sc, sign.s)
            typ = "rolling_stop" if low <= (1.0 - r.slow_down_fraction) * approach else "stop_sign_violation"
            out.append(EventLabel(typ, min(t_leave, t_pass), max(t_leave, t_pass)))
        for light in sc.lights:
            view = views[light.track_id]
            t_leave = last_visible_time(view, t_f)
            seen = np.flatnonzero(view.visible)
            if t_leave is None or seen.size < r.red_light_min_frames:
                continue
            if float(view.distance_m[seen[-1]]) > r.red_light_max_distance_m:
                continue
            lamp = light.lamp_at(np.array([t_leave]))[0]
            t_pass = _pass_time(sc, light.s)
            if lamp != "red" or not np.isfinite(t_pass):
                continue
            speed = float(np.interp(t_pass, sc.t, sc.ego.v))
            if speed >= r.red_light_min_speed_mps:
                out.append(EventLabel("red_light", min(t_leave, t_pass), max(t_leave, t_pass)))
    if sc.speed_limit_mps is not None:
        over = sc.ego.v > sc.speed_limit_mps + r.speeding_margin_mps
        for a, b in runs(over):
            if sc.t[b - 1] - sc.t[a] >= r.speeding_min_duration_s:
                out.append(EventLabel("speeding", float(sc.t[a]), float(sc.t[b - 1])))
    return out


def cabin_labels(sc: Scenario, c: CabinDefinitions) -> list[EventLabel]:
    if sc.cabin is None:
        return []
    out: list[EventLabel] = []
    for cl in sc.cabin.closures:
        if cl.duration_s >= c.drowsy_closure_s:
            out.append(EventLabel("drowsiness", cl.start_s, cl.start_s + cl.duration_s))
    for h in sc.cabin.head_turns:
        away = abs(h.yaw_deg) > c.distraction_yaw_deg or h.pitch_deg > c.distraction_pitch_deg
        if not away or h.duration_s < c.distraction_min_s:
            continue
        win = (sc.t >= h.start_s) & (sc.t <= h.start_s + h.duration_s)
        moving = sc.ego.v[win] >= c.distraction_min_speed_mps
        if moving.all():
            out.append(EventLabel("distraction", h.start_s, h.start_s + h.duration_s))
    return out


def ground_truth(
    sc: Scenario, defs: Definitions, camera: tuple[FloatArray, list[ObjectView]] | None = None
) -> list[EventLabel]:
    """Every ground-truth event of ``sc``, plus a ``normal`` label for each deliberate
    manoeuvre (a curve, a lane change, a stop) that is not an event, sorted by start.
    ``camera``: the :func:`camera_views` of ``sc`` when the caller has them already."""
    events = (
        motion_labels(sc, defs.motion) + road_labels(sc, defs.road, camera) + cabin_labels(sc, defs.cabin)
    )
    normals: list[EventLabel] = []
    for note in sc.manoeuvres:
        overlaps = any(ev.start_s <= note.end_s and ev.end_s >= note.start_s for ev in events)
        if not overlaps:
            direction = Direction(note.direction) if note.direction else None
            normals.append(EventLabel("normal", note.start_s, note.end_s, direction))
    return sorted(events + normals, key=lambda lb: (lb.start_s, lb.type))
