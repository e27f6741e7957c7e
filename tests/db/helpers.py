"""Helpers for storage tests: read the database as it is, not through the service."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from db.database import Database
from db.tables import Base


async def snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: equal snapshots mean nothing changed."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with database.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = (await conn.execute(select(table))).all()
            out[table.name] = sorted((tuple(map(repr, r)) for r in rows), key=repr)
    return out
