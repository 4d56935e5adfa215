"""The on-device spool (SQLite, WAL, fsynced)."""

from saferoad.adapters.spool.sqlite import SqliteSpool

__all__ = ["SqliteSpool"]
