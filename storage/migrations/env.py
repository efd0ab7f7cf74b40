"""Alembic environment: run by `storage.database.migrate` with a connection it passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from storage.models import Base

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `engage init` (storage.database.migrate)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
