"""The store on SQLAlchemy: SQLite (a file, WAL journal) or PostgreSQL (psycopg 3) by URL.

:func:`open_store` creates the engine and brings the schema to the newest Alembic revision
(the migrations ship inside the package), so a new database file or an old one just works.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine, create_engine, delete, event, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from saferoad.adapters.sql import web_models  # noqa: F401  (registers the web tables)
from saferoad.adapters.sql.migrate import upgrade
from saferoad.adapters.sql.models import (
    Device,
    Driver,
    EventRow,
    Fleet,
    ScoreRow,
    Trip,
    Vehicle,
)
from saferoad.adapters.sql.web_store import SqlWebRepository
from saferoad.domain.scoring import Exposure, Score, manoeuvre_counts
from saferoad.ports.store import (
    EventRecord,
    ScoreRecord,
    TripBrief,
    TripIds,
    TripRecord,
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _naive_utc(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t


def _aware(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


def make_engine(url: str, busy_timeout_s: float = 30.0) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and a busy timeout."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"database URL {url!r} is not a valid SQLAlchemy URL") from None
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": busy_timeout_s})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy issue BEGIN itself so a whole unit of work is one transaction.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


class SqlStore:
    """The :class:`saferoad.ports.store.Store` on a SQLAlchemy engine."""

    def __init__(self, url: str, *, busy_timeout_s: float = 30.0, migrate: bool = True) -> None:
        self._url = url
        self.engine = make_engine(url, busy_timeout_s)
        if migrate:
            upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # SQLite has one writer at a time and every unit of work begins IMMEDIATE: threads of
        # one process (the web app's) queue on this lock instead of in SQLite's busy handler,
        # which sleeps up to 100 ms between tries. Re-entrant: a nested unit of work in the same
        # thread waits in SQLite as before.
        self._writer = threading.RLock() if self.engine.dialect.name == "sqlite" else None

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions, self._writer)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(url: str, *, busy_timeout_s: float = 30.0) -> SqlStore:
    """Open (and migrate) the store at ``url``."""
    return SqlStore(url, busy_timeout_s=busy_timeout_s)


class SqlUnitOfWork:
    trips: SqlTripRepository
    scores: SqlScoreRepository
    web: SqlWebRepository

    def __init__(
        self, sessions: sessionmaker[Session], writer: threading.RLock | None = None
    ) -> None:
        self._sessions = sessions
        self._writer = writer
        self.session: Session | None = None

    def __enter__(self) -> Self:
        if self._writer is not None:
            self._writer.acquire()
        try:
            self.session = self._sessions()
            self.session.begin()
        except BaseException:
            if self.session is not None:
                self.session.close()
                self.session = None
            if self._writer is not None:
                self._writer.release()
            raise
        self.trips = SqlTripRepository(self.session)
        self.scores = SqlScoreRepository(self.session)
        self.web = SqlWebRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.session is not None
        try:
            self.session.rollback()
        finally:
            self.session.close()
            self.session = None
            if self._writer is not None:
                self._writer.release()

    def commit(self) -> None:
        assert self.session is not None
        self.session.commit()
        self.session.begin()

    def rollback(self) -> None:
        assert self.session is not None
        self.session.rollback()
        self.session.begin()


class _Codes:
    """Get-or-create of fleets, vehicles, drivers and devices by code, cached per session."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self._cache: dict[tuple[str, int, str], int] = {}

    def fleet(self, code: str) -> int:
        key = ("fleet", 0, code)
        if key not in self._cache:
            fid = self.s.scalar(select(Fleet.id).where(Fleet.code == code))
            if fid is None:
                row = Fleet(code=code)
                self.s.add(row)
                self.s.flush()
                fid = row.id
            self._cache[key] = fid
        return self._cache[key]

    def member(
        self, model: type[Vehicle | Driver | Device], fleet_id: int, code: str, **kw: Any
    ) -> int:
        key = (model.__tablename__, fleet_id, code)
        if key not in self._cache:
            rid = self.s.scalar(
                select(model.id).where(model.fleet_id == fleet_id, model.code == code)
            )
            if rid is None:
                row = model(fleet_id=fleet_id, code=code, **kw)
                self.s.add(row)
                self.s.flush()
                rid = row.id
            self._cache[key] = rid
        return self._cache[key]


class SqlTripRepository:
    def __init__(self, session: Session) -> None:
        self.s = session
        self.codes = _Codes(session)

    def find(self, trip_key: str) -> tuple[int, str] | None:
        row = self.s.execute(
            select(Trip.id, Trip.content_hash).where(Trip.trip_key == trip_key)
        ).first()
        return (row[0], row[1]) if row else None

    def add(self, trip: TripRecord) -> int:
        fid = self.codes.fleet(trip.ids.fleet)
        row = Trip(
            trip_key=trip.trip_key,
            content_hash=trip.content_hash,
            fleet_id=fid,
            vehicle_id=self.codes.member(
                Vehicle, fid, trip.ids.vehicle, type=trip.ids.vehicle_type
            ),
            driver_id=self.codes.member(Driver, fid, trip.ids.driver),
            device_id=self.codes.member(Device, fid, trip.ids.device),
            start_utc=_naive_utc(trip.start_utc),
            end_utc=_naive_utc(trip.end_utc),
            timezone=trip.timezone,
            local_week=trip.local_week,
            distance_km=trip.distance_km,
            duration_s=trip.duration_s,
            n_events=len(trip.events),
            source_path=trip.source_path,
            route=trip.route,
            profile=trip.profile,
            summary=trip.summary,
            ingested_at=_utcnow(),
        )
        self.s.add(row)
        self.s.flush()
        if trip.events:
            self.s.execute(
                insert(EventRow),
                [
                    {
                        "trip_id": row.id,
                        "seq": e.seq,
                        "type": e.type,
                        "start_s": e.start_s,
                        "end_s": e.end_s,
                        "start_utc": _naive_utc(e.start_utc),
                        "direction": e.direction,
                        "severity": e.severity,
                        "confidence": e.confidence,
                        "lat": e.lat,
                        "lon": e.lon,
                        "speed_mps": e.speed_mps,
                        "peak": e.peak,
                        "evidence": e.evidence,
                        "clip_path": e.clip_path,
                        "snapshot_path": e.snapshot_path,
                        "status": e.status,
                        "dismiss_reason": e.dismiss_reason,
                    }
                    for e in trip.events
                ],
            )
        return row.id

    def remove(self, trip_id: int) -> None:
        self.s.execute(delete(ScoreRow).where(ScoreRow.trip_id == trip_id))
        self.s.execute(delete(EventRow).where(EventRow.trip_id == trip_id))
        self.s.execute(delete(Trip).where(Trip.id == trip_id))

    def _ids(self, trip_id: int) -> TripIds:
        row = self.s.execute(
            select(Fleet.code, Vehicle.code, Driver.code, Device.code, Vehicle.type)
            .select_from(Trip)
            .join(Fleet, Fleet.id == Trip.fleet_id)
            .join(Vehicle, Vehicle.id == Trip.vehicle_id)
            .join(Driver, Driver.id == Trip.driver_id)
            .join(Device, Device.id == Trip.device_id)
            .where(Trip.id == trip_id)
        ).one()
        return TripIds(row[0], row[1], row[2], row[3], row[4])

    def get(self, trip_id: int) -> TripRecord | None:
        t = self.s.get(Trip, trip_id)
        if t is None:
            return None
        events = [
            EventRecord(
                seq=e.seq,
                type=e.type,
                start_s=e.start_s,
                end_s=e.end_s,
                start_utc=_aware(e.start_utc),
                severity=e.severity,
                confidence=e.confidence,
                direction=e.direction,
                lat=e.lat,
                lon=e.lon,
                speed_mps=e.speed_mps,
                peak=dict(e.peak or {}),
                evidence=dict(e.evidence or {}),
                clip_path=e.clip_path,
                snapshot_path=e.snapshot_path,
                status=e.status,
                dismiss_reason=e.dismiss_reason,
                id=e.id,
            )
            for e in self.s.scalars(
                select(EventRow).where(EventRow.trip_id == trip_id).order_by(EventRow.seq)
            )
        ]
        return TripRecord(
            trip_key=t.trip_key,
            content_hash=t.content_hash,
            ids=self._ids(trip_id),
            start_utc=_aware(t.start_utc),
            end_utc=_aware(t.end_utc),
            timezone=t.timezone,
            local_week=t.local_week,
            distance_km=t.distance_km,
            duration_s=t.duration_s,
            source_path=t.source_path,
            route=t.route,
            profile=t.profile,
            summary=t.summary,
            events=events,
            id=t.id,
        )

    def briefs(
        self, fleet: str | None = None, week: str | None = None, driver: str | None = None
    ) -> list[TripBrief]:
        q = (
            select(
                Trip.id,
                Trip.trip_key,
                Fleet.code,
                Vehicle.code,
                Driver.code,
                Device.code,
                Vehicle.type,
                Trip.start_utc,
                Trip.timezone,
                Trip.local_week,
                Trip.distance_km,
                Trip.duration_s,
                Trip.n_events,
            )
            .select_from(Trip)
            .join(Fleet, Fleet.id == Trip.fleet_id)
            .join(Vehicle, Vehicle.id == Trip.vehicle_id)
            .join(Driver, Driver.id == Trip.driver_id)
            .join(Device, Device.id == Trip.device_id)
            .order_by(Trip.start_utc, Trip.id)
        )
        if fleet is not None:
            q = q.where(Fleet.code == fleet)
        if week is not None:
            q = q.where(Trip.local_week == week)
        if driver is not None:
            q = q.where(Driver.code == driver)
        return [
            TripBrief(
                id=r[0],
                trip_key=r[1],
                ids=TripIds(r[2], r[3], r[4], r[5], r[6]),
                start_utc=_aware(r[7]),
                timezone=r[8],
                local_week=r[9],
                distance_km=r[10],
                duration_s=r[11],
                n_events=r[12],
            )
            for r in self.s.execute(q)
        ]

    def exposures(self, fleet: str, week: str | None = None) -> dict[str, Exposure]:
        trips = (
            select(
                Driver.code,
                func.sum(Trip.distance_km),
                func.sum(Trip.duration_s),
                func.count(Trip.id),
            )
            .select_from(Trip)
            .join(Driver, Driver.id == Trip.driver_id)
            .join(Fleet, Fleet.id == Trip.fleet_id)
            .where(Fleet.code == fleet)
            .group_by(Driver.code)
        )
        events = (
            select(Driver.code, EventRow.type, func.count(EventRow.id))
            .select_from(EventRow)
            .join(Trip, Trip.id == EventRow.trip_id)
            .join(Driver, Driver.id == Trip.driver_id)
            .join(Fleet, Fleet.id == Trip.fleet_id)
            .where(Fleet.code == fleet, EventRow.status != "dismissed")
            .group_by(Driver.code, EventRow.type)
        )
        # graded manoeuvres below the harsh band: summary.json's "manoeuvres", summed per driver
        graded = (
            select(Driver.code, Trip.summary["manoeuvres"])
            .select_from(Trip)
            .join(Driver, Driver.id == Trip.driver_id)
            .join(Fleet, Fleet.id == Trip.fleet_id)
            .where(Fleet.code == fleet)
        )
        if week is not None:
            trips = trips.where(Trip.local_week == week)
            events = events.where(Trip.local_week == week)
            graded = graded.where(Trip.local_week == week)
        counts: dict[str, dict[str, int]] = {}
        for code, etype, n in self.s.execute(events):
            counts.setdefault(code, {})[etype] = int(n)
        manoeuvres: dict[str, dict[str, int]] = {}
        for code, m in self.s.execute(graded):
            into = manoeuvres.setdefault(code, {})
            for key, n in manoeuvre_counts(m).items():
                into[key] = into.get(key, 0) + n
        return {
            code: Exposure(
                float(dist or 0.0),
                counts.get(code, {}),
                float(dur or 0.0),
                int(n),
                manoeuvres.get(code, {}),
            )
            for code, dist, dur, n in self.s.execute(trips)
        }

    def fleets_of_driver(self, driver: str) -> list[str]:
        q = (
            select(Fleet.code)
            .join(Driver, Driver.fleet_id == Fleet.id)
            .where(Driver.code == driver)
            .order_by(Fleet.code)
        )
        return list(self.s.scalars(q))

    def fleets(self) -> list[str]:
        return list(self.s.scalars(select(Fleet.code).order_by(Fleet.code)))

    def weeks(self, fleet: str, driver: str | None = None) -> list[str]:
        q = (
            select(Trip.local_week)
            .join(Fleet, Fleet.id == Trip.fleet_id)
            .where(Fleet.code == fleet)
            .distinct()
            .order_by(Trip.local_week)
        )
        if driver is not None:
            q = q.join(Driver, Driver.id == Trip.driver_id).where(Driver.code == driver)
        return list(self.s.scalars(q))

    def count(self) -> tuple[int, int]:
        n_trips = self.s.scalar(select(func.count(Trip.id))) or 0
        n_events = self.s.scalar(select(func.count(EventRow.id))) or 0
        return int(n_trips), int(n_events)


class SqlScoreRepository:
    def __init__(self, session: Session) -> None:
        self.s = session
        self.codes = _Codes(session)

    def put(self, score: ScoreRecord) -> None:
        fid = self.codes.fleet(score.fleet)
        row = self.s.scalar(
            select(ScoreRow).where(
                ScoreRow.scope == score.scope,
                ScoreRow.fleet_id == fid,
                ScoreRow.subject == score.subject,
                ScoreRow.week == score.week,
            )
        )
        if row is None:
            row = ScoreRow(scope=score.scope, fleet_id=fid, subject=score.subject, week=score.week)
            self.s.add(row)
        row.trip_id = score.trip_id
        row.value = score.score.value
        row.raw = score.score.raw
        row.distance_km = score.score.distance_km
        row.n_events = score.score.n_events
        row.rates = score.score.rates
        row.impacts = score.score.impacts
        row.reason = score.score.reason
        row.config_fingerprint = score.config_fingerprint
        row.computed_at = _utcnow()
        self.s.flush()

    def add(self, score: ScoreRecord) -> None:
        self.s.execute(
            insert(ScoreRow),
            [
                {
                    "scope": score.scope,
                    "fleet_id": self.codes.fleet(score.fleet),
                    "subject": score.subject,
                    "week": score.week,
                    "trip_id": score.trip_id,
                    "value": score.score.value,
                    "raw": score.score.raw,
                    "distance_km": score.score.distance_km,
                    "n_events": score.score.n_events,
                    "rates": score.score.rates,
                    "impacts": score.score.impacts,
                    "reason": score.score.reason,
                    "config_fingerprint": score.config_fingerprint,
                    "computed_at": _utcnow(),
                }
            ],
        )

    def get(self, scope: str, fleet: str, subject: str, week: str) -> ScoreRecord | None:
        row = self.s.scalar(
            select(ScoreRow)
            .join(Fleet, Fleet.id == ScoreRow.fleet_id)
            .where(
                ScoreRow.scope == scope,
                Fleet.code == fleet,
                ScoreRow.subject == subject,
                ScoreRow.week == week,
            )
        )
        if row is None:
            return None
        return ScoreRecord(
            scope=row.scope,
            fleet=fleet,
            subject=row.subject,
            week=row.week,
            score=Score(
                value=row.value,
                raw=row.raw,
                distance_km=row.distance_km,
                n_events=row.n_events,
                rates=dict(row.rates or {}),
                impacts=dict(row.impacts or {}),
                reason=row.reason,
            ),
            config_fingerprint=row.config_fingerprint,
            trip_id=row.trip_id,
        )

    def remove(self, scope: str, fleet: str, subject: str, week: str) -> None:
        fid = self.codes.fleet(fleet)
        self.s.execute(
            delete(ScoreRow).where(
                ScoreRow.scope == scope,
                ScoreRow.fleet_id == fid,
                ScoreRow.subject == subject,
                ScoreRow.week == week,
            )
        )

    def count(self) -> int:
        return int(self.s.scalar(select(func.count(ScoreRow.id))) or 0)
