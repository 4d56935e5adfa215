"""``ingest``: load ``saferoad analyze`` outputs into the trip store, and score them.

* **Checked first**: every file of an output is validated before it is stored; a malformed
  one is a :class:`MalformedOutput` (a ``ValueError``) naming the file, the line or row, and
  the field.
* **Idempotent**: a trip's natural key is a hash of fleet, vehicle, device, start time and
  duration (one recording); its content hash covers what was ingested. The same output twice
  changes nothing; a re-analysed recording replaces its trip.
* **All or nothing**: one call is one unit of work (one database transaction); an error or a
  killed process leaves the store as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from saferoad.config import SaferoadConfig, config_hash
from saferoad.domain.geodesy import haversine_m
from saferoad.domain.scoring import (
    Score,
    ScoringRules,
    iso_week,
    manoeuvre_counts,
    safety_score,
    total,
    trip_score,
)
from saferoad.domain.types import Direction, EventType, Severity
from saferoad.observability import get_logger, span
from saferoad.ports.outputs import OutputsReader
from saferoad.ports.store import EventRecord, ScoreRecord, TripIds, TripRecord, UnitOfWork

TIMELINE_REQUIRED = ("t_s", "lat", "lon", "speed_mps")
TIMELINE_OPTIONAL = ("long_acc_mps2", "lat_acc_mps2", "yaw_rate_dps")
MEDIA_KEYS = {"clip": ("clip", "clip_path"), "snapshot": ("snapshot", "snapshot_path")}
VOLATILE_SUMMARY_KEYS = ("wall_s", "stages_s", "recording")
"""Left out of the content hash: they change when the same recording is analysed again."""
_SEVERITIES = frozenset(s.value for s in Severity)
_DIRECTIONS = frozenset(d.value for d in Direction)


class MalformedOutput(ValueError):
    """An analyze output that cannot be ingested; the message names file, line and field."""


@dataclass
class IngestResult:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    trip_ids: dict[str, int] = field(default_factory=dict)
    """Output folder -> stored trip id."""

    @property
    def n_outputs(self) -> int:
        return len(self.added) + len(self.replaced) + len(self.unchanged)


def find_outputs(path: Path, *, reader: OutputsReader) -> list[Path]:
    """``path`` itself when it is an analyze output, else every output below it (sorted)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if (path / "summary.json").is_file():
        return [path]
    # a run folder never swapped in (a run that was killed) is not an output
    found = sorted(p.parent for p in path.rglob("summary.json") if not reader.is_staging(p.relative_to(path)))
    if not found:
        raise MalformedOutput(f"{path}: no analyze output here (no summary.json found)")
    return found


# --- reading and checking one output ----------------------------------------------------


def complete_run(out_dir: Path, *, reader: OutputsReader) -> dict[str, Any]:
    """The ``run.json`` of a finished analyze run; an interrupted one is refused."""
    try:
        return reader.finished_run(out_dir)
    except ValueError as err:
        raise MalformedOutput(str(err)) from None


def _bad(where: str, msg: str) -> MalformedOutput:
    return MalformedOutput(f"{where}: {msg}")


def _number(where: str, data: dict[str, Any], key: str, *, minimum: float | None = None) -> float:
    if key not in data:
        raise _bad(where, f"field '{key}' is missing")
    v = data[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise _bad(where, f"field '{key}' must be a finite number, got {v!r}")
    if minimum is not None and v < minimum:
        raise _bad(where, f"field '{key}' must be >= {minimum:g}, got {v!r}")
    return float(v)


def _read_json(path: Path, reader: OutputsReader) -> Any:
    return reader.read_json(path, error=MalformedOutput, missing="missing (not an analyze output?)")


@dataclass(frozen=True)
class SummaryInfo:
    ids: TripIds
    start_utc: dt.datetime
    timezone: str
    duration_s: float
    distance_km: float | None
    event_counts: dict[str, int]
    data: dict[str, Any]


def read_summary(path: Path, *, reader: OutputsReader) -> SummaryInfo:
    return check_summary(_read_json(path, reader), str(path))


def check_summary(data: Any, where: str) -> SummaryInfo:
    """Check a ``summary.json`` object (``where`` names it in errors)."""
    if not isinstance(data, dict):
        raise _bad(where, f"expected a JSON object, got {type(data).__name__}")
    meta = data.get("meta")
    if not isinstance(meta, dict):
        raise _bad(where, "field 'meta' is missing or not an object")
    start_raw = meta.get("start_utc")
    if not isinstance(start_raw, str) or not start_raw:
        raise _bad(
            where,
            "field 'meta.start_utc' is missing: a trip needs its start time "
            "(set [recording].start_utc in meta.toml and analyze again)",
        )
    try:
        start = dt.datetime.fromisoformat(start_raw.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(
            where, f"field 'meta.start_utc' is not an ISO 8601 time: {start_raw!r}"
        ) from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    tz = meta.get("timezone") or "UTC"
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad(where, f"field 'meta.timezone' is not an IANA time zone: {tz!r}") from None
    ids = {}
    for key in ("fleet_id", "vehicle_id", "driver_id", "device_id", "vehicle_type"):
        v = meta.get(key)
        if v is None:
            v = "car" if key == "vehicle_type" else "unknown"
        if not isinstance(v, str) or not v.strip():
            raise _bad(where, f"field 'meta.{key}' must be a non-empty string, got {v!r}")
        ids[key] = v.strip()
    duration = _number(where, data, "duration_s", minimum=0)
    distance = _number(where, data, "distance_km", minimum=0) if "distance_km" in data else None
    counts_raw = data.get("event_counts", {})
    if not isinstance(counts_raw, dict) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts_raw.values()
    ):
        raise _bad(
            where, f"field 'event_counts' must map event types to counts, got {counts_raw!r}"
        )
    try:
        manoeuvre_counts(data.get("manoeuvres"))
    except ValueError as err:
        raise _bad(where, str(err)) from None
    return SummaryInfo(
        TripIds(
            ids["fleet_id"],
            ids["vehicle_id"],
            ids["driver_id"],
            ids["device_id"],
            ids["vehicle_type"],
        ),
        start.astimezone(dt.UTC),
        str(tz),
        duration,
        distance,
        {str(k): int(v) for k, v in counts_raw.items()},
        data,
    )


@dataclass(frozen=True)
class RawEvent:
    line: int
    data: dict[str, Any]
    clip: Path | None
    snapshot: Path | None


def _media(out_dir: Path, where: str, evidence: dict[str, Any], kind: str) -> Path | None:
    for key in MEDIA_KEYS[kind]:
        value = evidence.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise _bad(where, f"field 'evidence.{key}' must be a path, got {value!r}")
        p = Path(value)
        full = (p if p.is_absolute() else out_dir / p).resolve()
        if not full.is_file():
            raise _bad(where, f"field 'evidence.{key}': file {value!r} not found in {out_dir}")
        return full
    return None


def read_events(path: Path, out_dir: Path, duration_s: float, *, reader: OutputsReader) -> list[RawEvent]:
    """Check every line of ``events.jsonl``; errors name ``file:line`` and the field."""
    if not path.is_file():
        raise MalformedOutput(f"{path}: missing (not an analyze output?)")
    out: list[RawEvent] = []
    for lineno, where, data in reader.iter_jsonl(path, error=MalformedOutput):
        check_event(data, where, duration_s)
        evidence = data.get("evidence") or {}
        clip = _media(out_dir, where, evidence, "clip")
        snap = _media(out_dir, where, evidence, "snapshot")
        out.append(RawEvent(lineno, data, clip, snap))
    return out


def check_event(data: dict[str, Any], where: str, duration_s: float) -> None:
    """Check one ``events.jsonl`` record (``where`` names it in errors); media paths are not
    looked up here."""
    etype = data.get("type")
    if not isinstance(etype, str) or etype not in EventType:  # the types defined now (it is open)
        raise _bad(where, f"field 'type' is not an event type: {etype!r}")
    start = _number(where, data, "start_s", minimum=0)
    end = _number(where, data, "end_s", minimum=0)
    if end < start:
        raise _bad(where, f"field 'end_s' {end} is before 'start_s' {start}")
    if start > duration_s + 1.0:
        raise _bad(
            where, f"field 'start_s' {start} is after the end of the drive ({duration_s} s)"
        )
    sev = data.get("severity", Severity.LOW.value)
    if not isinstance(sev, str) or sev not in _SEVERITIES:
        raise _bad(where, f"field 'severity' must be low, medium or high, got {sev!r}")
    conf = data.get("confidence", 1.0)
    if isinstance(conf, bool) or not isinstance(conf, int | float) or not 0 <= conf <= 1:
        raise _bad(where, f"field 'confidence' must be within 0-1, got {conf!r}")
    direction = data.get("direction")
    if direction is not None and (
        not isinstance(direction, str) or direction not in _DIRECTIONS
    ):
        raise _bad(
            where, f"field 'direction' must be left, right or null, got {direction!r}"
        )
    for key in ("peak", "evidence"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise _bad(where, f"field '{key}' must be an object, got {data[key]!r}")
    peak = data.get("peak") or {}
    for k, v in peak.items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise _bad(where, f"field 'peak.{k}' must be a number, got {v!r}")


@dataclass(frozen=True)
class Timeline:
    t_s: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    speed_mps: np.ndarray
    extra: dict[str, np.ndarray]


def read_timeline(path: Path, *, reader: OutputsReader) -> Timeline:
    """Read and check ``timeline.parquet`` (rows are 0-based in messages)."""
    cols = reader.read_columns(path, TIMELINE_REQUIRED, TIMELINE_OPTIONAL, error=MalformedOutput)
    t = cols["t_s"]
    if len(t) == 0:
        raise MalformedOutput(f"{path}: no rows")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise MalformedOutput(f"{path}: row {bad[0]}: column 't_s' is not a finite number")
    back = np.flatnonzero(np.diff(t) <= 0)
    if back.size:
        raise MalformedOutput(
            f"{path}: row {back[0] + 1}: column 't_s' does not increase ({t[back[0]]} then {t[back[0] + 1]})"
        )
    for name, lo, hi in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
        v = cols[name]
        out_of_range = np.flatnonzero(np.isfinite(v) & ((v < lo) | (v > hi)))
        if out_of_range.size:
            i = out_of_range[0]
            raise MalformedOutput(f"{path}: row {i}: column '{name}' = {v[i]} is out of range")
    extra = {k: v for k, v in cols.items() if k in TIMELINE_OPTIONAL}
    return Timeline(t, cols["lat"], cols["lon"], cols["speed_mps"], extra)


def haversine_km(lat: np.ndarray, lon: np.ndarray) -> float:
    """Length of the track through the finite fixes (the domain's great-circle distance)."""
    ok = np.isfinite(lat) & np.isfinite(lon)
    la, lo = lat[ok], lon[ok]
    if la.size < 2:
        return 0.0
    return float(np.sum(haversine_m(la[:-1], lo[:-1], la[1:], lo[1:]))) / 1000.0


def _route(tl: Timeline, tolerance_m: float) -> list[list[float]]:
    from shapely.geometry import LineString  # deferred: Shapely (GEOS) only where a route is drawn

    ok = np.isfinite(tl.lat) & np.isfinite(tl.lon)
    lat, lon = tl.lat[ok], tl.lon[ok]
    if lat.size < 2:
        return [[round(float(a), 6), round(float(b), 6)] for a, b in zip(lat, lon, strict=True)]
    line = LineString(np.column_stack([lon, lat]))
    simple = line.simplify(tolerance_m / 111_320.0, preserve_topology=False)
    return [[round(y, 6), round(x, 6)] for x, y in simple.coords]


def _profile(tl: Timeline, hz: float) -> dict[str, list[float | None]]:
    dt_s = float(np.median(np.diff(tl.t_s))) if len(tl.t_s) > 1 else 1.0
    step = max(1, round((1.0 / hz) / dt_s)) if dt_s > 0 else 1
    cols = {"t_s": tl.t_s, "lat": tl.lat, "lon": tl.lon, "speed_mps": tl.speed_mps, **tl.extra}
    out: dict[str, list[float | None]] = {}
    for k, v in cols.items():
        digits = 6 if k in ("lat", "lon") else 3
        arr = np.round(v[::step], digits)
        values: list[float | None] = arr.tolist()
        if not np.isfinite(arr).all():
            values = [x if x is not None and math.isfinite(x) else None for x in values]
        out[k] = values
    return out


def _interp(tl: Timeline, values: np.ndarray, t: float) -> float | None:
    ok = np.isfinite(values)
    if not ok.any():
        return None
    return float(np.interp(t, tl.t_s[ok], values[ok]))


def _hash_file(h: Any, path: Path) -> None:
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)


def identify(
    out_dir: Path, *, reader: OutputsReader, driver: str | None = None, vehicle: str | None = None
) -> tuple[str, str, SummaryInfo, TripIds]:
    """``(trip_key, content_hash, summary, ids)`` of an output, from its summary and the bytes
    of its files, without parsing events or timeline (what re-ingesting needs to see that
    nothing changed)."""
    out_dir = out_dir.resolve()
    complete_run(out_dir, reader=reader)
    info = read_summary(out_dir / "summary.json", reader=reader)
    ids = info.ids
    if driver or vehicle:
        ids = TripIds(
            ids.fleet, vehicle or ids.vehicle, driver or ids.driver, ids.device, ids.vehicle_type
        )
    summary = {k: v for k, v in info.data.items() if k not in VOLATILE_SUMMARY_KEYS}
    key_src = "\0".join(
        [ids.fleet, ids.vehicle, ids.device, info.start_utc.isoformat(), f"{info.duration_s:.1f}"]
    )
    h = hashlib.sha256(json.dumps(summary, sort_keys=True, default=str).encode())
    events = out_dir / "events.jsonl"
    if not events.is_file():
        raise MalformedOutput(f"{events}: missing (not an analyze output?)")
    _hash_file(h, events)
    tl_path = out_dir / "timeline.parquet"
    if tl_path.exists():
        _hash_file(h, tl_path)
    h.update(f"\0{ids.driver}\0{ids.vehicle}".encode())
    return hashlib.sha256(key_src.encode()).hexdigest(), h.hexdigest(), info, ids


def load_output(
    out_dir: Path,
    config: SaferoadConfig,
    *,
    reader: OutputsReader,
    driver: str | None = None,
    vehicle: str | None = None,
) -> TripRecord:
    """Read and check one analyze output folder; the trip it describes, ready to store."""
    out_dir = out_dir.resolve()
    run_id = complete_run(out_dir, reader=reader).get("run_id")
    trip_key, content_hash, info, ids = identify(out_dir, reader=reader, driver=driver, vehicle=vehicle)
    tl_path = out_dir / "timeline.parquet"
    tl = read_timeline(tl_path, reader=reader) if tl_path.exists() or info.distance_km is None else None
    raw_events = read_events(out_dir / "events.jsonl", out_dir, info.duration_s, reader=reader)
    counts: dict[str, int] = {}
    for ev in raw_events:
        counts[ev.data["type"]] = counts.get(ev.data["type"], 0) + 1
    if info.event_counts and info.event_counts != counts:
        raise MalformedOutput(
            f"{out_dir / 'summary.json'}: field 'event_counts' {info.event_counts} does not match "
            f"events.jsonl {counts}"
        )
    distance_km = info.distance_km
    if distance_km is None:
        assert tl is not None
        distance_km = haversine_km(tl.lat, tl.lon)
    start = info.start_utc
    tz = ZoneInfo(info.timezone)
    events: list[EventRecord] = []
    for seq, ev in enumerate(raw_events):
        d = ev.data
        s = float(d["start_s"])
        lat = lon = speed = None
        if tl is not None:
            lat, lon = _interp(tl, tl.lat, s), _interp(tl, tl.lon, s)
            speed = _interp(tl, tl.speed_mps, s)
        events.append(
            EventRecord(
                seq=seq,
                type=d["type"],
                start_s=s,
                end_s=float(d["end_s"]),
                start_utc=start + dt.timedelta(seconds=s),
                severity=d.get("severity", Severity.LOW.value),
                confidence=float(d.get("confidence", 1.0)),
                direction=d.get("direction"),
                lat=lat,
                lon=lon,
                speed_mps=speed,
                peak={k: float(v) for k, v in (d.get("peak") or {}).items() if v is not None},
                evidence=dict(d.get("evidence") or {}),
                clip_path=str(ev.clip) if ev.clip else None,
                snapshot_path=str(ev.snapshot) if ev.snapshot else None,
            )
        )
    summary = {k: v for k, v in info.data.items() if k not in VOLATILE_SUMMARY_KEYS}
    store = config.store
    if complete_run(out_dir, reader=reader).get("run_id") != run_id:
        raise MalformedOutput(f"{out_dir}: replaced by a new analyze run while being read; ingest again")
    return TripRecord(
        trip_key=trip_key,
        content_hash=content_hash,
        ids=ids,
        start_utc=start,
        end_utc=start + dt.timedelta(seconds=info.duration_s),
        timezone=info.timezone,
        local_week=iso_week(start.astimezone(tz)),
        distance_km=float(distance_km),
        duration_s=info.duration_s,
        source_path=str(out_dir),
        route=_route(tl, store.route_tolerance_m) if tl is not None else [],
        profile=_profile(tl, store.profile_hz) if tl is not None else {},
        summary=summary,
        events=events,
    )


# --- scores ------------------------------------------------------------------------------


def scoring_fingerprint(config: SaferoadConfig) -> str:
    return config_hash(config.scoring.model_dump(mode="json"))


def _score_record(
    scope: str, fleet: str, subject: str, week: str, score: Score, fp: str, trip_id: int | None = None
) -> ScoreRecord:
    stored = replace(
        score,
        value=None if score.value is None else round(score.value, 3),
        raw=round(score.raw, 3),
        rates={k: round(v, 4) for k, v in score.rates.items()},
        impacts={k: round(v, 4) for k, v in score.impacts.items()},
    )
    return ScoreRecord(scope, fleet, subject, week, stored, fp, trip_id)


def rescore_weeks(
    uow: UnitOfWork,
    rules: ScoringRules,
    fingerprint: str,
    weeks: Iterable[tuple[str, str]],
    drivers: Iterable[tuple[str, str, str]] = (),
) -> None:
    """Recompute the stored driver-week and fleet-week scores of ``(fleet, week)`` pairs;
    ``drivers`` (fleet, driver, week) whose week became empty lose their score row."""
    for fleet, week in sorted(set(weeks)):
        exps = uow.trips.exposures(fleet, week)
        for code, exp in exps.items():
            uow.scores.put(
                _score_record(
                    "driver_week", fleet, code, week, safety_score(exp, rules), fingerprint
                )
            )
        uow.scores.put(
            _score_record(
                "fleet_week",
                fleet,
                fleet,
                week,
                safety_score(total(exps.values()), rules),
                fingerprint,
            )
        )
    for fleet, code, week in set(drivers):
        if code not in uow.trips.exposures(fleet, week):
            uow.scores.remove("driver_week", fleet, code, week)


def _score_trip(
    uow: UnitOfWork, rules: ScoringRules, fp: str, trip: TripRecord, trip_id: int
) -> None:
    exp = trip.exposure()
    uow.scores.add(
        _score_record(
            "trip",
            trip.ids.fleet,
            trip.trip_key,
            trip.local_week,
            trip_score(exp, rules),
            fp,
            trip_id,
        )
    )


def carry_review(old: TripRecord, new: TripRecord) -> TripRecord:
    """``new`` with the review status (and dismissal reason) of ``old``'s events that it still
    has: the same type starting within 0.05 s. A re-analysed recording keeps what a manager
    decided about its events (a dismissed one stays out of the scores)."""
    # keyed by 0.1 s bin: a match within 0.05 s lies in the same bin or a neighbouring one
    reviewed = {
        (e.type, round(e.start_s * 10)): e for e in old.events if e.status != "needs_review"
    }
    if not reviewed:
        return new
    events = []
    for e in new.events:
        b = round(e.start_s * 10)
        near = [
            r
            for k in (b - 1, b, b + 1)
            if (r := reviewed.get((e.type, k))) is not None and abs(r.start_s - e.start_s) <= 0.05
        ]
        if near:
            before = min(near, key=lambda r: abs(r.start_s - e.start_s))
            e = replace(e, status=before.status, dismiss_reason=before.dismiss_reason)
        events.append(e)
    return replace(new, events=events)


# --- the use case ------------------------------------------------------------------------


def ingest_outputs(
    uow_factory: Any,
    outputs: Sequence[Path],
    config: SaferoadConfig,
    *,
    reader: OutputsReader,
    driver: str | None = None,
    vehicle: str | None = None,
) -> IngestResult:
    """Store and score every output in ``outputs`` in one unit of work (all or nothing).

    ``uow_factory`` is ``store.unit_of_work``; ``reader`` reads the output folders
    (``wiring.outputs_reader()``; ``wiring.ingest_outputs`` passes it).
    """
    log = get_logger("ingest")
    rules = config.scoring.rules()
    fp = scoring_fingerprint(config)
    result = IngestResult()
    weeks: set[tuple[str, str]] = set()
    drivers: set[tuple[str, str, str]] = set()
    with span("store.ingest", outputs=len(outputs)) as info, uow_factory() as uow:
        for i, out_dir in enumerate(outputs):
            key, content_hash, _, _ = identify(out_dir, reader=reader, driver=driver, vehicle=vehicle)
            found = uow.trips.find(key)
            if found is not None and found[1] == content_hash:
                result.unchanged.append(str(out_dir))
                result.trip_ids[str(out_dir)] = found[0]
                continue
            trip = load_output(out_dir, config, reader=reader, driver=driver, vehicle=vehicle)
            if found is not None:
                old = uow.trips.get(found[0])
                assert old is not None
                weeks.add((old.ids.fleet, old.local_week))
                drivers.add((old.ids.fleet, old.ids.driver, old.local_week))
                trip = carry_review(old, trip)
                uow.trips.remove(found[0])
                result.replaced.append(str(out_dir))
            else:
                result.added.append(str(out_dir))
            trip_id = uow.trips.add(trip)
            _score_trip(uow, rules, fp, trip, trip_id)
            result.trip_ids[str(out_dir)] = trip_id
            weeks.add((trip.ids.fleet, trip.local_week))
            log.info("trip_staged", n=i + 1, of=len(outputs), trip_id=trip_id, path=str(out_dir))
        rescore_weeks(uow, rules, fp, weeks, drivers)
        uow.commit()
        info.update(
            added=len(result.added), replaced=len(result.replaced), unchanged=len(result.unchanged)
        )
    log.info(
        "ingest_done",
        added=len(result.added),
        replaced=len(result.replaced),
        unchanged=len(result.unchanged),
    )
    return result
