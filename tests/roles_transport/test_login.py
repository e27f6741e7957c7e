"""`badgebot run`'s client path (bot.cli.run_client) when Discord is unreachable: at login,
at the first gateway connection, and while running. The real bot, REST and gateway, against
the Discord emulator of tests/emulator; backoff scaled down, every wait bounded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import discord
import pytest
import yarl

from bot.app import BadgeBot, create_bot
from bot.cli import run_client
from bot.config import Settings
from tests.emulator import BOT_ID, DiscordEmulator, point_at
from tests.roles_transport.conftest import lines_with, until

pytestmark = pytest.mark.timeout(90)
FAST = {"first_delay": 0.02, "max_delay": 0.1}


def _closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def _running(bot: BadgeBot, token: str) -> AsyncIterator[asyncio.Task[None]]:
    """run_client in a task; the bot closed and the task awaited afterwards."""
    bot._connection.guild_ready_timeout = 0.3  # discord.py waits 2 s for late guilds
    task = asyncio.create_task(run_client(bot, token, **FAST))
    try:
        yield task
    finally:
        await bot.close()
        await asyncio.wait_for(task, 10)


def _bot(database_url: str) -> BadgeBot:
    settings = Settings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
    return create_bot(settings)


async def test_a_closed_port_at_login_gives_one_line_and_the_bot_connects_when_it_opens(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = _closed_port()
    emu = DiscordEmulator(port=port)
    url = f"http://127.0.0.1:{port}/api/v10", f"ws://127.0.0.1:{port}/"
    bot = _bot(database_url)
    with point_at(url), caplog.at_level(logging.INFO):
        async with _running(bot, emu.token):
            await until(lambda: lines_with(caplog, "unreachable"))
            await asyncio.sleep(0.5)  # refused again and again, backing off (max 0.1 s)
            await emu.start()
            try:
                await asyncio.wait_for(bot.wait_until_ready(), 20)
                assert bot.user is not None
                assert bot.user.id == BOT_ID
            finally:
                await bot.close()
                await emu.stop()

    (down,) = lines_with(caplog, "unreachable")
    assert down.startswith("Discord is unreachable (ClientConnectorError: ")
    assert down.endswith("while logging in; retrying with backoff")
    (up,) = lines_with(caplog, "reachable again")
    assert up.endswith("; logged in")
    assert not [r for r in caplog.records if r.exc_info]  # no tracebacks


async def test_a_gateway_down_after_login_is_retried_not_a_crash(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # discord.py's connect(reconnect=True) raises AttributeError when its very first
    # connection fails; run_client retries that one itself
    async with DiscordEmulator() as emu:
        bot = _bot(database_url)
        down = (emu.base_url, f"ws://127.0.0.1:{_closed_port()}/")
        with point_at(down), caplog.at_level(logging.INFO):
            async with _running(bot, emu.token) as task:
                await until(lambda: lines_with(caplog, "connecting to the gateway"))
                await asyncio.sleep(0.3)
                assert not task.done()
                discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emu.gateway_url)
                await asyncio.wait_for(bot.wait_until_ready(), 20)

    (down,) = lines_with(caplog, "unreachable")
    assert down.endswith("while connecting to the gateway; retrying with backoff")
    (up,) = lines_with(caplog, "reachable again")
    assert up.endswith("; connected to the gateway")


async def test_discord_down_while_running_gives_one_line_and_the_bot_reconnects(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with DiscordEmulator() as emu:
        bot = _bot(database_url)
        with point_at(emu), caplog.at_level(logging.INFO):
            async with _running(bot, emu.token):
                await asyncio.wait_for(bot.wait_until_ready(), 20)
                await emu.go_down()
                # discord.py retries with its own backoff, each try refused
                await until(lambda: lines_with(caplog, "unreachable"), bound=20)
                await asyncio.sleep(2.0)
                await emu.come_back()
                await until(lambda: lines_with(caplog, "reachable again"), bound=40)

    (down,) = lines_with(caplog, "unreachable")
    assert down.endswith("while connecting to the gateway; retrying with backoff")
    (up,) = lines_with(caplog, "reachable again")
    assert up.endswith("; connected to the gateway")
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith("discord")]
