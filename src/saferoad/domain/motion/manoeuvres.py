"""Graded manoeuvres: every braking, acceleration, turn and lane change, measured and put in a
band, not only the harsh ones.

Insurers' and fleet vendors' telematics grade manoeuvres instead of counting one high
threshold (docs/events.md, "Graded manoeuvres"): Verizon Connect calls a braking from 40 mph
that loses 5 / 7 / 9 mph in one second a normal / moderate / severe hard braking (0.23 /
0.32 / 0.41 g), Progressive's Snapshot counts a hard brake at 7 mph/s (0.32 g) and a very hard
one at 12 mph/s (0.55 g), and the fleet vendors flag a harsh event at 0.35–0.45 g. saferoad's
bands, in ascending order:

* ``moderate`` from ``moderate_g`` (0.23 g: Verizon's 5 mph/s),
* ``hard`` from ``hard_g`` (0.32 g: Verizon's moderate and Progressive's hard brake, 7 mph/s),
* ``harsh``: the manoeuvre also emits a harsh-driving event, at the event's threshold
  (``HarshParams``: 0.38 g braking, GPS Insight), exactly as without grading.

GPS Insight uses the same level for acceleration, braking and turning, so acceleration and
cornering share braking's lower edges; an aggressive lane change is flagged at 0.3 g for each
half, and its lower edges keep the braking bands' ratios to the harsh threshold (0.18, 0.25 g).

Manoeuvres are found by the same rules as the events (``harsh.detect_harsh``) run with every
threshold at its kind's moderate edge, on the same resampled, low-passed signal: the grouping,
the turn / lane-change split by heading change and the heading-free typing are the events'
own. A manoeuvre that overlaps a harsh event of its kind *is* that event (band ``harsh``); any
other is graded by its peak, at most ``hard``. The peak is read from the signal low-passed at
2 Hz with linear interpolation to the engine's grid: for a manoeuvre of half-height width
≥ 0.5 s that moves it by less than 0.02 g at band edges at any source rate from 10 to 200 Hz
(``tests/motion/test_manoeuvres.py``, a property test).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np

# re-exported: the kinds and bands live apart so scoring and config need not import the rules
from saferoad.domain.motion.bands import BANDS as BANDS
from saferoad.domain.motion.bands import KIND_OF_EVENT as KIND_OF_EVENT
from saferoad.domain.motion.bands import KINDS as KINDS
from saferoad.domain.motion.bands import Band as Band
from saferoad.domain.motion.bands import Kind as Kind
from saferoad.domain.motion.harsh import HarshParams, MotionSignals, detect_harsh

# re-exported: the bands' edges are declared with the engine's other params (config reads them)
from saferoad.domain.motion.params import BandEdges as BandEdges
from saferoad.domain.motion.params import ManoeuvreBands as ManoeuvreBands
from saferoad.domain.motion.params import harsh_threshold_g as harsh_threshold_g
from saferoad.domain.types import Direction, Event, G


@dataclass(frozen=True, slots=True)
class Manoeuvre:
    """One measured manoeuvre. ``peak_g`` is the size (positive; braking decelerates),
    ``jerk_g_per_s`` the steepest change of the (low-passed) acceleration from 0.5 s before its
    start to its end, ``speed_onset_mps`` the
    speed at its start (None without speed), ``heading_change_deg`` for turns and lane changes."""

    kind: Kind
    band: Band
    start_s: float
    end_s: float
    peak_g: float
    jerk_g_per_s: float
    speed_onset_mps: float | None
    heading_change_deg: float | None = None
    direction: Direction | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "band": self.band.value,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "duration_s": round(self.duration_s, 3),
            "peak_g": round(self.peak_g, 3),
            "jerk_g_per_s": round(self.jerk_g_per_s, 3),
            "speed_onset_mps": None if self.speed_onset_mps is None else round(self.speed_onset_mps, 2),
            "heading_change_deg": None if self.heading_change_deg is None else round(self.heading_change_deg, 1),
            "direction": None if self.direction is None else self.direction.value,
        }


@dataclass(frozen=True, slots=True)
class ManoeuvreCounts:
    """Per kind, per band: how many manoeuvres of a trip. ``to_dict()`` is ``summary.json`` →
    ``manoeuvres``: every kind and every band present, bands in ascending order."""

    counts: tuple[tuple[int, int, int], ...] = ((0, 0, 0),) * len(KINDS)

    @classmethod
    def of(cls, manoeuvres: Iterable[Manoeuvre]) -> ManoeuvreCounts:
        grid = np.zeros((len(KINDS), len(BANDS)), dtype=np.int64)
        for m in manoeuvres:
            grid[KINDS.index(m.kind), BANDS.index(m.band)] += 1
        return cls(tuple((int(r[0]), int(r[1]), int(r[2])) for r in grid))

    def get(self, kind: Kind | str, band: Band | str) -> int:
        return self.counts[KINDS.index(Kind(kind))][BANDS.index(Band(band))]

    def total(self, band: Band | str) -> int:
        return sum(row[BANDS.index(Band(band))] for row in self.counts)

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {
            kind.value: {band.value: self.counts[k][b] for b, band in enumerate(BANDS)}
            for k, kind in enumerate(KINDS)
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, int]]) -> ManoeuvreCounts:
        """The inverse of :meth:`to_dict`; a missing kind or band counts 0, a negative or
        non-integer count or an unknown name is a ValueError."""
        rows = []
        for kind in KINDS:
            per = data.get(kind.value, {})
            row = []
            for band in BANDS:
                n = per.get(band.value, 0)
                if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                    raise ValueError(f"manoeuvres.{kind.value}.{band.value}: must be a count >= 0, got {n!r}")
                row.append(n)
            unknown = set(per) - {b.value for b in BANDS}
            if unknown:
                raise ValueError(f"manoeuvres.{kind.value}: unknown band(s) {sorted(unknown)}")
            rows.append((row[0], row[1], row[2]))
        unknown_kinds = set(data) - {k.value for k in KINDS}
        if unknown_kinds:
            raise ValueError(f"manoeuvres: unknown kind(s) {sorted(unknown_kinds)}")
        return cls(tuple(rows))


def _lowered(p: HarshParams, bands: ManoeuvreBands) -> HarshParams:
    return replace(
        p,
        braking_g=bands.braking_moderate_g,
        acceleration_g=bands.acceleration_moderate_g,
        cornering_g=bands.cornering_moderate_g,
        lane_change_g=bands.lane_change_moderate_g,
    )


def _jerk_g_per_s(sig: MotionSignals, kind: Kind, a: int, b: int, hz: float) -> float:
    if sig.a_long is not None and sig.a_lat is not None:
        x = sig.a_long if kind in (Kind.BRAKING, Kind.ACCELERATION) else sig.a_lat
    else:
        assert sig.horizontal is not None
        x = np.hypot(sig.horizontal[:, 0], sig.horizontal[:, 1])
    seg = x[max(0, a - round(0.5 * hz)) : b + 1]  # with the onset before the threshold crossing
    if seg.size < 2:
        return 0.0
    return float(np.abs(np.diff(seg)).max() * hz / G)


def _measure(sig: MotionSignals, ev: Event, kind: Kind, band: Band, hz: float) -> Manoeuvre:
    t = sig.t_s
    a = int(np.searchsorted(t, ev.start_s - 1e-9))
    b = int(np.searchsorted(t, ev.end_s + 1e-9))
    speed = None
    if sig.speed is not None and a < t.size and np.isfinite(sig.speed[a]):
        speed = float(sig.speed[a])
    heading = ev.peak.get("heading_change_deg")
    return Manoeuvre(
        kind=kind,
        band=band,
        start_s=ev.start_s,
        end_s=ev.end_s,
        peak_g=abs(float(ev.peak.get("accel_mps2", 0.0))) / G,
        jerk_g_per_s=_jerk_g_per_s(sig, kind, a, b, hz),
        speed_onset_mps=speed,
        heading_change_deg=None if heading is None else float(heading),
        direction=ev.direction,
    )


def _overlaps(x: Event, y: Event) -> bool:
    return x.start_s <= y.end_s and y.start_s <= x.end_s


def grade_manoeuvres(
    sig: MotionSignals,
    harsh: HarshParams,
    bands: ManoeuvreBands,
    hz: float,
    events: Iterable[Event],
) -> list[Manoeuvre]:
    """Every manoeuvre of ``sig`` at or above its kind's moderate edge, sorted by start.
    ``events`` are the harsh-driving events the rules found on ``sig`` with ``harsh``: each is
    one ``harsh`` manoeuvre; the lower bands come from the same rules at the moderate edges.
    An edge at or above its kind's harsh threshold leaves that band empty (the configuration
    refuses such bands; a caller's own ``HarshParams`` may lower a threshold below them)."""
    harsh_events = [e for e in events if e.type in KIND_OF_EVENT]
    out = [_measure(sig, e, KIND_OF_EVENT[e.type], Band.HARSH, hz) for e in harsh_events]
    for cand in detect_harsh(sig, _lowered(harsh, bands), hz):
        kind = KIND_OF_EVENT[cand.type]
        if any(e.type == cand.type and _overlaps(e, cand) for e in harsh_events):
            continue  # that harsh event, seen from lower down
        edges = bands.of(kind)
        peak_g = abs(float(cand.peak.get("accel_mps2", 0.0))) / G
        if peak_g < edges.moderate_g or edges.moderate_g >= harsh_threshold_g(kind, harsh):
            continue
        band = Band.HARD if edges.hard_g <= peak_g and edges.hard_g < harsh_threshold_g(kind, harsh) else Band.MODERATE
        out.append(_measure(sig, cand, kind, band, hz))
    return sorted(out, key=lambda m: (m.start_s, m.kind.value))
