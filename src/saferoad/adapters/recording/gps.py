"""GPS readers: NMEA 0183 (pynmea2), GPX 1.1 (gpxpy) and saferoad's ``gps.csv``.

Every reader returns seconds from the recording's time zero (``start_utc``); a GPS file whose
fixes carry UTC times but no ``start_utc`` is given takes its first fix as time zero.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import gpxpy
import gpxpy.gpx
import numpy as np
import pynmea2

from saferoad.adapters.recording._csv import read_numeric_csv
from saferoad.adapters.recording.series import clean_gps
from saferoad.domain.types import GpsSeries

KNOT_MPS = 1852.0 / 3600.0
_NAN = float("nan")


def read_gps_csv(path: Path) -> GpsSeries:
    """``t_s,lat,lon[,speed_mps,course_deg,alt_m]``; the last three may be empty."""
    c = read_numeric_csv(path, ["t_s", "lat", "lon"], ["speed_mps", "course_deg", "alt_m"])
    # As can.csv: a negative speed or a course off the compass is a broken writer, not noise
    # (empty fields, NaN, stay allowed: no speed / course in that fix).
    for key, hi, what in (("speed_mps", np.inf, "negative speed"), ("course_deg", 360.0, "course outside 0-360 degrees")):
        if key in c:
            v = np.nan_to_num(c[key], nan=0.0, posinf=np.inf)
            bad = np.flatnonzero((v < 0) | (v > hi))
            if bad.size:
                i = int(bad[0])
                raise ValueError(f"{path}: data row {i + 1}: field '{key}': {what} ({c[key][i]:g})")
    n = c["t_s"].size
    nan = np.full(n, np.nan)
    return clean_gps(
        GpsSeries(
            c["t_s"],
            c["lat"],
            c["lon"],
            c.get("speed_mps", nan),
            c.get("course_deg", nan),
            c.get("alt_m", nan),
        ),
        path,
    )


def _series(rows: dict[datetime, dict[str, float]], start_utc: datetime | None, path: Path) -> GpsSeries:
    times = sorted(t for t, r in rows.items() if "lat" in r)
    if not times:
        raise ValueError(f"{path}: no valid position fixes")
    t0 = start_utc or times[0]
    if t0.tzinfo is None:
        t0 = t0.replace(tzinfo=UTC)

    def col(k: str) -> np.ndarray:
        return np.array([rows[t].get(k, _NAN) for t in times], dtype=np.float64)

    t_s = np.array([(t - t0).total_seconds() for t in times], dtype=np.float64)
    return clean_gps(
        GpsSeries(t_s, col("lat"), col("lon"), col("speed"), col("course"), col("alt")), path
    )


def _f(v: object) -> float:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _NAN
    return x if math.isfinite(x) else _NAN


def read_nmea(path: Path, start_utc: datetime | None = None) -> GpsSeries:
    """RMC (position, speed, course, date), GGA (position, altitude), VTG (speed, course, for
    the fix before it). Other sentences are ignored; invalid fixes (RMC status V, GGA quality
    0) are skipped. A bad checksum or an unparsable sentence names the line."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    text = path.read_text(encoding="ascii", errors="replace")
    if not text.strip():
        raise ValueError(f"{path}: empty file")
    rows: dict[datetime, dict[str, float]] = {}
    day = start_utc.date() if start_utc else None
    last: datetime | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if not line.startswith(("$", "!")):
            raise ValueError(f"{path}:{lineno}: not an NMEA 0183 sentence: {line[:40]!r}")
        try:
            msg = pynmea2.parse(line, check=True)
        except pynmea2.ParseError as err:
            detail = err.args[0][0] if err.args and isinstance(err.args[0], tuple) else err
            raise ValueError(f"{path}:{lineno}: bad NMEA sentence: {detail}") from None
        except (ValueError, AttributeError) as err:
            raise ValueError(f"{path}:{lineno}: bad NMEA sentence: {err}") from None
        try:
            if isinstance(msg, pynmea2.types.talker.RMC):
                if msg.datestamp is not None:
                    day = msg.datestamp
                if msg.status != "A" or msg.timestamp is None or day is None:
                    continue
                t = datetime.combine(day, msg.timestamp).replace(tzinfo=UTC)
                r = rows.setdefault(t, {})
                r.update(lat=msg.latitude, lon=msg.longitude)
                r["speed"] = _f(msg.spd_over_grnd) * KNOT_MPS
                r["course"] = _f(msg.true_course)
                last = t
            elif isinstance(msg, pynmea2.types.talker.GGA):
                if msg.timestamp is None or _f(msg.gps_qual) == 0 or not msg.lat:
                    continue
                if day is None:
                    raise ValueError(
                        f"{path}:{lineno}: GGA before any RMC date and no start_utc given"
                    )
                t = datetime.combine(day, msg.timestamp).replace(tzinfo=UTC)
                r = rows.setdefault(t, {})
                r.setdefault("lat", msg.latitude)
                r.setdefault("lon", msg.longitude)
                r["alt"] = _f(msg.altitude)
                last = t
            elif isinstance(msg, pynmea2.types.talker.VTG) and last is not None:
                kmph = _f(msg.spd_over_grnd_kmph)
                if math.isnan(kmph):
                    kmph = _f(msg.spd_over_grnd_kts) * KNOT_MPS * 3.6
                r = rows[last]
                if math.isnan(r.get("speed", _NAN)):
                    r["speed"] = kmph / 3.6
                if math.isnan(r.get("course", _NAN)):
                    r["course"] = _f(msg.true_track)
        except (ValueError, TypeError, AttributeError) as err:
            if str(err).startswith(str(path)):
                raise
            raise ValueError(f"{path}:{lineno}: bad field in {msg.sentence_type}: {err}") from None
    return _series(rows, start_utc, path)


def read_gpx(path: Path, start_utc: datetime | None = None) -> GpsSeries:
    """GPX 1.1 track points (every track and segment, in time order). Speed comes from a
    ``<speed>`` element or extension where present; otherwise it is left NaN and the ego-speed
    estimator differentiates positions."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise ValueError(f"{path}: empty file")
    try:
        gpx = gpxpy.parse(text)
    except gpxpy.gpx.GPXException as err:
        raise ValueError(f"{path}: not valid GPX: {err}") from None
    rows: dict[datetime, dict[str, float]] = {}
    n = 0
    for track in gpx.tracks:
        for seg in track.segments:
            for p in seg.points:
                n += 1
                if p.time is None:
                    raise ValueError(f"{path}: track point {n}: field 'time': missing")
                t = p.time if p.time.tzinfo else p.time.replace(tzinfo=UTC)
                speed = _f(p.speed)
                for ext in p.extensions:
                    for el in ext.iter():
                        if el.tag.rsplit("}", 1)[-1] == "speed" and el.text:
                            speed = _f(el.text)
                rows[t] = {
                    "lat": p.latitude,
                    "lon": p.longitude,
                    "alt": _f(p.elevation),
                    "speed": speed,
                    "course": _f(getattr(p, "course", None)),
                }
    if not rows:
        raise ValueError(f"{path}: no track points")
    return _series(rows, start_utc, path)


def read_gps_file(path: Path, start_utc: datetime | None = None) -> GpsSeries:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_gps_csv(path)
    if suffix == ".nmea":
        return read_nmea(path, start_utc)
    if suffix == ".gpx":
        return read_gpx(path, start_utc)
    raise ValueError(f"{path}: unknown GPS file type (expected .csv, .nmea or .gpx)")
