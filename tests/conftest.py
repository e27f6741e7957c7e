"""Shared fixtures. The storage backend is chosen by BADGEBOT_TEST_DATABASE_URL
(default: a fresh SQLite file per test); CI runs the suite once per backend."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from badges.permissions import Actor, Level
from badges.service import BadgeService
from db import migrate
from db.database import Database
from db.tables import Base
from tests.fakes import FakeDiscord

TEST_DATABASE_URL = os.environ.get("BADGEBOT_TEST_DATABASE_URL", "")
BACKEND = "postgresql" if TEST_DATABASE_URL.startswith("postgresql") else "sqlite"

GUILD = 1_000_000_000_000_001
OTHER_GUILD = 1_000_000_000_000_002

SUPER = Actor(900, "owner", Level.SUPER_ADMIN)
ADMIN = Actor(901, "admin", Level.ADMIN, manages_roles=True)
PLAIN_ADMIN = Actor(905, "admin without manage roles", Level.ADMIN)
MOD = Actor(902, "mod", Level.MODERATOR)
MEMBER = Actor(903, "member", Level.MEMBER)


def pytest_report_header() -> str:
    return f"badgebot storage backend: {BACKEND}"


async def _reset_postgres(url: str) -> None:
    database = Database(url)
    try:
        async with database.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await migrate.upgrade(database.engine)
    finally:
        await database.dispose()


async def _migrate_sqlite(path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate.upgrade(database.engine)
        async with database.engine.begin() as conn:
            await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per session: an SQLite template file, or the PostgreSQL test database."""
    if BACKEND == "postgresql":
        asyncio.run(_reset_postgres(TEST_DATABASE_URL))
        return TEST_DATABASE_URL
    path = tmp_path_factory.mktemp("template") / "badgebot.db"
    asyncio.run(_migrate_sqlite(path))
    return str(path)


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> str:
    """A migrated, empty database for one test."""
    if BACKEND == "postgresql":
        return migrated_template
    target = tmp_path / "badgebot.db"
    shutil.copyfile(migrated_template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    if database.dialect == "postgresql":
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with database.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield database
    await database.dispose()


@pytest.fixture
def discord_facts() -> FakeDiscord:
    """What the service is told about Discord in storage tests (adjust it in a test)."""
    return FakeDiscord()


@pytest.fixture
def service(database: Database, discord_facts: FakeDiscord) -> BadgeService:
    return BadgeService(database, directory=discord_facts)
