"""SQLAlchemy 2 models of the trip store: fleet, vehicle, driver, device, trip, event, score.

Ids users know (``D-007``, ``TX-1042``) are ``code`` columns, unique within their fleet; rows are
joined by integer surrogate keys. Times are naive UTC ``DateTime`` (the same in SQLite and
PostgreSQL); each trip keeps its IANA time zone and its local ISO week for reports.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Fleet(Base):
    __tablename__ = "fleet"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(128), unique=True)


class Vehicle(Base):
    __tablename__ = "vehicle"
    __table_args__ = (UniqueConstraint("fleet_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fleet_id: Mapped[int] = mapped_column(ForeignKey("fleet.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(32), default="car")


class Driver(Base):
    __tablename__ = "driver"
    __table_args__ = (UniqueConstraint("fleet_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fleet_id: Mapped[int] = mapped_column(ForeignKey("fleet.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(128))


class Device(Base):
    __tablename__ = "device"
    __table_args__ = (UniqueConstraint("fleet_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fleet_id: Mapped[int] = mapped_column(ForeignKey("fleet.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(128))


class Trip(Base):
    """One analysed recording."""

    __tablename__ = "trip"
    __table_args__ = (
        Index("ix_trip_driver_week", "driver_id", "local_week"),
        Index("ix_trip_fleet_week", "fleet_id", "local_week"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trip_key: Mapped[str] = mapped_column(String(64), unique=True)
    """Natural key: hash of fleet, device, vehicle and start time (one recording)."""
    content_hash: Mapped[str] = mapped_column(String(64))
    """Hash of what was ingested (events, summary, timeline, overrides)."""
    fleet_id: Mapped[int] = mapped_column(ForeignKey("fleet.id", ondelete="CASCADE"))
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id", ondelete="CASCADE"))
    driver_id: Mapped[int] = mapped_column(ForeignKey("driver.id", ondelete="CASCADE"))
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"))
    start_utc: Mapped[dt.datetime] = mapped_column(DateTime())
    end_utc: Mapped[dt.datetime] = mapped_column(DateTime())
    timezone: Mapped[str] = mapped_column(String(64))
    local_week: Mapped[str] = mapped_column(String(8))
    distance_km: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float)
    n_events: Mapped[int] = mapped_column(Integer)
    source_path: Mapped[str] = mapped_column(String(1024))
    route: Mapped[Any] = mapped_column(JSON)
    """Simplified GPS polyline ``[[lat, lon], ...]``."""
    profile: Mapped[Any] = mapped_column(JSON)
    """Decimated timeline ``{"t_s": [...], "speed_mps": [...], ...}`` for reports."""
    summary: Mapped[Any] = mapped_column(JSON)
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime())

    events: Mapped[list[EventRow]] = relationship(
        back_populates="trip", cascade="all, delete-orphan", order_by="EventRow.seq"
    )


class EventRow(Base):
    __tablename__ = "event"
    __table_args__ = (UniqueConstraint("trip_id", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trip_id: Mapped[int] = mapped_column(ForeignKey("trip.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64), index=True)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    start_utc: Mapped[dt.datetime] = mapped_column(DateTime())
    direction: Mapped[str | None] = mapped_column(String(16), nullable=True)
    severity: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    speed_mps: Mapped[float | None] = mapped_column(Float, nullable=True)
    peak: Mapped[Any] = mapped_column(JSON)
    evidence: Mapped[Any] = mapped_column(JSON)
    clip_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    snapshot_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="needs_review", index=True)
    """Review status (``saferoad.domain.review.ReviewStatus``); ``dismissed`` leaves scores."""
    dismiss_reason: Mapped[str | None] = mapped_column(String(512), nullable=True)

    trip: Mapped[Trip] = relationship(back_populates="events")


class ScoreRow(Base):
    """A stored score: ``scope`` is ``trip``, ``driver_week`` or ``fleet_week``; ``subject`` the
    trip key, driver code or fleet code."""

    __tablename__ = "score"
    __table_args__ = (UniqueConstraint("scope", "fleet_id", "subject", "week"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    fleet_id: Mapped[int] = mapped_column(ForeignKey("fleet.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(128))
    week: Mapped[str] = mapped_column(String(8))
    trip_id: Mapped[int | None] = mapped_column(
        ForeignKey("trip.id", ondelete="CASCADE"), nullable=True, index=True
    )
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    raw: Mapped[float] = mapped_column(Float)
    distance_km: Mapped[float] = mapped_column(Float)
    n_events: Mapped[int] = mapped_column(Integer)
    rates: Mapped[Any] = mapped_column(JSON)
    impacts: Mapped[Any] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    config_fingerprint: Mapped[str] = mapped_column(String(32))
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime())
