"""More requests at once than the database has connections for: a clear refusal, not a crash
(both backends)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy.exc
from sqlalchemy.ext.asyncio import AsyncConnection

from api import create_app
from badges.errors import Busy
from badges.service import BadgeService
from db.database import Database
from tests.api.conftest import BASE, api_settings, bearer
from tests.conftest import ADMIN, GUILD, MOD, SUPER
from tests.db.helpers import snapshot
from tests.fakes import FakeDiscord


@contextlib.asynccontextmanager
async def every_connection_taken(database: Database) -> AsyncIterator[None]:
    """Hold every connection the pool can give, as a burst of slow commands would."""
    held: list[AsyncConnection] = []
    try:
        for _ in range(100):
            try:
                held.append(await database.engine.connect())
            except sqlalchemy.exc.TimeoutError:
                break
        assert len(held) < 100, "the pool never ran out"
        yield
    finally:
        for conn in held:
            await conn.close()


@pytest.fixture
async def small(database: Database, database_url: str) -> AsyncIterator[Database]:
    """The test database (emptied by ``database``), through a pool of 1 that waits 0.2 s."""
    small = Database(database_url, pool_size=1, pool_timeout=0.2)
    yield small
    await small.dispose()


async def test_a_command_waiting_too_long_for_a_connection_is_refused_and_changes_nothing(
    small: Database,
) -> None:
    service = BadgeService(small, directory=FakeDiscord())
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper")
    before = await snapshot(small)
    async with every_connection_taken(small):
        with pytest.raises(Busy) as refused:
            await service.awards.award(MOD, GUILD, badge.id, 42)
        with pytest.raises(Busy):
            await service.awards.of_member(GUILD, 42, offset=0, limit=6)
    assert (refused.value.code, refused.value.status) == ("busy", 503)
    assert "Try again in 5 seconds" in refused.value.message
    assert await snapshot(small) == before  # nothing half-done
    await service.awards.award(MOD, GUILD, badge.id, 42)  # and it works again after
    assert (await service.awards.of_member(GUILD, 42, offset=0, limit=6)).total == 1


async def test_the_api_answers_503_with_retry_after_when_no_connection_is_free(
    small: Database, database_url: str
) -> None:
    service = BadgeService(small, directory=FakeDiscord())
    issued = await service.tokens.create(SUPER, GUILD, ADMIN.level, "Admin app")
    app = create_app(api_settings(database_url), service=service, database=small)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            async with every_connection_taken(small):
                busy = await client.get(f"{BASE}/badges", headers=bearer(issued.secret))
            after = await client.get(f"{BASE}/badges", headers=bearer(issued.secret))
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "5"
    assert busy.json()["error"]["code"] == "busy"
    assert after.status_code == 200
