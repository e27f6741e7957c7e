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
from tests.emulator import DiscordEmulator, Guild, Member
from tests.emulator.client import connected_client
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
    async with connected_client(bot, emu, ready_within=READY_TIMEOUT) as task:
        yield bot, task


@pytest.fixture
async def emu() -> AsyncIterator[DiscordEmulator]:
    async with DiscordEmulator() as emulator:
        yield emulator


@pytest.fixture
async def live(emu: DiscordEmulator, database: Database) -> AsyncIterator[Live]:
    guild, people, helpers = await populate(emu)
    async with connected(emu, database) as (bot, _task):
        yield Live(emu, guild, bot, helpers=helpers, **people)
