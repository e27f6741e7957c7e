"""The badge list is served from memory until the guild changes: here at once, from another
process within a second or two (the change feed)."""

from __future__ import annotations

import asyncio

import httpx

from api import create_app
from badges.service import BadgeService
from db.database import Database
from tests.api.conftest import BASE, api_settings
from tests.conftest import ADMIN, GUILD, MOD

ALICE = 80_351_110_224_678_912


async def _counts(client: httpx.AsyncClient) -> list[int]:
    return [b["awardedCount"] for b in (await client.get(f"{BASE}/badges")).json()["badges"]]


async def test_a_change_here_shows_at_once(
    client: httpx.AsyncClient, service: BadgeService
) -> None:
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper")
    assert await _counts(client) == [0]
    assert await _counts(client) == [0]  # served from memory now
    await service.awards.award(MOD, GUILD, badge.id, ALICE)
    assert await _counts(client) == [1]
    await service.catalog.update(ADMIN, GUILD, badge.id, name="Renamed")
    listed = (await client.get(f"{BASE}/badges")).json()["badges"]
    assert [b["name"] for b in listed] == ["Renamed"]


async def test_a_change_from_another_process_shows_within_seconds(
    database: Database, database_url: str
) -> None:
    del database  # only for its empty tables
    app = create_app(api_settings(database_url))  # its own engine, as `badgebot api` runs it
    other = Database(database_url)  # another process: the bot, another worker
    try:
        service = BadgeService(other)
        badge = await service.catalog.create(ADMIN, GUILD, name="Helper")
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                assert await _counts(client) == [0]
                await service.awards.award(MOD, GUILD, badge.id, ALICE)
                for _ in range(60):
                    if await _counts(client) == [1]:
                        break
                    await asyncio.sleep(0.05)
                assert await _counts(client) == [1]
    finally:
        await other.dispose()
