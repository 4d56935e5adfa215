"""Checks and documented repairs applied to every series a reader returns.

* timestamps out of order: sorted (stable), with a warning;
* repeated timestamps: the first sample of each is kept, the others dropped, with a warning;
* gaps (more than max(5 x the median interval, 0.5 s) between samples): kept, with a warning;
  the engine finds them again and never decides an event across one;
* accelerations that look like g where m/s² is expected: rejected (``units = "g"`` scales);
* stray timestamps (a clock jump): a few samples cut off from the recording by a gap longer than
  the rest of it lasts are impossible, dropped with a warning naming their data rows; a series
  whose samples cover less than a tenth of its span (plus an hour) is refused, so that what a
  run allocates never scales with a timestamp's value;
* a declared duration (``meta.toml`` ``[recording] duration_s``, read inside
  :func:`declared_duration`): samples outside ``0..duration_s`` (give or take
  :func:`duration_tolerance_s`) are dropped with a warning naming their data rows; a series with
  more than half its samples outside is refused (its clock, or the duration, is wrong);
* the series of one recording against each other (:func:`check_clocks`) and against the declared
  duration (:func:`check_declared_duration`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from saferoad.adapters.input_warnings import warn
from saferoad.domain.geodesy import haversine_m
from saferoad.domain.motion.timebase import TimeRepair, find_gaps, repair_order
from saferoad.domain.types import (
    FloatArray,
    G,
    GpsSeries,
    ImuSeries,
    IntArray,
    SpeedSeries,
    TurnSignalSeries,
)

MAX_SPAN_OVER_COVERED = 10.0
"""A series may span at most this many times the time its samples cover (plus an hour)."""
SPAN_ALLOWANCE_S = 3600.0
BoolArray = NDArray[np.bool_]
STRAY_GAP_MIN_S = 60.0
"""A few samples are stray only when cut off by more than a minute (and more than the longest
stretch lasts): a shorter pause and resume is an ordinary gap, kept."""


def _first_rows(rows: IntArray) -> str:
    """The first five of ``rows`` (1-based row numbers) for a warning, `` ...`` when there are more."""
    return ", ".join(str(int(r)) for r in rows[:5]) + (" ..." if rows.size > 5 else "")


def _rows(index: IntArray | None, mask: BoolArray) -> IntArray:
    """1-based data rows (file order) of the samples ``mask`` picks among ``index`` (None: all
    samples, in file order)."""
    return (np.flatnonzero(mask) if index is None else np.sort(index[mask])) + 1


def _select(index: IntArray | None, keep: BoolArray) -> IntArray:
    return np.flatnonzero(keep) if index is None else index[keep]


def drop_stray(t: FloatArray, index: IntArray | None, path: Path, what: str) -> IntArray | None:
    """Drop samples a clock jump put far from the recording; ``index`` selects ``t`` in order
    (None: ``t`` is in order, every sample kept so far; returned when none is dropped).

    The sorted samples split at gaps (:func:`find_gaps`' limit) into stretches. A stretch that
    lasts less than that limit (a handful of samples) and is cut off from the next stretch
    towards the longest one by a gap longer than the longest stretch lasts (and than
    ``STRAY_GAP_MIN_S``) cannot be part of
    the drive: it is dropped with a warning naming its data rows (1-based, in file order). A
    series that still spans more than ``MAX_SPAN_OVER_COVERED`` x the time its stretches cover
    plus ``SPAN_ALLOWANCE_S`` is refused: its clock is not usable and the grids built over it
    would scale with a timestamp's value.
    """
    ts = t if index is None else t[index]
    if ts.size < 3:
        return index
    dt = np.diff(ts)
    limit = max(5.0 * float(np.median(dt)), 0.5)
    cuts = np.flatnonzero(dt > limit)
    if cuts.size == 0:
        return index
    starts = np.concatenate([[0], cuts + 1])
    ends = np.concatenate([cuts, [ts.size - 1]])  # inclusive
    dur = ts[ends] - ts[starts]
    main = int(np.argmax(ends - starts))
    keep = np.ones(ts.size, dtype=bool)
    for k in range(starts.size):
        if k == main or dur[k] >= limit:
            continue
        gap = ts[starts[k + 1]] - ts[ends[k]] if k < main else ts[starts[k]] - ts[ends[k - 1]]
        if gap > max(dur[main], STRAY_GAP_MIN_S):
            keep[starts[k] : ends[k] + 1] = False
    gaps = dt
    if not keep.all():
        rows = _rows(index, ~keep)
        shown = _first_rows(rows)
        warn(
            f"{path}: data row(s) {shown}: field 't_s': {rows.size} {what} sample(s) far outside "
            f"the recording (t_s {float(ts[~keep][0]):g}; a clock jump): dropped"
        )
        index = _select(index, keep)
        ts = ts[keep]
        gaps = np.diff(ts)
    covered = float(np.sum(gaps, where=gaps <= limit))
    span = float(ts[-1] - ts[0])
    if span > MAX_SPAN_OVER_COVERED * covered + SPAN_ALLOWANCE_S:
        raise ValueError(
            f"{path}: field 't_s': the {what} samples cover {covered:.1f} s of a {span:.1f} s span "
            "(the clock jumped); refused"
        )
    return index


DURATION_TOL_S = 2.0
"""How far (s) a sample may lie outside the declared duration: two fix intervals of a 1 Hz GNSS
receiver, whose fix is reported up to a second after its time and may be the file's last line."""
DURATION_TOL_RATE = 1e-3
"""... plus this fraction of the duration (1000 ppm): twenty times the +-50 ppm frequency
tolerance of an ordinary quartz crystal, for a sensor that keeps a clock of its own."""
MAX_OUTSIDE_SHARE = 0.5
"""A series with more than this share of its samples outside the declared duration is refused:
dropping most of a file is not a repair (its clock, or the declared duration, is wrong)."""

DECLARED_DURATION: ContextVar[float | None] = ContextVar("declared_duration_s", default=None)
"""``[recording] duration_s`` of the recording being read (see :func:`declared_duration`)."""


def duration_tolerance_s(duration_s: float) -> float:
    """How far outside ``0..duration_s`` a sample may lie (``DURATION_TOL_S`` + ``DURATION_TOL_RATE``)."""
    return DURATION_TOL_S + DURATION_TOL_RATE * duration_s


@contextmanager
def declared_duration(duration_s: float | None) -> Iterator[None]:
    """The series cleaned inside drop samples outside ``0..duration_s`` (None: no check)."""
    token = DECLARED_DURATION.set(duration_s)
    try:
        yield
    finally:
        DECLARED_DURATION.reset(token)


def drop_outside_declared(t: FloatArray, index: IntArray | None, path: Path, what: str) -> IntArray | None:
    """Drop the samples outside the declared duration (see :func:`declared_duration`), with a
    warning naming their data rows (1-based, in file order); refuse the series when more than
    ``MAX_OUTSIDE_SHARE`` of its samples are outside. ``index`` as for :func:`drop_stray`."""
    duration = DECLARED_DURATION.get()
    ts = t if index is None else t[index]
    if duration is None or ts.size == 0:
        return index
    tol = duration_tolerance_s(duration)
    out = (ts < -tol) | (ts > duration + tol)
    n_out = int(np.count_nonzero(out))
    if n_out == 0:
        return index
    where = f"the declared duration 0..{duration:g} s (meta.toml [recording] duration_s, +-{tol:.1f} s)"
    if n_out > MAX_OUTSIDE_SHARE * ts.size:
        raise ValueError(
            f"{path}: field 't_s': {n_out} of {ts.size} {what} samples (t_s {float(ts.min()):g} to "
            f"{float(ts.max()):g}) lie outside {where}: the clock or the declared duration is wrong "
            "(milliseconds written as seconds?); refused"
        )
    rows = _rows(index, out)
    warn(
        f"{path}: data row(s) {_first_rows(rows)}: field 't_s': {n_out} {what} sample(s) outside "
        f"{where} (t_s {float(t[rows[0] - 1]):g}): dropped"
    )
    return _select(index, ~out)


MAX_PLAUSIBLE_SPEED_MPS = 100.0
"""360 km/h: above any road vehicle a fleet runs; a fix further than this speed (plus
``GPS_NOISE_M``) allows from the fix kept before it is a position jump."""
GPS_NOISE_M = 50.0


def plausible_track(g: GpsSeries, path: Path) -> GpsSeries:
    """``g`` without the fixes :func:`drop_position_jumps` finds (a recording-level check:
    the format parsers return what the file says)."""
    idx = drop_position_jumps(g, np.arange(len(g), dtype=np.int64), path)
    if idx.size == len(g):
        return g
    return GpsSeries(
        g.t_s[idx], g.lat[idx], g.lon[idx], g.speed_mps[idx], g.course_deg[idx], g.alt_m[idx]
    )


def drop_position_jumps(g: GpsSeries, index: IntArray, path: Path) -> IntArray:
    """Drop fixes no vehicle could have reached (a fix thousands of km away), with a warning.

    Starting from the fix nearest the median position, walk forwards and backwards keeping a
    fix only when the distance from the last kept one is within ``MAX_PLAUSIBLE_SPEED_MPS`` x
    the time between them plus ``GPS_NOISE_M``.
    """
    lat, lon, t = g.lat[index], g.lon[index], g.t_s[index]
    if lat.size < 2:
        return index
    step = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    if (step <= MAX_PLAUSIBLE_SPEED_MPS * np.diff(t) + GPS_NOISE_M).all():
        return index
    anchor = int(np.argmin(np.abs(lat - np.median(lat)) + np.abs(lon - np.median(lon))))
    keep = np.zeros(lat.size, dtype=bool)
    keep[anchor] = True
    for order in (range(anchor + 1, lat.size), range(anchor - 1, -1, -1)):
        last = anchor
        for i in order:
            d = float(haversine_m(lat[last : last + 1], lon[last : last + 1], lat[i : i + 1], lon[i : i + 1])[0])
            if d <= MAX_PLAUSIBLE_SPEED_MPS * abs(t[i] - t[last]) + GPS_NOISE_M:
                keep[i] = True
                last = i
    fixes = np.sort(index[~keep]) + 1
    shown = _first_rows(fixes)
    warn(
        f"{path}: fix(es) {shown}: fields 'lat','lon': {fixes.size} position(s) no vehicle could "
        f"reach (over {MAX_PLAUSIBLE_SPEED_MPS:g} m/s from the fixes around): dropped"
    )
    return index[keep]


def _repair(t: FloatArray, path: Path, what: str) -> IntArray | None:
    """The samples of ``t`` to keep, in time order, as indices into ``t``; None when that is
    every sample as it is (in order, none repeated or dropped: the usual file, then checked
    without index arrays or copies as long as the series)."""
    in_order = t.size < 2 or bool(np.all(t[1:] > t[:-1]))
    rep = TimeRepair(np.empty(0, dtype=np.int64), 0, 0) if in_order else repair_order(t)
    kept = drop_outside_declared(t, None if in_order else rep.index, path, what)
    kept = drop_stray(t, kept, path, what)
    n_back = rep.n_out_of_order
    if kept is not None and kept.size != rep.index.size and n_back:  # count again without the dropped samples
        n_back = int(np.count_nonzero(np.diff(t[np.sort(kept)]) < 0))
    if n_back:
        warn(f"{path}: {n_back} {what} timestamp(s) out of order: sorted by t_s")
    if rep.n_duplicates:
        warn(f"{path}: {rep.n_duplicates} repeated {what} timestamp(s): kept the first of each")
    gaps = find_gaps(t if kept is None else t[kept])
    if gaps:
        longest = max(b - a for a, b in gaps)
        warn(
            f"{path}: {len(gaps)} gap(s) in the {what} samples (longest {longest:.2f} s from "
            f"t={gaps[0][0]:.3f} s): events are not decided across them"
        )
    return kept


def check_imu_units(imu: ImuSeries, path: Path) -> None:
    """Reject accelerations whose resting magnitude says g rather than m/s²."""
    if imu.gravity_removed or len(imu) == 0:
        return
    sample = imu.acc[:: max(1, len(imu) // 20_000)]  # a median needs no more
    norm = float(np.median(np.sqrt(np.einsum("ij,ij->i", sample, sample))))
    if 0.5 <= norm <= 2.0:
        raise ValueError(
            f"{path}: fields 'ax','ay','az': median acceleration magnitude is {norm:.3f}, "
            f"which looks like g, not m/s² (expected about {G:.2f}); convert the file or set "
            '[imu] units = "g" in meta.toml'
        )
    if not 6.0 <= norm <= 14.0:
        raise ValueError(
            f"{path}: fields 'ax','ay','az': median acceleration magnitude {norm:.3f} m/s² is "
            f"not near gravity ({G:.2f}); is gravity included and are the units m/s²?"
        )


def clean_imu(imu: ImuSeries, path: Path) -> ImuSeries:
    if len(imu) < 2:
        raise ValueError(f"{path}: only {len(imu)} IMU sample(s); need at least 2")
    idx = _repair(imu.t_s, path, "IMU")
    if idx is None:
        return imu
    return ImuSeries(
        imu.t_s[idx],
        imu.acc[idx],
        None if imu.gyro is None else imu.gyro[idx],
        frame=imu.frame,
        gravity_removed=imu.gravity_removed,
        horizontal_highpass_tau_s=imu.horizontal_highpass_tau_s,
    )


def clean_speed(s: SpeedSeries, path: Path) -> SpeedSeries:
    idx = _repair(s.t_s, path, "speed")
    if idx is None:
        return s
    return SpeedSeries(s.t_s[idx], s.speed_mps[idx], s.source)


def clean_can(s: SpeedSeries, turn: FloatArray | None, path: Path) -> tuple[SpeedSeries, TurnSignalSeries | None]:
    """``can.csv``'s speed and optional turn signal, repaired together (same rows kept)."""
    idx = _repair(s.t_s, path, "speed")
    if idx is not None:
        s = SpeedSeries(s.t_s[idx], s.speed_mps[idx], s.source)
        turn = None if turn is None else turn[idx]
    return s, None if turn is None else TurnSignalSeries(s.t_s, turn)


def clean_gps(g: GpsSeries, path: Path) -> GpsSeries:
    if len(g) == 0:
        raise ValueError(f"{path}: no GPS fixes")
    bad_lat = np.flatnonzero(np.abs(g.lat) > 90)
    bad_lon = np.flatnonzero(np.abs(g.lon) > 180)
    if bad_lat.size:
        raise ValueError(f"{path}: fix {bad_lat[0] + 1}: field 'lat': {g.lat[bad_lat[0]]} outside ±90")
    if bad_lon.size:
        raise ValueError(f"{path}: fix {bad_lon[0] + 1}: field 'lon': {g.lon[bad_lon[0]]} outside ±180")
    idx = _repair(g.t_s, path, "GPS")
    if idx is None:
        return g
    return GpsSeries(
        g.t_s[idx], g.lat[idx], g.lon[idx], g.speed_mps[idx], g.course_deg[idx], g.alt_m[idx]
    )


CAN_GPS_RATIO = 2.0
"""CAN and GPS distance over the same time may differ by at most this factor: a unit mistake
(km/h read as m/s is 3.6x, mph 2.24x) is beyond it, tyre wear and GPS noise well within."""
CAN_GPS_MIN_M = 200.0
"""Below this GPS distance, position noise makes the comparison meaningless."""


def check_clocks(series: dict[Path, FloatArray]) -> None:
    """Refuse files whose clocks cannot describe the same drive: spans that never overlap, or
    one whose span is over ``MAX_SPAN_OVER_COVERED`` x the others' together plus
    ``SPAN_ALLOWANCE_S``, reaches beyond them and whose samples are sparser than each other
    file's (timestamps in other units: ms make a series 1000x longer and 1000x sparser; a GPS
    that stopped early leaves the denser IMU longer, not sparser - kept, its gap reported)."""
    items = [(p, float(t[0]), float(t[-1])) for p, t in series.items() if t.size]
    rate = {p: (t.size - 1) / span if (span := float(t[-1] - t[0])) > 0 else np.inf for p, t in series.items() if t.size}
    for i, (pa_, a0, a1) in enumerate(items):
        for pb, b0, b1 in items[i + 1 :]:
            if max(a0, b0) > min(a1, b1):
                raise ValueError(
                    f"{pb}: field 't_s': samples from {b0:.3f} to {b1:.3f} s never overlap {pa_.name}'s "
                    f"({a0:.3f} to {a1:.3f} s): the clocks disagree"
                )
    for p, a0, a1 in items:
        others = [(q, b0, b1) for q, b0, b1 in items if q != p]
        if not others:
            continue
        u0, u1 = min(b0 for _, b0, _ in others), max(b1 for _, _, b1 in others)
        beyond = a0 < u0 or a1 > u1
        sparser = all(rate[p] < rate[q] for q, _, _ in others)
        if beyond and sparser and a1 - a0 > MAX_SPAN_OVER_COVERED * (u1 - u0) + SPAN_ALLOWANCE_S:
            names = ", ".join(q.name for q, _, _ in others)
            raise ValueError(
                f"{p}: field 't_s': samples from {a0:.3f} to {a1:.3f} s span over "
                f"{MAX_SPAN_OVER_COVERED:g}x the {u0:.3f} to {u1:.3f} s of {names} (plus "
                f"{SPAN_ALLOWANCE_S:g} s): the clocks disagree (timestamps not in seconds?)"
            )


def check_video_clock(
    video: Path, span: tuple[float, float], series: dict[Path, FloatArray], duration_s: float | None
) -> None:
    """The road video's time span (its frames' times plus ``[camera] time_offset_s``) against
    the sensors and the declared duration: a warning where it never overlaps the sensors or
    reaches past the declared duration by more than the tolerance. Never refused: the camera's
    offset may be corrected in the config (``road_events.clock_offsets_s``), and the sensors'
    events stand without the video."""
    v0, v1 = span
    items = [(float(t[0]), float(t[-1])) for t in series.values() if t.size]
    where = f"{video}: frames at t_s {v0:.3f} to {v1:.3f} s (pts + [camera] time_offset_s)"
    if items:
        s0, s1 = min(a for a, _ in items), max(b for _, b in items)
        if max(v0, s0) > min(v1, s1):
            warn(
                f"{where} never overlap the sensors' {s0:.3f} to {s1:.3f} s: no camera event can be "
                "placed on the drive (is [camera] time_offset_s right?)"
            )
            return
    if duration_s is not None:
        tol = duration_tolerance_s(duration_s)
        if v0 < -tol or v1 > duration_s + tol:
            warn(
                f"{where} reach outside the declared duration 0..{duration_s:g} s (meta.toml "
                f"[recording] duration_s, +-{tol:.1f} s): the camera's clock or time_offset_s is off?"
            )


def check_declared_duration(series: dict[Path, FloatArray], duration_s: float, meta: Path) -> None:
    """The declared duration against what the series (already cut to it) cover: refused when
    they all end before a ``MAX_SPAN_OVER_COVERED``-th of it (the duration is in other units,
    or belongs to another drive); a warning when they end more than the tolerance before it."""
    ends = {p: float(t[-1]) for p, t in series.items() if t.size}
    if not ends:
        return
    last = max(ends.values())
    tol = duration_tolerance_s(duration_s)
    names = ", ".join(p.name for p in ends)
    if duration_s > MAX_SPAN_OVER_COVERED * max(last, 0.0) + tol:
        raise ValueError(
            f"{meta}: [recording] duration_s: {duration_s:g} s, but the samples of {names} end at "
            f"{last:.3f} s (under a {MAX_SPAN_OVER_COVERED:g}th of it): the declared duration does "
            "not describe these files (not in seconds?)"
        )
    if last < duration_s - tol:
        warn(
            f"{meta}: [recording] duration_s: {duration_s:g} s, but the samples of {names} end at "
            f"{last:.3f} s: the last {duration_s - last:.1f} s of the drive have no sensor data"
        )


def cross_check_can(can: SpeedSeries, gps: GpsSeries, can_path: Path, gps_path: Path) -> SpeedSeries | None:
    """CAN speed integrated over the time both cover, against the GPS track's length.

    When they differ by more than ``CAN_GPS_RATIO`` (and the GPS track is at least
    ``CAN_GPS_MIN_M`` long), CAN speed is not used (``None``), with a warning: speed and
    distance then come from GPS.
    """
    t0, t1 = max(can.t_s[0], gps.t_s[0]), min(can.t_s[-1], gps.t_s[-1])
    g = (gps.t_s >= t0) & (gps.t_s <= t1)
    c = (can.t_s >= t0) & (can.t_s <= t1)
    if np.count_nonzero(g) < 2 or np.count_nonzero(c) < 2:
        return can
    gps_m = float(np.sum(haversine_m(gps.lat[g][:-1], gps.lon[g][:-1], gps.lat[g][1:], gps.lon[g][1:])))
    ts, vs = can.t_s[c], can.speed_mps[c]
    can_m = float(np.sum(0.5 * (vs[1:] + vs[:-1]) * np.diff(ts)))
    if gps_m < CAN_GPS_MIN_M or can_m * CAN_GPS_RATIO >= gps_m >= can_m / CAN_GPS_RATIO:
        return can
    warn(
        f"{can_path}: field 'speed_mps': {can_m / 1000:.3f} km over t={t0:.1f}..{t1:.1f} s where "
        f"{gps_path.name} travels {gps_m / 1000:.3f} km (units?): CAN speed not used, speed from GPS"
    )
    return None
