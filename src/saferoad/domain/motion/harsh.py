"""Harsh-driving rules: harsh braking, harsh acceleration, harsh cornering and aggressive
lane changes, decided on vehicle-frame signals with thresholds, hysteresis and a minimum
hold time (see docs/events.md for the definitions and their sources).

Two modes:

* **signed** (the vehicle frame is known: configured mounting, or estimated from gravity,
  GPS speed and yaw rate): braking is ``-a_long`` above the braking threshold, acceleration
  ``a_long`` above the acceleration threshold; lateral pulses ``|a_lat|`` are grouped, and a
  group whose heading changes by ``turn_min_deg`` or more is a turn (harsh cornering when its
  peak reaches the cornering threshold), a group of opposite lateral pulses with little
  heading change is a lane change (aggressive when each half reaches the lane-change
  threshold; direction = the side of the first pulse).
* **heading-free** (an Earth-frame IMU with no GPS: its horizontal axes are fixed to the
  ground, so forward turns with the car): pulses of the horizontal acceleration magnitude are
  grouped; a group with a peak yaw rate of ``turn_rate_dps`` or more is lateral (turn or lane
  change by heading change as above; direction from the sign of the yaw rate), otherwise
  longitudinal. Such logs are typically high-passed by the phone's sensor fusion (about 1 s):
  a sustained push shows as an onset pulse and an opposite release pulse. Braking starts
  abruptly (the pedal) and fades; acceleration builds up gradually (engine torque) and ends
  abruptly (lifting off, changing gear). So a longitudinal group whose stronger pulse comes
  first is a braking, one whose stronger pulse comes last an acceleration; the opposite pulse
  is part of the same event, never a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from saferoad.domain.event_spec_base import EventSpec, Family

# re-exported: the thresholds are declared with the engine's other params (config reads them)
from saferoad.domain.motion.params import HarshParams as HarshParams
from saferoad.domain.motion.regions import BoolArray, hysteresis_regions
from saferoad.domain.motion.rules.registry import MotionRule, register
from saferoad.domain.types import Direction, Event, EventType, FloatArray, G, Severity

if TYPE_CHECKING:  # a type only: turn_axes needs SciPy, and the config loads this rule
    from saferoad.domain.motion.turn_axes import TurnAxes


@dataclass(frozen=True, slots=True)
class MotionSignals:
    """Uniformly sampled vehicle motion the rules read.

    ``a_long``/``a_lat`` (m/s², forward/left) in signed mode; ``horizontal`` (N, 2) in
    heading-free mode. ``yaw_rate`` rad/s (left +) or None; ``speed`` m/s or None.
    """

    t_s: FloatArray
    valid: BoolArray
    yaw_rate: FloatArray | None
    speed: FloatArray | None
    a_long: FloatArray | None = None
    a_lat: FloatArray | None = None
    horizontal: FloatArray | None = None
    axes: TurnAxes | None = None
    """Heading-free mode: the car's forward axis found from the turns, where it could be."""

    @property
    def heading_free(self) -> bool:
        return self.a_long is None


def _severity(ratio: float, p: HarshParams) -> Severity:
    if ratio >= p.severity_high:
        return Severity.HIGH
    if ratio >= p.severity_medium:
        return Severity.MEDIUM
    return Severity.LOW


def _confidence(ratio: float, held_s: float, p: HarshParams, base: float) -> float:
    margin = min(1.0, max(0.0, (ratio - 1.0) / (p.severity_high - 1.0)))
    hold = min(1.0, held_s / max(4 * p.min_duration_s, 1e-3))
    return float(np.clip(base * (0.5 + 0.3 * margin + 0.2 * hold), 0.0, 1.0))


def _group(regions: list[tuple[int, int]], t: FloatArray, valid: BoolArray, gap_s: float) -> list[list[tuple[int, int]]]:
    groups: list[list[tuple[int, int]]] = []
    for a, b in regions:
        if groups:
            _, pb = groups[-1][-1]
            if t[a] - t[pb - 1] <= gap_s and valid[pb:a].all():
                groups[-1].append((a, b))
                continue
        groups.append([(a, b)])
    return groups


def _heading_change_deg(yaw: FloatArray | None, a: int, b: int, hz: float) -> float:
    if yaw is None:
        return 0.0
    return float(np.degrees(yaw[a:b].sum() / hz))


def _slow(sig: MotionSignals, a: int, b: int, p: HarshParams) -> bool:
    if sig.speed is None:
        return False
    s = sig.speed[a:b]
    s = s[np.isfinite(s)]
    return bool(s.size) and float(s.max()) < p.min_speed_mps


def _peak_speed(sig: MotionSignals, i: int, onset: int) -> dict[str, float]:
    """The speed at the peak and at the manoeuvre's onset (a braking to a stop peaks at walking
    pace; what a reviewer wants is the speed it started from), where known."""
    out: dict[str, float] = {}
    if sig.speed is not None and np.isfinite(sig.speed[i]):
        out["speed_mps"] = round(float(sig.speed[i]), 2)
    if sig.speed is not None and np.isfinite(sig.speed[onset]):
        out["speed_onset_mps"] = round(float(sig.speed[onset]), 2)
    return out


def _make(
    typ: EventType,
    sig: MotionSignals,
    a: int,
    b: int,
    peak_i: int,
    peak_value: float,
    threshold: float,
    p: HarshParams,
    hz: float,
    direction: Direction | None = None,
    extra: dict[str, float] | None = None,
    base_conf: float = 1.0,
) -> Event:
    ratio = abs(peak_value) / threshold
    held = (b - a) / hz
    peak = {
        "accel_mps2": round(peak_value, 3),
        "accel_g": round(peak_value / G, 3),
        "t_s": round(float(sig.t_s[peak_i]), 3),
        **_peak_speed(sig, peak_i, a),
        **(extra or {}),
    }
    if sig.yaw_rate is not None:
        peak["yaw_rate_dps"] = round(float(np.degrees(np.abs(sig.yaw_rate[a:b]).max())), 2)
    return Event(
        typ,
        float(sig.t_s[a]),
        float(sig.t_s[b - 1]),
        _severity(ratio, p),
        _confidence(ratio, held, p, base_conf),
        direction=direction,
        peak=peak,
        evidence={"threshold_g": round(threshold / G, 3), "mode": "heading-free" if sig.heading_free else "signed"},
    )


def _signed(sig: MotionSignals, p: HarshParams, hz: float) -> list[Event]:
    assert sig.a_long is not None and sig.a_lat is not None
    t, valid = sig.t_s, sig.valid
    k = 1.0 - p.hysteresis
    out: list[Event] = []
    for typ, x, g in (
        (EventType.HARSH_BRAKING, -sig.a_long, p.braking_g),
        (EventType.HARSH_ACCELERATION, sig.a_long, p.acceleration_g),
    ):
        on = g * G
        regs = hysteresis_regions(x, on, k * on, t, p.min_duration_s, valid)
        for grp in _group(regs, t, valid, p.merge_gap_s):
            a, b = grp[0][0], grp[-1][1]
            if _slow(sig, a, b, p):
                continue
            i = a + int(np.argmax(x[a:b]))
            sign = -1.0 if typ == EventType.HARSH_BRAKING else 1.0
            out.append(_make(typ, sig, a, b, i, sign * float(x[i]), on, p, hz))
    lat = sig.a_lat
    on_lc = p.lane_change_g * G
    regs = hysteresis_regions(np.abs(lat), on_lc, k * on_lc, t, p.min_duration_s, valid)
    for grp in _group(regs, t, valid, p.merge_gap_s):
        a, b = grp[0][0], grp[-1][1]
        if _slow(sig, a, b, p):
            continue
        known = sig.yaw_rate is not None  # gyroscope, or the GPS course
        dpsi = _heading_change_deg(sig.yaw_rate, a, b, hz)
        i = a + int(np.argmax(np.abs(lat[a:b])))
        peak = float(lat[i])
        signs = [float(np.sign(lat[ra + int(np.argmax(np.abs(lat[ra:rb])))])) for ra, rb in grp]
        two_sided = len(set(signs)) > 1
        # Without any yaw rate the heading change is unknown, not zero: it is left out.
        extra = {"heading_change_deg": round(dpsi, 1)} if known else {}
        turned = abs(dpsi) >= p.turn_min_deg
        if two_sided and not turned:
            d = Direction.LEFT if signs[0] > 0 else Direction.RIGHT
            out.append(_make(EventType.AGGRESSIVE_LANE_CHANGE, sig, a, b, i, peak, on_lc, p, hz, d, extra))
        elif abs(peak) >= p.cornering_g * G and (turned or not known):
            # A turn changes the heading by turn_min_deg or more (docs/events.md); a one-sided
            # lateral pulse with less is a curve or a swerve, not harsh cornering. Without a
            # yaw rate a one-sided pulse is taken for a turn (the only way to tell is missing).
            if turned:
                d = Direction.LEFT if dpsi > 0 else Direction.RIGHT
            else:
                d = Direction.LEFT if peak > 0 else Direction.RIGHT
            out.append(_make(EventType.HARSH_CORNERING, sig, a, b, i, peak, p.cornering_g * G, p, hz, d, extra))
    return out


@dataclass(frozen=True, slots=True)
class _Pulse:
    """A longitudinal group in heading-free mode."""

    a: int
    b: int
    i: int
    peak: float
    direction: FloatArray
    strong_first: bool
    """Does the strongest pulse come before the strongest opposite one near it?"""
    opposite: float
    opposite_i: int


def _long_pulse(
    h: FloatArray, mag: FloatArray, a: int, b: int, i: int, lo: int, hi: int, reach: int
) -> _Pulse:
    """The group's axis is its principal horizontal direction; the opposite pulse is the
    strongest opposite projection within ``reach`` samples of the peak."""
    seg = h[lo:hi]
    _, vecs = np.linalg.eigh(seg.T @ seg)
    u = vecs[:, -1] * np.sign(float(h[i] @ vecs[:, -1]) or 1.0)
    w0, w1 = max(0, i - reach), min(h.shape[0], i + reach + 1)
    proj = h[w0:w1] @ u
    jo = w0 + int(np.argmin(proj))
    direction = h[i] / max(float(mag[i]), 1e-9)
    return _Pulse(a, b, i, float(mag[i]), direction, jo > i, float(-proj[jo - w0]), jo)


MIN_AXIS_COS = 0.5
"""A pulse within 60° of the turns' forward axis (either way) is signed by it; one more
across it (the axis is only good to tens of degrees) falls back to the pulse order."""


def _onset_is_braking(sig: MotionSignals, pulse: _Pulse, onset: bool) -> bool | None:
    """By the forward axis: is the push whose ``onset`` (else release) ``pulse`` is a braking?
    None without an axis (none at all, or none in the pulse's stretch between gaps) or when
    the pulse lies across it. A signal that is not high-passed has no release pulse: its
    pulse points the way the push goes."""
    axes = sig.axes
    forward = None if axes is None else axes.forward(pulse.i)
    if axes is None or forward is None:
        return None
    cos = float(pulse.direction @ forward)
    if abs(cos) < MIN_AXIS_COS:
        return None
    return (cos < 0) == (onset or not axes.highpassed)


def _longitudinal_events(
    sig: MotionSignals, pulses: list[_Pulse], p: HarshParams, hz: float
) -> list[Event]:
    """Pair each pulse with an opposite one that follows within ``rebound_s`` (onset and
    release of one push). With the turns' forward axis the onset's sign gives the type;
    without it, the stronger of the two is the abrupt end of the push: first for a braking,
    last for an acceleration. An unpaired pulse is judged within its group."""
    t = sig.t_s
    out: list[Event] = []
    k = 0
    while k < len(pulses):
        first = pulses[k]
        second = pulses[k + 1] if k + 1 < len(pulses) else None
        paired = (
            # Onset and release pulses come from a high-passed signal only; otherwise two
            # opposite pulses are two pushes (accelerating, then braking).
            (sig.axes is None or sig.axes.highpassed)
            and second is not None
            and t[second.a] - t[first.b - 1] <= p.rebound_s
            and float(first.direction @ second.direction) < -0.7
            and sig.valid[first.b : second.a].all()
        )
        if paired and second is not None:
            strong, weak = (first, second) if first.peak >= second.peak else (second, first)
            by_axis = _onset_is_braking(sig, strong, strong is first)
            braking = strong is first if by_axis is None else by_axis
            a, b = first.a, second.b
            k += 2
        else:
            strong, weak = first, None
            by_axis = _onset_is_braking(sig, first, first.strong_first)
            braking = first.strong_first if by_axis is None else by_axis
            a, b = first.a, first.b
            if first.opposite >= 0.3 * first.peak:
                # The opposite pulse was below the detection threshold: still the same push.
                a, b = min(a, first.opposite_i), max(b, first.opposite_i + 1)
            k += 1
        typ = EventType.HARSH_BRAKING if braking else EventType.HARSH_ACCELERATION
        thr = (p.braking_g if braking else p.acceleration_g) * G
        if strong.peak < thr or _slow(sig, a, b, p):
            continue
        opposite = weak.peak if weak is not None else strong.opposite
        extra = {"opposite_pulse_mps2": round(opposite, 3)}
        peak = -strong.peak if braking else strong.peak
        ev = _make(typ, sig, a, b, strong.i, peak, thr, p, hz, None, extra, 0.8)
        typed_by = "pulse order" if by_axis is None else "forward axis from the turns"
        out.append(replace(ev, evidence={**ev.evidence, "typed_by": typed_by}))
    return out


def _lane_change_side(yaw: FloatArray, hz: float) -> Direction:
    """The side a lane change moved the car to, from the yaw rate over the manoeuvre: the sign of
    ∫ψ dt, ψ the heading (integrated yaw rate) less its straight line from the window's start to
    its end. A bend and a gyroscope bias turn the heading steadily (the line takes them out); a
    lane change turns it out and back, and the car moves to the side it turned out to: v∫ψ dt
    is the sideways displacement. Not the first swing past half the turn rate: in a bend of
    4 °/s or more, or with a bias, the yaw rate is past it before the lane change starts."""
    psi = np.cumsum(yaw) / hz
    line = np.linspace(float(psi[0]), float(psi[-1]), psi.size)
    return Direction.LEFT if float((psi - line).sum()) > 0 else Direction.RIGHT


def _heading_free(sig: MotionSignals, p: HarshParams, hz: float) -> list[Event]:
    assert sig.horizontal is not None
    t, valid, h = sig.t_s, sig.valid, sig.horizontal
    mag = np.hypot(h[:, 0], h[:, 1])
    k = 1.0 - p.hysteresis
    on = min(p.braking_g, p.acceleration_g, p.cornering_g, p.lane_change_g) * G
    regs = hysteresis_regions(mag, on, k * on, t, p.min_duration_s, valid)
    yaw = sig.yaw_rate
    out: list[Event] = []
    pad = round(0.5 * hz)
    longs: list[_Pulse] = []
    last_turn: tuple[int, float, Direction] | None = None
    for grp in _group(regs, t, valid, p.merge_gap_s):
        a, b = grp[0][0], grp[-1][1]
        if _slow(sig, a, b, p):
            continue
        i = a + int(np.argmax(mag[a:b]))
        peak = float(mag[i])
        lo, hi = max(0, a - pad), min(len(t), b + pad)
        w_peak = float(np.degrees(np.abs(yaw[lo:hi]).max())) if yaw is not None else 0.0
        if yaw is not None and w_peak >= p.turn_rate_dps:
            # The whole manoeuvre's heading change: a turn keeps turning beyond its strongest
            # pulses, a lane change comes back to its heading.
            wide = round(1.5 * hz)
            dpsi = _heading_change_deg(yaw, max(0, a - wide), min(len(t), b + wide), hz)
            extra = {"heading_change_deg": round(dpsi, 1)}
            if abs(dpsi) >= p.turn_min_deg:
                d = Direction.LEFT if dpsi > 0 else Direction.RIGHT
                if last_turn is not None and last_turn[2] == d and t[a] - last_turn[1] <= p.rebound_s:
                    # The same turn's later (release) pulse: extend that event.
                    prev = out[last_turn[0]]
                    out[last_turn[0]] = replace(prev, end_s=float(t[b - 1]))
                    last_turn = (last_turn[0], float(t[b - 1]), d)
                elif peak >= p.cornering_g * G:
                    out.append(_make(EventType.HARSH_CORNERING, sig, a, b, i, peak, p.cornering_g * G, p, hz, d, extra, 0.9))
                    last_turn = (len(out) - 1, float(t[b - 1]), d)
                continue
            # A lane change steers one way, then the other: the yaw rate must swing both
            # ways (each by half the turn rate). A one-sided tail is a turn's release pulse.
            w = yaw[lo:hi]
            half = np.radians(p.turn_rate_dps) / 2
            if peak >= p.lane_change_g * G and w.max() >= half and w.min() <= -half:
                d = _lane_change_side(w, hz)
                out.append(_make(EventType.AGGRESSIVE_LANE_CHANGE, sig, a, b, i, peak, p.lane_change_g * G, p, hz, d, extra, 0.9))
            continue
        longs.append(_long_pulse(h, mag, a, b, i, lo, hi, round(p.rebound_s * hz)))
    out.extend(_longitudinal_events(sig, longs, p, hz))
    return out


def detect_harsh(sig: MotionSignals, params: HarshParams, hz: float) -> list[Event]:
    """All harsh-driving events in ``sig`` (sampled at ``hz``), sorted by start."""
    events = _heading_free(sig, params, hz) if sig.heading_free else _signed(sig, params, hz)
    return sorted(events, key=lambda e: (e.start_s, e.type.value))


# Weights: Motive's published 0-10 weights (hard brake 4, corner 2, accel 1; docs/scoring.md).
HARSH_SPECS = (
    EventSpec(EventType.HARSH_BRAKING, Family.MOTION, "Harsh braking", "brakes harshly",
              4.0, "Motive hard brake 4", "#dc2626", ("imu",)),
    EventSpec(EventType.HARSH_ACCELERATION, Family.MOTION, "Harsh acceleration", "accelerates harshly",
              1.0, "Motive acceleration 1", "#ea580c", ("imu",)),
    EventSpec(EventType.HARSH_CORNERING, Family.MOTION, "Harsh cornering", "takes corners too fast",
              2.0, "Motive corner 2", "#d97706", ("imu",)),
    EventSpec(EventType.AGGRESSIVE_LANE_CHANGE, Family.MOTION, "Aggressive lane change", "changes lanes abruptly",
              2.0, "as Motive's corner 2 (a lateral manoeuvre)", "#ca8a04", ("imu",)),
)  # fmt: skip
"""The specs of the four types the harsh rule emits."""

RULE = register(MotionRule("harsh", HarshParams, detect_harsh, HARSH_SPECS))
