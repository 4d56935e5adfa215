"""Web port: users, sessions, the review queue, coaching notes, device tokens and what the
ingest API was sent — one more repository of the store's unit of work (``uow.web``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from saferoad.domain.scoring import Exposure
from saferoad.ports.store import EventRecord

ROLES = ("admin", "manager", "driver")


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    username: str
    role: str
    password_hash: str = field(repr=False)
    fleets: tuple[str, ...] = ()
    """The fleets a manager manages."""
    driver_fleet: str | None = None
    driver_code: str | None = None

    def sees_fleet(self, fleet: str) -> bool:
        return self.role == "admin" or (self.role == "manager" and fleet in self.fleets)

    def sees_driver(self, fleet: str, driver: str) -> bool:
        if self.role == "driver":
            return (fleet, driver) == (self.driver_fleet, self.driver_code)
        return self.sees_fleet(fleet)

    @property
    def can_review(self) -> bool:
        return self.role in ("admin", "manager")


@dataclass(frozen=True, slots=True)
class EventRef:
    """An event with who and what it belongs to (for access checks and the queue)."""

    id: int
    trip_id: int
    fleet: str
    driver: str
    week: str
    type: str
    severity: str
    start_utc: dt.datetime
    status: str
    dismiss_reason: str | None
    clip_path: str | None
    snapshot_path: str | None
    timezone: str = "UTC"
    trip_source: str = ""
    start_s: float = 0.0
    end_s: float = 0.0


@dataclass(frozen=True, slots=True)
class TripHead:
    """What rescoring and the ingest API need of a stored trip (no events, route, profile)."""

    id: int
    trip_key: str
    fleet: str
    driver: str
    week: str
    start_utc: dt.datetime
    duration_s: float
    in_progress: bool = False
    """Opened by a device during its drive; its summary (duration, distance) comes at the end."""


@dataclass(frozen=True, slots=True)
class Activity:
    at: dt.datetime
    username: str
    action: str
    detail: str | None


@dataclass(frozen=True, slots=True)
class Note:
    at: dt.datetime
    username: str
    text: str
    event_id: int | None


@dataclass(frozen=True, slots=True)
class ClipState:
    event_id: int
    length: int
    offset: int
    sha256: str
    path: str
    complete: bool


class WebRepository(Protocol):
    def add_user(
        self,
        username: str,
        password_hash: str,
        role: str,
        fleets: tuple[str, ...] = (),
        driver_fleet: str | None = None,
        driver_code: str | None = None,
    ) -> int: ...

    def user(self, username: str) -> UserInfo | None: ...

    def add_session(
        self, token_sha256: str, user_id: int, csrf: str, expires_at: dt.datetime
    ) -> None: ...

    def session(self, token_sha256: str) -> tuple[UserInfo, str, dt.datetime] | None: ...

    def remove_session(self, token_sha256: str) -> None: ...

    def event(self, event_id: int) -> EventRef | None: ...

    def events(
        self,
        fleets: list[str] | None,
        *,
        status: str | None = None,
        event_type: str | None = None,
        driver: str | None = None,
        limit: int = 500,
    ) -> list[EventRef]: ...

    def event_facets(self, fleet: str) -> tuple[list[str], list[str]]:
        """The event types and the drivers that a fleet's events have, sorted (queue filters)."""
        ...

    def set_status(self, event_id: int, status: str, reason: str | None) -> None: ...

    def log(self, event_id: int, username: str, action: str, detail: str | None) -> None: ...

    def activity(self, event_id: int) -> list[Activity]: ...

    def add_note(
        self, fleet: str, driver: str, event_id: int | None, username: str, text: str
    ) -> None: ...

    def notes(self, fleet: str, driver: str) -> list[Note]: ...

    def trip_exposure(self, trip_id: int) -> Exposure: ...

    def trip_head(self, trip_id: int) -> TripHead | None: ...

    def lock_fleet(self, fleet: str) -> None:
        """Serialise rescoring of one fleet until the unit of work ends."""
        ...

    def add_device(self, token_sha256: str, fleet: str, device: str) -> None: ...

    def device(self, token_sha256: str) -> tuple[str, str] | None: ...

    def ingest_trip(self, fleet: str, device: str, external_id: str) -> tuple[int, str] | None: ...

    def add_ingest_trip(
        self, fleet: str, device: str, external_id: str, trip_id: int, body_sha256: str
    ) -> None: ...

    def complete_trip(
        self,
        trip_id: int,
        end_utc: dt.datetime,
        duration_s: float,
        distance_km: float,
        summary: dict[str, Any],
    ) -> None:
        """Complete a trip opened during its drive: its end, duration, distance and summary."""
        ...

    def ingest_event(self, trip_id: int, external_id: str) -> tuple[int, str] | None: ...

    def add_event(self, trip_id: int, event: EventRecord) -> int:
        """Append an event to a stored trip (its ``seq`` is the next free one)."""
        ...

    def add_ingest_event(
        self, trip_id: int, external_id: str, event_id: int, body_sha256: str
    ) -> None: ...

    def clip(self, event_id: int) -> ClipState | None: ...

    def put_clip(self, state: ClipState) -> None: ...

    def remove_clip(self, event_id: int) -> None: ...

    def set_event_clip(self, event_id: int, path: str) -> None: ...
