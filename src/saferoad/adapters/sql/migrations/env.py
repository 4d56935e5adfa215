"""Alembic environment: runs on the connection ``saferoad.adapters.sql.migrate`` passes in."""

from __future__ import annotations

from alembic import context

from saferoad.adapters.sql import web_models  # noqa: F401  (its tables are in Base.metadata)
from saferoad.adapters.sql.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through saferoad.adapters.sql.migrate (open_store)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
