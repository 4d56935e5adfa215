"""The on-device spool (SQLite, WAL, fsynced)."""

from saferoad.adapters.spool.sqlite import Job, SqliteSpool

__all__ = ["Job", "SqliteSpool"]
