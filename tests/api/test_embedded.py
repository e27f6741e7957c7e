"""The API inside the bot's process (`BADGEBOT_API_PORT`): served by uvicorn on the bot's
event loop, on the bot's service and database, and stopped with the bot."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import httpx

from badges.service import BadgeService
from bot.api_server import EmbeddedApi
from db.database import Database
from tests.api.conftest import BASE, api_settings
from tests.conftest import ADMIN, GUILD


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_bot_serves_the_api_on_its_own_service(
    database: Database, service: BadgeService, database_url: str
) -> None:
    port = _free_port()
    bot = SimpleNamespace(settings=api_settings(database_url), service=service, database=database)
    embedded = EmbeddedApi(bot, port)  # type: ignore[arg-type]
    embedded.start()
    try:
        await service.catalog.create(ADMIN, GUILD, name="Served")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                try:
                    response = await client.get(f"{BASE}/badges")
                    break
                except httpx.ConnectError:
                    await _pause()
        assert [b["name"] for b in response.json()["badges"]] == ["Served"]
    finally:
        await embedded.stop()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the API still listens after stop"
    # the shared database is still the bot's: the API did not close it
    assert (await service.catalog.list(GUILD)).total == 1


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.05)
