"""Checks and documented repairs applied to every series a reader returns.

* timestamps out of order: sorted (stable), with a warning;
* repeated timestamps: the first sample of each is kept, the others dropped, with a warning;
* gaps (more than max(5 x the median interval, 0.5 s) between samples): kept, with a warning;
  the engine finds them again and never decides an event across one;
* accelerations that look like g where m/s² is expected: rejected (``units = "g"`` scales);
* stray timestamps (a clock jump): a few samples cut off from the recording by a gap longer than
  the rest of it lasts are impossible, dropped with a warning naming their data rows; a series
  whose samples cover less than a tenth of its span (plus an hour) is refused, so that what a
  run allocates never scales with a timestamp's value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from saferoad.adapters.recording._csv import warn
from saferoad.domain.ego_speed import haversine_m
from saferoad.domain.motion.timebase import TimeRepair, find_gaps, repair_order
from saferoad.domain.types import FloatArray, G, GpsSeries, ImuSeries, IntArray, SpeedSeries

MAX_SPAN_OVER_COVERED = 10.0
"""A series may span at most this many times the time its samples cover (plus an hour)."""
SPAN_ALLOWANCE_S = 3600.0
STRAY_GAP_MIN_S = 60.0
"""A few samples are stray only when cut off by more than a minute (and more than the longest
stretch lasts): a shorter pause and resume is an ordinary gap, kept."""


def _first_rows(rows: IntArray) -> str:
    """The first five of ``rows`` (1-based row numbers) for a warning, `` ...`` when there are more."""
    return ", ".join(str(int(r)) for r in rows[:5]) + (" ..." if rows.size > 5 else "")


def drop_stray(t: FloatArray, index: IntArray, path: Path, what: str) -> IntArray:
    """Drop samples a clock jump put far from the recording; ``index`` selects ``t`` in order.

    The sorted samples split at gaps (:func:`find_gaps`' limit) into stretches. A stretch that
    lasts less than that limit (a handful of samples) and is cut off from the next stretch
    towards the longest one by a gap longer than the longest stretch lasts (and than
    ``STRAY_GAP_MIN_S``) cannot be part of
    the drive: it is dropped with a warning naming its data rows (1-based, in file order). A
    series that still spans more than ``MAX_SPAN_OVER_COVERED`` x the time its stretches cover
    plus ``SPAN_ALLOWANCE_S`` is refused: its clock is not usable and the grids built over it
    would scale with a timestamp's value.
    """
    ts = t[index]
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
    if not keep.all():
        rows = np.sort(index[~keep]) + 1
        shown = _first_rows(rows)
        warn(
            f"{path}: data row(s) {shown}: field 't_s': {rows.size} {what} sample(s) far outside "
            f"the recording (t_s {float(t[index[~keep]][0]):g}; a clock jump): dropped"
        )
        index = index[keep]
        ts = ts[keep]
    gaps = np.diff(ts)
    covered = float(np.sum(gaps[gaps <= limit]))
    span = float(ts[-1] - ts[0])
    if span > MAX_SPAN_OVER_COVERED * covered + SPAN_ALLOWANCE_S:
        raise ValueError(
            f"{path}: field 't_s': the {what} samples cover {covered:.1f} s of a {span:.1f} s span "
            "(the clock jumped); refused"
        )
    return index


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


def _repair(t: FloatArray, path: Path, what: str) -> TimeRepair:
    rep = repair_order(t)
    kept = drop_stray(t, rep.index, path, what)
    n_back = rep.n_out_of_order
    if kept.size != rep.index.size and n_back:  # count again without the dropped samples
        n_back = int(np.count_nonzero(np.diff(t[np.sort(kept)]) < 0))
    rep = TimeRepair(kept, n_back, rep.n_duplicates)
    if rep.n_out_of_order:
        warn(f"{path}: {rep.n_out_of_order} {what} timestamp(s) out of order: sorted by t_s")
    if rep.n_duplicates:
        warn(f"{path}: {rep.n_duplicates} repeated {what} timestamp(s): kept the first of each")
    gaps = find_gaps(t[rep.index])
    if gaps:
        longest = max(b - a for a, b in gaps)
        warn(
            f"{path}: {len(gaps)} gap(s) in the {what} samples (longest {longest:.2f} s from "
            f"t={gaps[0][0]:.3f} s): events are not decided across them"
        )
    return rep


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
    rep = _repair(imu.t_s, path, "IMU")
    if not rep.changed and rep.index.size == len(imu):
        return imu
    idx = rep.index
    return ImuSeries(
        imu.t_s[idx],
        imu.acc[idx],
        None if imu.gyro is None else imu.gyro[idx],
        frame=imu.frame,
        gravity_removed=imu.gravity_removed,
        horizontal_highpass_tau_s=imu.horizontal_highpass_tau_s,
    )


def clean_speed(s: SpeedSeries, path: Path) -> SpeedSeries:
    idx = _repair(s.t_s, path, "speed").index
    return SpeedSeries(s.t_s[idx], s.speed_mps[idx], s.source)


def clean_gps(g: GpsSeries, path: Path) -> GpsSeries:
    if len(g) == 0:
        raise ValueError(f"{path}: no GPS fixes")
    bad_lat = np.flatnonzero(np.abs(g.lat) > 90)
    bad_lon = np.flatnonzero(np.abs(g.lon) > 180)
    if bad_lat.size:
        raise ValueError(f"{path}: fix {bad_lat[0] + 1}: field 'lat': {g.lat[bad_lat[0]]} outside ±90")
    if bad_lon.size:
        raise ValueError(f"{path}: fix {bad_lon[0] + 1}: field 'lon': {g.lon[bad_lon[0]]} outside ±180")
    idx = _repair(g.t_s, path, "GPS").index
    return GpsSeries(
        g.t_s[idx], g.lat[idx], g.lon[idx], g.speed_mps[idx], g.course_deg[idx], g.alt_m[idx]
    )


CAN_GPS_RATIO = 2.0
"""CAN and GPS distance over the same time may differ by at most this factor: a unit mistake
(km/h read as m/s is 3.6x, mph 2.24x) is beyond it, tyre wear and GPS noise well within."""
CAN_GPS_MIN_M = 200.0
"""Below this GPS distance, position noise makes the comparison meaningless."""


def check_clocks(series: dict[Path, FloatArray]) -> None:
    """Refuse files whose clocks never overlap: they cannot describe the same drive."""
    items = [(p, float(t[0]), float(t[-1])) for p, t in series.items() if t.size]
    for i, (pa_, a0, a1) in enumerate(items):
        for pb, b0, b1 in items[i + 1 :]:
            if max(a0, b0) > min(a1, b1):
                raise ValueError(
                    f"{pb}: field 't_s': samples from {b0:.3f} to {b1:.3f} s never overlap {pa_.name}'s "
                    f"({a0:.3f} to {a1:.3f} s): the clocks disagree"
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
