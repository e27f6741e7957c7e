"""Schema migrations (Alembic), run programmatically on an async engine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from db.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _run(connection: Connection, action: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"the migration left rows without their parent: {broken[:5]}")


async def _migrate(engine: AsyncEngine, action: str, revision: str) -> None:
    """Run Alembic in one transaction. On SQLite it runs on a connection of its own with
    foreign keys off: a batch migration rebuilds a table by dropping it, and with foreign
    keys on, ON DELETE CASCADE would delete every row that refers to it (every award of
    every badge). The keys are checked before the commit instead."""
    if engine.dialect.name != "sqlite":
        async with engine.begin() as conn:
            await conn.run_sync(_run, action, revision)
        return
    plain = create_async_engine(engine.url, poolclass=NullPool)
    try:
        async with plain.begin() as conn:
            await conn.run_sync(_run, action, revision)
            await conn.run_sync(_check_foreign_keys)
    finally:
        await plain.dispose()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (the newest by default)."""
    await _migrate(engine, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _migrate(engine, "downgrade", revision)


def _current(connection: Connection) -> Any:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        revision: str | None = await conn.run_sync(_current)
    return revision


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


class DatabaseBehind(RuntimeError):
    """The database schema is older than this code and may not be upgraded automatically."""


async def prepare_database(database: Database) -> None:
    """Upgrade an SQLite database in place; refuse a PostgreSQL one that is behind (its
    operator upgrades it, once, with `badgebot db upgrade`, whatever the number of processes)."""
    if database.dialect == "sqlite":
        await upgrade(database.engine)
        return
    current = await current_revision(database.engine)
    if current != head_revision():
        raise DatabaseBehind(
            f"The database is at revision {current or 'empty'}, this code needs "
            f"{head_revision()}: run `badgebot db upgrade` first."
        )
