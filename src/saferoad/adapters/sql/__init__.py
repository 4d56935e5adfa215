"""SQL store: SQLAlchemy models, Alembic migrations, repositories and unit of work."""

from saferoad.adapters.sql.store import SqlStore, open_store

__all__ = ["SqlStore", "open_store"]
