"""The real bot over real sockets: discord.py's own client, REST and gateway, talking to our
Discord emulator on 127.0.0.1, on the test database. Real time, so every wait is bounded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.app import BadgeBot, create_bot
from bot.config import Settings
from db.database import Database
from tests.emulator import DiscordEmulator, Guild, Member, point_at
from tests.emulator.state import MANAGE_GUILD, MANAGE_ROLES

READY_TIMEOUT = 20.0


@dataclass
class Live:
    """The emulator, its guild and members, and the bot connected to it."""

    emu: DiscordEmulator
    guild: Guild
    bot: BadgeBot
    admin: Member
    mod: Member
    alice: Member
    bob: Member
    helpers: int
    """A plain role below the bot's, free to link to a badge."""

    async def until(
        self, condition: Callable[[], bool | Awaitable[bool]], within: float = 10.0
    ) -> None:
        await until(condition, within)


async def until(condition: Callable[[], bool | Awaitable[bool]], within: float = 10.0) -> None:
    """Wait (real time, bounded) until ``condition`` holds."""
    async with asyncio.timeout(within):
        while True:
            result = condition()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.02)


async def populate(emu: DiscordEmulator) -> tuple[Guild, dict[str, Member], int]:
    guild = emu.create_guild("Emulated Guild")
    admins = guild.add_role("Admins", permissions=MANAGE_GUILD | MANAGE_ROLES)
    mods = guild.add_role("Mods", permissions=MANAGE_ROLES)
    helpers = guild.add_role("Helpers")
    people = {
        "admin": await emu.add_member(guild, "adminuser", roles={admins.id}),
        "mod": await emu.add_member(guild, "moduser", roles={mods.id}),
        "alice": await emu.add_member(guild, "alice"),
        "bob": await emu.add_member(guild, "bob"),
    }
    return guild, people, helpers.id


@contextlib.asynccontextmanager
async def connected(
    emu: DiscordEmulator, database: Database, *, members_intent: bool = True, **settings: Any
) -> AsyncIterator[tuple[BadgeBot, asyncio.Task[None]]]:
    """The bot logged in and connected to ``emu`` (READY seen); closed afterwards."""
    config = Settings(  # type: ignore[call-arg]
        _env_file=None, discord_token=emu.token, members_intent=members_intent, **settings
    )
    bot = create_bot(config, database=database)
    bot._connection.guild_ready_timeout = 0.3  # discord.py waits 2 s for late guilds
    with point_at(emu):
        task: asyncio.Task[None] | None = None
        try:
            await bot.login(emu.token)
            task = asyncio.create_task(bot.connect(reconnect=True), name="bot-connect")
            async with asyncio.timeout(READY_TIMEOUT):
                await bot.wait_until_ready()
            yield bot, task
        finally:
            await bot.close()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


@pytest.fixture
async def emu() -> AsyncIterator[DiscordEmulator]:
    async with DiscordEmulator() as emulator:
        yield emulator


@pytest.fixture
async def live(emu: DiscordEmulator, database: Database) -> AsyncIterator[Live]:
    guild, people, helpers = await populate(emu)
    async with connected(emu, database) as (bot, _task):
        yield Live(emu, guild, bot, helpers=helpers, **people)
