"""Tables of the web app and the device ingest API (migration ``0002``).

Users and their fleets, server-side login sessions, the activity log and coaching notes of the
review queue, device tokens, and what the ingest API was sent (to answer a retried request the
same way: ids chosen by the device, with the hash of the body first stored under each).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from saferoad.adapters.sql.models import Base


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    """``admin``, ``manager`` or ``driver``."""
    driver_fleet: Mapped[str | None] = mapped_column(String(128), nullable=True)
    driver_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    """For a driver: the fleet and driver code whose data they see."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime())


class UserFleet(Base):
    """The fleets a manager manages (by code: a fleet appears with its first trip)."""

    __tablename__ = "user_fleet"
    __table_args__ = (UniqueConstraint("user_id", "fleet_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    fleet_code: Mapped[str] = mapped_column(String(128))


class WebSession(Base):
    __tablename__ = "web_session"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime())


class EventActivity(Base):
    """One line of an event's activity log (a status change, a note)."""

    __tablename__ = "event_activity"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime())
    username: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class CoachingNote(Base):
    __tablename__ = "coaching_note"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fleet_code: Mapped[str] = mapped_column(String(128), index=True)
    driver_code: Mapped[str] = mapped_column(String(128), index=True)
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("event.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[dt.datetime] = mapped_column(DateTime())
    username: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)


class DeviceToken(Base):
    """A device's bearer token (only its SHA-256 is kept) and the fleet it may send to."""

    __tablename__ = "device_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    fleet_code: Mapped[str] = mapped_column(String(128))
    device_code: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class IngestTrip(Base):
    """A trip sent through the ingest API: the device's id for it and the hash of the body."""

    __tablename__ = "ingest_trip"
    __table_args__ = (UniqueConstraint("fleet_code", "device_code", "external_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fleet_code: Mapped[str] = mapped_column(String(128))
    device_code: Mapped[str] = mapped_column(String(128))
    external_id: Mapped[str] = mapped_column(String(128))
    trip_id: Mapped[int] = mapped_column(ForeignKey("trip.id", ondelete="CASCADE"), index=True)
    body_sha256: Mapped[str] = mapped_column(String(64))


class IngestEvent(Base):
    __tablename__ = "ingest_event"
    __table_args__ = (UniqueConstraint("trip_id", "external_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trip_id: Mapped[int] = mapped_column(ForeignKey("trip.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    body_sha256: Mapped[str] = mapped_column(String(64))


class ClipUpload(Base):
    """A resumable clip upload: bytes stored so far, the announced length and SHA-256."""

    __tablename__ = "clip_upload"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), unique=True)
    length: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1024))
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
