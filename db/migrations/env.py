"""Alembic environment: runs migrations on the connection handed over by db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from db.tables import Base

config = context.config
target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `badgebot db upgrade` (db.migrate)")
run_on(connection)
