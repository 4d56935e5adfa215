"""Store port: trips, events and scores behind a repository and a unit of work.

The pattern of "Architecture Patterns with Python" (Percival & Gregory, ch. 2 and 6): use cases
talk to repositories of plain records, and a unit of work makes everything between ``with``
and ``commit()`` one transaction — leaving the block without ``commit()`` (an exception, a
killed process) leaves the store as it was. ``saferoad.adapters.sql`` implements it for SQLite
and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self

from saferoad.domain.scoring import Exposure, Score, manoeuvre_counts


@dataclass(frozen=True, slots=True)
class TripIds:
    """Who drove what: the codes users know, as in ``meta.toml``."""

    fleet: str
    vehicle: str
    driver: str
    device: str
    vehicle_type: str = "car"


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event of a trip as stored (``seq`` is its order in ``events.jsonl``)."""

    seq: int
    type: str
    start_s: float
    end_s: float
    start_utc: dt.datetime
    severity: str
    confidence: float
    direction: str | None = None
    lat: float | None = None
    lon: float | None = None
    speed_mps: float | None = None
    peak: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    clip_path: str | None = None
    snapshot_path: str | None = None
    status: str = "needs_review"
    """Review status (``saferoad.domain.review.ReviewStatus``); a dismissed event is not counted."""
    dismiss_reason: str | None = None
    id: int | None = None
    """The stored row's id (set when read back)."""


@dataclass(frozen=True, slots=True)
class TripRecord:
    """One analysed recording, ready to store or as read back (``id`` set when stored)."""

    trip_key: str
    content_hash: str
    ids: TripIds
    start_utc: dt.datetime
    end_utc: dt.datetime
    timezone: str
    local_week: str
    distance_km: float
    duration_s: float
    source_path: str
    route: list[list[float]]
    profile: dict[str, list[float | None]]
    summary: dict[str, Any]
    events: list[EventRecord]
    id: int | None = None

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for ev in self.events:
            if ev.status != "dismissed":
                out[ev.type] = out.get(ev.type, 0) + 1
        return out

    def exposure(self) -> Exposure:
        """Distance, events and graded manoeuvres (summary.json ``manoeuvres``) of the trip."""
        graded = manoeuvre_counts(self.summary.get("manoeuvres"))
        return Exposure(self.distance_km, self.counts, self.duration_s, 1, graded)


@dataclass(frozen=True, slots=True)
class TripBrief:
    """A trip without its events, route and profile (for listings)."""

    id: int
    trip_key: str
    ids: TripIds
    start_utc: dt.datetime
    timezone: str
    local_week: str
    distance_km: float
    duration_s: float
    n_events: int


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    """A stored score (``scope``: ``trip``, ``driver_week`` or ``fleet_week``) of ``subject``
    (a trip key, a driver or the fleet) in ``week``, with the scoring config it was made under."""

    scope: str
    fleet: str
    subject: str
    week: str
    score: Score
    config_fingerprint: str
    trip_id: int | None = None


class TripRepository(Protocol):
    def find(self, trip_key: str) -> tuple[int, str] | None:
        """``(id, content_hash)`` of the stored trip with this natural key, if any."""
        ...

    def add(self, trip: TripRecord) -> int: ...

    def remove(self, trip_id: int) -> None: ...

    def get(self, trip_id: int) -> TripRecord | None: ...

    def briefs(
        self, fleet: str | None = None, week: str | None = None, driver: str | None = None
    ) -> list[TripBrief]: ...

    def exposures(self, fleet: str, week: str | None = None) -> dict[str, Exposure]:
        """Distance, time, trips and event counts per driver code of ``fleet`` (in ``week``)."""
        ...

    def fleets_of_driver(self, driver: str) -> list[str]: ...

    def fleets(self) -> list[str]: ...

    def weeks(self, fleet: str, driver: str | None = None) -> list[str]: ...

    def count(self) -> tuple[int, int]:
        """``(trips, events)`` stored."""
        ...


class ScoreRepository(Protocol):
    def put(self, score: ScoreRecord) -> None:
        """Insert or replace the score of ``(scope, fleet, subject, week)``."""
        ...

    def add(self, score: ScoreRecord) -> None:
        """Insert a score known to be new (a new trip's)."""
        ...

    def get(self, scope: str, fleet: str, subject: str, week: str) -> ScoreRecord | None: ...

    def remove(self, scope: str, fleet: str, subject: str, week: str) -> None: ...

    def count(self) -> int: ...


class UnitOfWork(Protocol):
    @property
    def trips(self) -> TripRepository: ...

    @property
    def scores(self) -> ScoreRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class Store(Protocol):
    @property
    def url(self) -> str: ...

    def unit_of_work(self) -> UnitOfWork: ...

    def close(self) -> None: ...
