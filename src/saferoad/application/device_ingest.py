"""The device ingest API's use cases (contract in ``docs/ingest-api.md``): trips, events and
resumable clip uploads sent by the edge recorder, checked as ``saferoad ingest`` checks an
analyze output, idempotent by the ids the device chose.

Every use case returns an :class:`Outcome` (HTTP status, JSON body, headers); what the caller
got wrong is an :class:`IngestError` with its 4xx status and a message naming the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import re
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from saferoad.application.ingest import (
    VOLATILE_SUMMARY_KEYS,
    MalformedOutput,
    check_event,
    check_summary,
)
from saferoad.application.web import rescore_trip, token_sha256, web_repo
from saferoad.config import SaferoadConfig
from saferoad.domain.scoring import iso_week
from saferoad.domain.types import Severity
from saferoad.ports.store import EventRecord, Store, TripIds, TripRecord, UnitOfWork
from saferoad.ports.web import ClipState

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
"""Ids a device may choose for trips and events (URL-safe, at most 128 characters)."""
SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
TRIP_FIELDS = ("device_id", "driver", "vehicle", "fleet", "start_utc", "time_zone", "summary")
OPEN_KEY = "in_progress"
"""Summary key of a trip opened during its drive (no summary yet): its events are not bounded
by a duration until the summary completes it."""


class IngestError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceAuth:
    fleet: str
    device: str


TOKEN_CACHE_S = 30.0
"""A known token is looked up again after this long (a revoked token stops within it)."""
_TOKENS: weakref.WeakKeyDictionary[Any, dict[str, tuple[float, DeviceAuth]]] = (
    weakref.WeakKeyDictionary()
)
"""Per store: token SHA-256 -> (when looked up, the device)."""


def authenticate(store: Store, authorization: str | None) -> DeviceAuth:
    """The device of an ``Authorization: Bearer <token>`` header (401 when missing or unknown)."""
    if not authorization or not authorization.startswith("Bearer "):
        raise IngestError(
            401,
            "header 'Authorization': expected 'Bearer <device token>'",
            {"WWW-Authenticate": "Bearer"},
        )
    token = authorization[len("Bearer ") :].strip()
    key = token_sha256(token)
    now = time.monotonic()
    known = _TOKENS.setdefault(store, {})
    cached = known.get(key)
    if cached is not None and now - cached[0] < TOKEN_CACHE_S:
        return cached[1]
    with store.unit_of_work() as uow:
        found = web_repo(uow).device(key)
    if found is None:
        raise IngestError(
            401,
            "header 'Authorization': unknown or revoked device token",
            {"WWW-Authenticate": "Bearer"},
        )
    auth = DeviceAuth(*found)
    if len(known) > 10_000:
        known.clear()
    known[key] = (now, auth)
    return auth


def check_id(kind: str, value: str) -> str:
    if not ID_RE.match(value):
        raise IngestError(
            422, f"path '{kind}': 1-128 characters of A-Z a-z 0-9 . _ : - (got {value[:40]!r})"
        )
    return value


def body_sha256(body: Any) -> str:
    blob = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _str_field(body: dict[str, Any], key: str) -> str:
    v = body.get(key)
    if not isinstance(v, str) or not v.strip() or len(v) > 128:
        raise IngestError(
            422, f"field '{key}' must be a non-empty string of at most 128 characters"
        )
    return v.strip()


# --- trips ---------------------------------------------------------------------------------


def _trip_record(auth: DeviceAuth, trip_id: str, body: Any, digest: str) -> TripRecord:
    if not isinstance(body, dict):
        raise IngestError(422, "body: expected a JSON object")
    missing = [k for k in TRIP_FIELDS if k not in body and k != "summary"]
    if missing:
        raise IngestError(422, f"field '{missing[0]}' is missing")
    fleet = _str_field(body, "fleet")
    device = _str_field(body, "device_id")
    if fleet != auth.fleet:
        raise IngestError(403, f"field 'fleet': this device may not send to fleet {fleet!r}")
    if device != auth.device:
        raise IngestError(403, "field 'device_id': this token belongs to another device")
    driver, vehicle = _str_field(body, "driver"), _str_field(body, "vehicle")
    start_raw = _str_field(body, "start_utc")
    try:
        start = dt.datetime.fromisoformat(start_raw.replace("Z", "+00:00"))
    except ValueError:
        raise IngestError(
            422, f"field 'start_utc' is not an ISO 8601 time: {start_raw!r}"
        ) from None
    if start.tzinfo is None:
        raise IngestError(422, "field 'start_utc' needs a zone (e.g. 2026-11-23T07:30:00Z)")
    summary = body.get("summary")
    if summary is None:
        # opened at the start of the drive: its events may come at once, its summary (duration,
        # distance, counts) completes it at the end (PUT /trips/{trip_id}/summary)
        summary = {"duration_s": 0.0, OPEN_KEY: True}
    if not isinstance(summary, dict):
        raise IngestError(422, "field 'summary' must be a summary.json object")
    meta_raw = summary.get("meta")
    meta: dict[str, Any] = meta_raw if isinstance(meta_raw, dict) else {}
    merged = {
        **{k: v for k, v in summary.items() if not (k == "distance_km" and v is None)},
        "meta": {
            **meta,
            "start_utc": start.isoformat(),
            "timezone": body["time_zone"],
            "fleet_id": fleet,
            "device_id": device,
            "driver_id": driver,
            "vehicle_id": vehicle,
        },
    }
    try:
        info = check_summary(merged, "field 'summary'")
    except MalformedOutput as err:
        raise IngestError(
            422, str(err).replace("field 'summary': field '", "field 'summary.")
        ) from None
    # A device that cannot measure distance (no speed) sends none: the trip is kept with 0 km,
    # its events are counted, and it adds nothing to the distance a score needs.
    distance_km = info.distance_km if info.distance_km is not None else 0.0
    key = hashlib.sha256(f"api\0{fleet}\0{device}\0{trip_id}".encode()).hexdigest()
    kept = {k: v for k, v in merged.items() if k not in VOLATILE_SUMMARY_KEYS}
    return TripRecord(
        trip_key=key,
        content_hash=digest,
        ids=TripIds(fleet, vehicle, driver, device, info.ids.vehicle_type),
        start_utc=info.start_utc,
        end_utc=info.start_utc + dt.timedelta(seconds=info.duration_s),
        timezone=info.timezone,
        local_week=iso_week(info.start_utc.astimezone(ZoneInfo(info.timezone))),
        distance_km=distance_km,
        duration_s=info.duration_s,
        source_path=f"ingest-api:{fleet}/{device}/{trip_id}",
        route=[],
        profile={},
        summary=kept,
        events=[],
    )


def put_trip(
    store: Store, config: SaferoadConfig, auth: DeviceAuth, trip_id: str, body: Any
) -> Outcome:
    check_id("trip_id", trip_id)
    digest = body_sha256(body)
    with store.unit_of_work() as uow:
        web = web_repo(uow)
        found = web.ingest_trip(auth.fleet, auth.device, trip_id)
        if found is not None:
            if found[1] == digest:
                return Outcome(200, {"trip_id": trip_id, "id": found[0], "status": "unchanged"})
            raise IngestError(409, f"trip {trip_id!r} was stored with other content")
        record = _trip_record(auth, trip_id, body, digest)
        if uow.trips.find(record.trip_key) is not None:  # pragma: no cover - key is per device id
            raise IngestError(409, f"trip {trip_id!r} was stored with other content")
        new_id = uow.trips.add(record)
        web.add_ingest_trip(auth.fleet, auth.device, trip_id, new_id, digest)
        rescore_trip(uow, config, new_id)
        uow.commit()
    return Outcome(201, {"trip_id": trip_id, "id": new_id, "status": "created"})


def put_trip_summary(
    store: Store, config: SaferoadConfig, auth: DeviceAuth, trip_id: str, body: Any
) -> Outcome:
    """Complete a trip opened without a summary (``PUT /trips/{trip_id}/summary``): its
    duration, distance and counts, checked as in ``PUT /trips``. The same summary again is 200
    (also for a trip sent whole, with this summary); another one is 409."""
    check_id("trip_id", trip_id)
    if not isinstance(body, dict):
        raise IngestError(422, "body: expected the trip's summary.json object")
    with store.unit_of_work() as uow:
        tid = _trip_of(uow, auth, trip_id)
        stored = uow.trips.get(tid)
        assert stored is not None
        meta = dict(stored.summary.get("meta") or {})
        whole = {
            "device_id": auth.device,
            "driver": meta.get("driver_id", stored.ids.driver),
            "vehicle": meta.get("vehicle_id", stored.ids.vehicle),
            "fleet": auth.fleet,
            "start_utc": meta.get("start_utc", stored.start_utc.isoformat()),
            "time_zone": meta.get("timezone", stored.timezone),
            "summary": body,
        }
        record = _trip_record(auth, trip_id, whole, stored.content_hash)
        if record.summary.get(OPEN_KEY):
            raise IngestError(422, f"field '{OPEN_KEY}': a summary completes the trip")
        if not stored.summary.get(OPEN_KEY):
            if record.summary == stored.summary:
                return Outcome(200, {"trip_id": trip_id, "id": tid, "status": "unchanged"})
            raise IngestError(409, f"trip {trip_id!r} was completed with another summary")
        late = [e.start_s for e in stored.events if e.start_s > record.duration_s + 1.0]
        if late:
            raise IngestError(
                422,
                f"field 'duration_s' {record.duration_s}: the trip holds an event starting at "
                f"{max(late)} s",
            )
        web = web_repo(uow)
        web.complete_trip(
            tid, record.end_utc, record.duration_s, record.distance_km, record.summary
        )
        rescore_trip(uow, config, tid)
        uow.commit()
    return Outcome(201, {"trip_id": trip_id, "id": tid, "status": "completed"})


# --- events --------------------------------------------------------------------------------


def _trip_of(uow: UnitOfWork, auth: DeviceAuth, trip_id: str) -> int:
    found = web_repo(uow).ingest_trip(auth.fleet, auth.device, trip_id)
    if found is None:
        raise IngestError(404, f"trip {trip_id!r} is not stored (PUT it first)")
    return int(found[0])


def put_event(
    store: Store, config: SaferoadConfig, auth: DeviceAuth, trip_id: str, event_id: str, body: Any
) -> Outcome:
    check_id("trip_id", trip_id)
    check_id("event_id", event_id)
    digest = body_sha256(body)
    with store.unit_of_work() as uow:
        web = web_repo(uow)
        tid = _trip_of(uow, auth, trip_id)
        found = web.ingest_event(tid, event_id)
        if found is not None:
            if found[1] == digest:
                return Outcome(200, {"event_id": event_id, "id": found[0], "status": "unchanged"})
            raise IngestError(409, f"event {event_id!r} was stored with other content")
        if not isinstance(body, dict):
            raise IngestError(422, "body: expected one events.jsonl record (a JSON object)")
        trip = web.trip_head(tid)
        assert trip is not None
        try:
            check_event(body, "body", math.inf if trip.in_progress else trip.duration_s)
        except MalformedOutput as err:
            raise IngestError(422, str(err)) from None
        start_s = float(body["start_s"])
        record = EventRecord(
            seq=0,
            type=body["type"],
            start_s=start_s,
            end_s=float(body["end_s"]),
            start_utc=trip.start_utc + dt.timedelta(seconds=start_s),
            severity=body.get("severity", Severity.LOW.value),
            confidence=float(body.get("confidence", 1.0)),
            direction=body.get("direction"),
            peak={k: float(v) for k, v in (body.get("peak") or {}).items() if v is not None},
            evidence=dict(body.get("evidence") or {}),
        )
        new_id = web.add_event(tid, record)
        web.add_ingest_event(tid, event_id, new_id, digest)
        rescore_trip(uow, config, tid)
        uow.commit()
    return Outcome(201, {"event_id": event_id, "id": new_id, "status": "created"})


# --- clips ---------------------------------------------------------------------------------


def _event_of(uow: UnitOfWork, auth: DeviceAuth, trip_id: str, event_id: str) -> int:
    tid = _trip_of(uow, auth, trip_id)
    found = web_repo(uow).ingest_event(tid, event_id)
    if found is None:
        raise IngestError(
            404, f"event {event_id!r} of trip {trip_id!r} is not stored (PUT it first)"
        )
    return int(found[0])


def clip_head(store: Store, auth: DeviceAuth, trip_id: str, event_id: str) -> Outcome:
    with store.unit_of_work() as uow:
        eid = _event_of(uow, auth, trip_id, event_id)
        state: ClipState | None = web_repo(uow).clip(eid)
    if state is None:
        raise IngestError(404, "no upload of this clip has started")
    return Outcome(
        200,
        None,
        {
            "Upload-Offset": str(state.offset),
            "Upload-Length": str(state.length),
            "Cache-Control": "no-store",
        },
    )


def _int_header(name: str, value: str | None, minimum: int) -> int:
    if value is None or not value.strip().isdigit():
        raise IngestError(422, f"header '{name}' must be a whole number >= {minimum}")
    n = int(value)
    if n < minimum:
        raise IngestError(422, f"header '{name}' must be >= {minimum}")
    return n


@dataclass(frozen=True)
class ClipPatch:
    offset: int
    length: int
    sha256: str


def check_patch_headers(
    config: SaferoadConfig,
    offset: str | None,
    length: str | None,
    sha: str | None,
    content_type: str | None,
    content_length: str | None,
) -> ClipPatch:
    """The headers of a clip PATCH, checked before its body is read."""
    if (content_type or "").split(";")[0].strip() != "application/offset+octet-stream":
        raise IngestError(415, "header 'Content-Type' must be application/offset+octet-stream")
    off = _int_header("Upload-Offset", offset, 0)
    total = _int_header("Upload-Length", length, 1)
    if total > config.web.max_clip_bytes:
        raise IngestError(
            413,
            f"header 'Upload-Length': {total} bytes is over the {config.web.max_clip_bytes} limit",
        )
    if sha is None or not SHA256_RE.match(sha):
        raise IngestError(422, "header 'Clip-SHA256' must be 64 hex digits")
    if (
        content_length is not None
        and content_length.isdigit()
        and off + int(content_length) > total
    ):
        raise IngestError(413, "body: the chunk goes past Upload-Length")
    return ClipPatch(off, total, sha.lower())


def clip_patch(
    store: Store,
    config: SaferoadConfig,
    auth: DeviceAuth,
    trip_id: str,
    event_id: str,
    patch: ClipPatch,
    chunk: bytes,
) -> Outcome:
    if patch.offset + len(chunk) > patch.length:
        raise IngestError(413, "body: the chunk goes past Upload-Length")
    media = Path(config.web.media_dir).resolve() / "clips"
    with store.unit_of_work() as uow:
        web = web_repo(uow)
        eid = _event_of(uow, auth, trip_id, event_id)
        state: ClipState | None = web.clip(eid)
        if state is not None and state.complete:
            if state.sha256 != patch.sha256:
                raise IngestError(409, "this clip was completed with another Clip-SHA256")
            return Outcome(200, None, {"Upload-Offset": str(state.length)})
        if state is None:
            media.mkdir(parents=True, exist_ok=True)
            state = ClipState(
                eid, patch.length, 0, patch.sha256, str(media / f"{eid}.mp4.part"), False
            )
        elif (state.length, state.sha256) != (patch.length, patch.sha256):
            raise IngestError(
                409,
                "headers 'Upload-Length'/'Clip-SHA256' differ from the upload in progress",
                {"Upload-Offset": str(state.offset)},
            )
        if patch.offset != state.offset:
            raise IngestError(
                409,
                f"header 'Upload-Offset': {patch.offset}, but {state.offset} bytes are stored",
                {"Upload-Offset": str(state.offset)},
            )
        part = Path(state.path)
        with part.open("r+b" if part.exists() else "wb") as fh:
            fh.seek(state.offset)
            fh.write(chunk)
            fh.truncate()
            fh.flush()
            os.fsync(fh.fileno())
        offset = state.offset + len(chunk)
        if offset < state.length:
            web.put_clip(ClipState(eid, state.length, offset, state.sha256, state.path, False))
            uow.commit()
            return Outcome(204, None, {"Upload-Offset": str(offset)})
        h = hashlib.sha256()
        with part.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != state.sha256:
            part.unlink(missing_ok=True)
            web.remove_clip(eid)
            uow.commit()
            raise IngestError(
                422,
                "header 'Clip-SHA256' does not match the bytes received; the upload was "
                "discarded, start again at offset 0",
                {"Upload-Offset": "0"},
            )
        final = part.with_suffix("")
        os.replace(part, final)
        web.put_clip(ClipState(eid, state.length, offset, state.sha256, str(final), True))
        web.set_event_clip(eid, str(final))
        uow.commit()
    return Outcome(201, None, {"Upload-Offset": str(offset)})
