"""Trip and event database."""

from __future__ import annotations

from pydantic import Field

from saferoad.config.base import Section


class StoreConfig(Section):
    """Trip and event database."""

    url: str = Field(
        "sqlite:///saferoad.db",
        description=(
            "SQLAlchemy database URL: a SQLite file (default, WAL journal) or PostgreSQL, e.g. "
            "postgresql+psycopg://user@host/db. The SAFEROAD_DB_URL environment variable and "
            "--db override it."
        ),
    )
    sqlite_busy_timeout_s: float = Field(
        30.0, ge=0, description="How long a SQLite writer waits for another writer's lock (s)."
    )
    route_tolerance_m: float = Field(
        5.0,
        ge=0,
        description="Douglas-Peucker tolerance (m) for the stored route polyline (shapely simplify).",
    )
    profile_hz: float = Field(
        1.0,
        gt=0,
        le=10,
        description="Rate (Hz) of the speed/acceleration profile kept per trip for reports "
        "(the analyze timeline is 10 Hz).",
    )
