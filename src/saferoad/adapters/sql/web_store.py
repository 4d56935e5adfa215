"""The web repository (:class:`saferoad.ports.web.WebRepository`) on a SQLAlchemy session."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from saferoad.adapters.sql.models import Driver, EventRow, Fleet, Trip
from saferoad.adapters.sql.web_models import (
    ClipUpload,
    CoachingNote,
    DeviceToken,
    EventActivity,
    IngestEvent,
    IngestTrip,
    User,
    UserFleet,
    WebSession,
)
from saferoad.domain.scoring import Exposure, manoeuvre_counts
from saferoad.ports.store import EventRecord
from saferoad.ports.web import Activity, ClipState, EventRef, Note, TripHead, UserInfo


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo is not None else t


def _aware(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


class SqlWebRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    # --- users and sessions -----------------------------------------------------------------

    def add_user(
        self,
        username: str,
        password_hash: str,
        role: str,
        fleets: tuple[str, ...] = (),
        driver_fleet: str | None = None,
        driver_code: str | None = None,
    ) -> int:
        if self.s.scalar(select(User.id).where(User.username == username)) is not None:
            raise ValueError(f"user {username!r} exists already")
        row = User(
            username=username,
            password_hash=password_hash,
            role=role,
            driver_fleet=driver_fleet,
            driver_code=driver_code,
            created_at=_now(),
        )
        self.s.add(row)
        self.s.flush()
        for f in sorted(set(fleets)):
            self.s.add(UserFleet(user_id=row.id, fleet_code=f))
        self.s.flush()
        return row.id

    def _info(self, row: User) -> UserInfo:
        fleets = tuple(
            self.s.scalars(
                select(UserFleet.fleet_code)
                .where(UserFleet.user_id == row.id)
                .order_by(UserFleet.fleet_code)
            )
        )
        return UserInfo(
            row.id,
            row.username,
            row.role,
            row.password_hash,
            fleets,
            row.driver_fleet,
            row.driver_code,
        )

    def user(self, username: str) -> UserInfo | None:
        row = self.s.scalar(select(User).where(User.username == username))
        return None if row is None else self._info(row)

    def add_session(
        self, token_sha256: str, user_id: int, csrf: str, expires_at: dt.datetime
    ) -> None:
        self.s.execute(delete(WebSession).where(WebSession.expires_at < _now()))
        self.s.add(
            WebSession(
                token_sha256=token_sha256, user_id=user_id, csrf=csrf, expires_at=_naive(expires_at)
            )
        )
        self.s.flush()

    def session(self, token_sha256: str) -> tuple[UserInfo, str, dt.datetime] | None:
        row = self.s.execute(
            select(User, WebSession.csrf, WebSession.expires_at)
            .join(WebSession, WebSession.user_id == User.id)
            .where(WebSession.token_sha256 == token_sha256)
        ).first()
        if row is None:
            return None
        return self._info(row[0]), row[1], _aware(row[2])

    def remove_session(self, token_sha256: str) -> None:
        self.s.execute(delete(WebSession).where(WebSession.token_sha256 == token_sha256))

    # --- events, review, notes --------------------------------------------------------------

    def _event_query(self) -> Any:
        return (
            select(
                EventRow.id,
                EventRow.trip_id,
                Fleet.code,
                Driver.code,
                Trip.local_week,
                EventRow.type,
                EventRow.severity,
                EventRow.start_utc,
                EventRow.status,
                EventRow.dismiss_reason,
                EventRow.clip_path,
                EventRow.snapshot_path,
                Trip.timezone,
                Trip.source_path,
                EventRow.start_s,
                EventRow.end_s,
            )
            .select_from(EventRow)
            .join(Trip, Trip.id == EventRow.trip_id)
            .join(Fleet, Fleet.id == Trip.fleet_id)
            .join(Driver, Driver.id == Trip.driver_id)
        )

    @staticmethod
    def _ref(r: tuple[Any, ...]) -> EventRef:
        return EventRef(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            _aware(r[7]),
            r[8],
            r[9],
            r[10],
            r[11],
            r[12],
            r[13],
            r[14],
            r[15],
        )

    def event(self, event_id: int) -> EventRef | None:
        row = self.s.execute(self._event_query().where(EventRow.id == event_id)).first()
        return None if row is None else self._ref(tuple(row))

    def events(
        self,
        fleets: list[str] | None,
        *,
        status: str | None = None,
        event_type: str | None = None,
        driver: str | None = None,
        limit: int = 500,
    ) -> list[EventRef]:
        q = self._event_query()
        if fleets is not None:
            q = q.where(Fleet.code.in_(fleets))
        if status:
            q = q.where(EventRow.status == status)
        if event_type:
            q = q.where(EventRow.type == event_type)
        if driver:
            q = q.where(Driver.code == driver)
        q = q.order_by(EventRow.start_utc.desc(), EventRow.id.desc()).limit(limit)
        return [self._ref(tuple(r)) for r in self.s.execute(q)]

    def event_facets(self, fleet: str) -> tuple[list[str], list[str]]:
        in_fleet = (
            select(EventRow.type, Driver.code)
            .select_from(EventRow)
            .join(Trip, Trip.id == EventRow.trip_id)
            .join(Fleet, Fleet.id == Trip.fleet_id)
            .join(Driver, Driver.id == Trip.driver_id)
            .where(Fleet.code == fleet)
            .distinct()
        )
        pairs = list(self.s.execute(in_fleet))
        return sorted({t for t, _ in pairs}), sorted({d for _, d in pairs})

    def set_status(self, event_id: int, status: str, reason: str | None) -> None:
        self.s.execute(
            update(EventRow)
            .where(EventRow.id == event_id)
            .values(status=status, dismiss_reason=reason)
        )

    def log(self, event_id: int, username: str, action: str, detail: str | None) -> None:
        self.s.add(
            EventActivity(
                event_id=event_id, at=_now(), username=username, action=action, detail=detail
            )
        )
        self.s.flush()

    def activity(self, event_id: int) -> list[Activity]:
        rows = self.s.scalars(
            select(EventActivity)
            .where(EventActivity.event_id == event_id)
            .order_by(EventActivity.at, EventActivity.id)
        )
        return [Activity(_aware(r.at), r.username, r.action, r.detail) for r in rows]

    def add_note(
        self, fleet: str, driver: str, event_id: int | None, username: str, text: str
    ) -> None:
        self.s.add(
            CoachingNote(
                fleet_code=fleet,
                driver_code=driver,
                event_id=event_id,
                at=_now(),
                username=username,
                text=text,
            )
        )
        self.s.flush()

    def notes(self, fleet: str, driver: str) -> list[Note]:
        rows = self.s.scalars(
            select(CoachingNote)
            .where(CoachingNote.fleet_code == fleet, CoachingNote.driver_code == driver)
            .order_by(CoachingNote.at.desc(), CoachingNote.id.desc())
        )
        return [Note(_aware(r.at), r.username, r.text, r.event_id) for r in rows]

    def lock_fleet(self, fleet: str) -> None:
        """Hold the fleet's row until commit (PostgreSQL ``FOR NO KEY UPDATE``; SQLite has one writer
        anyway): concurrent rescoring of one fleet's week waits, then reads what the other
        committed, so the stored fleet-week score never misses an event."""
        # key_share=True renders NO KEY UPDATE: it does not wait for the KEY SHARE locks that inserting rows which refer
        # to the fleet takes (FOR UPDATE did: two such writers deadlocked).
        self.s.execute(select(Fleet.id).where(Fleet.code == fleet).with_for_update(key_share=True))

    def trip_head(self, trip_id: int) -> TripHead | None:
        r = self.s.execute(
            select(
                Trip.id,
                Trip.trip_key,
                Fleet.code,
                Driver.code,
                Trip.local_week,
                Trip.start_utc,
                Trip.duration_s,
                Trip.summary,
            )
            .join(Fleet, Fleet.id == Trip.fleet_id)
            .join(Driver, Driver.id == Trip.driver_id)
            .where(Trip.id == trip_id)
        ).first()
        if r is None:
            return None
        in_progress = bool((r[7] or {}).get("in_progress", False))
        return TripHead(r[0], r[1], r[2], r[3], r[4], _aware(r[5]), r[6], in_progress)

    def trip_exposure(self, trip_id: int) -> Exposure:
        t = self.s.get(Trip, trip_id)
        if t is None:
            raise KeyError(trip_id)
        counts = {
            k: int(n)
            for k, n in self.s.execute(
                select(EventRow.type, func.count(EventRow.id))
                .where(EventRow.trip_id == trip_id, EventRow.status != "dismissed")
                .group_by(EventRow.type)
            )
        }
        graded = manoeuvre_counts((t.summary or {}).get("manoeuvres"))
        return Exposure(t.distance_km, counts, t.duration_s, 1, graded)

    # --- devices and the ingest API ---------------------------------------------------------

    def add_device(self, token_sha256: str, fleet: str, device: str) -> None:
        self.s.add(
            DeviceToken(
                token_sha256=token_sha256,
                fleet_code=fleet,
                device_code=device,
                created_at=_now(),
                revoked=False,
            )
        )
        self.s.flush()

    def device(self, token_sha256: str) -> tuple[str, str] | None:
        row = self.s.execute(
            select(DeviceToken.fleet_code, DeviceToken.device_code).where(
                DeviceToken.token_sha256 == token_sha256, DeviceToken.revoked.is_(False)
            )
        ).first()
        return None if row is None else (row[0], row[1])

    def ingest_trip(self, fleet: str, device: str, external_id: str) -> tuple[int, str] | None:
        row = self.s.execute(
            select(IngestTrip.trip_id, IngestTrip.body_sha256).where(
                IngestTrip.fleet_code == fleet,
                IngestTrip.device_code == device,
                IngestTrip.external_id == external_id,
            )
        ).first()
        return None if row is None else (row[0], row[1])

    def add_ingest_trip(
        self, fleet: str, device: str, external_id: str, trip_id: int, body_sha256: str
    ) -> None:
        self.s.add(
            IngestTrip(
                fleet_code=fleet,
                device_code=device,
                external_id=external_id,
                trip_id=trip_id,
                body_sha256=body_sha256,
            )
        )
        self.s.flush()

    def complete_trip(
        self,
        trip_id: int,
        end_utc: dt.datetime,
        duration_s: float,
        distance_km: float,
        summary: dict[str, Any],
    ) -> None:
        self.s.execute(
            update(Trip)
            .where(Trip.id == trip_id)
            .values(
                end_utc=_naive(end_utc),
                duration_s=duration_s,
                distance_km=distance_km,
                summary=summary,
            )
        )

    def ingest_event(self, trip_id: int, external_id: str) -> tuple[int, str] | None:
        row = self.s.execute(
            select(IngestEvent.event_id, IngestEvent.body_sha256).where(
                IngestEvent.trip_id == trip_id, IngestEvent.external_id == external_id
            )
        ).first()
        return None if row is None else (row[0], row[1])

    def add_event(self, trip_id: int, event: EventRecord) -> int:
        seq = self.s.scalar(
            select(func.coalesce(func.max(EventRow.seq), -1)).where(EventRow.trip_id == trip_id)
        )
        row = EventRow(
            trip_id=trip_id,
            seq=int(seq if seq is not None else -1) + 1,
            type=event.type,
            start_s=event.start_s,
            end_s=event.end_s,
            start_utc=_naive(event.start_utc),
            direction=event.direction,
            severity=event.severity,
            confidence=event.confidence,
            lat=event.lat,
            lon=event.lon,
            speed_mps=event.speed_mps,
            peak=event.peak,
            evidence=event.evidence,
            clip_path=event.clip_path,
            snapshot_path=event.snapshot_path,
            status=event.status,
        )
        self.s.add(row)
        self.s.flush()
        self.s.execute(update(Trip).where(Trip.id == trip_id).values(n_events=Trip.n_events + 1))
        return row.id

    def add_ingest_event(
        self, trip_id: int, external_id: str, event_id: int, body_sha256: str
    ) -> None:
        self.s.add(
            IngestEvent(
                trip_id=trip_id,
                external_id=external_id,
                event_id=event_id,
                body_sha256=body_sha256,
            )
        )
        self.s.flush()

    def clip(self, event_id: int) -> ClipState | None:
        r = self.s.scalar(select(ClipUpload).where(ClipUpload.event_id == event_id))
        if r is None:
            return None
        return ClipState(r.event_id, r.length, r.offset, r.sha256, r.path, r.complete)

    def put_clip(self, state: ClipState) -> None:
        r = self.s.scalar(select(ClipUpload).where(ClipUpload.event_id == state.event_id))
        if r is None:
            r = ClipUpload(event_id=state.event_id)
            self.s.add(r)
        r.length, r.offset, r.sha256 = state.length, state.offset, state.sha256
        r.path, r.complete = state.path, state.complete
        try:
            self.s.flush()
        except IntegrityError:  # pragma: no cover - a concurrent first PATCH of the same clip
            raise ValueError(f"clip of event {state.event_id}: concurrent upload") from None

    def remove_clip(self, event_id: int) -> None:
        self.s.execute(delete(ClipUpload).where(ClipUpload.event_id == event_id))

    def set_event_clip(self, event_id: int, path: str) -> None:
        self.s.execute(update(EventRow).where(EventRow.id == event_id).values(clip_path=path))
