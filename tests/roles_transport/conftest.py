"""The real bot (create_bot) against the Discord emulator of tests/emulator with role-route
faults (tests/roles_transport/emulator.py): logged in and connected over 127.0.0.1, REST and
gateway, as in bench/role_sync.py, so each guild reaches discord.py's cache as GUILD_CREATE."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import pytest
from pydantic import SecretStr

from badges.model import AuditEvent, EventKind
from badges.permissions import Actor, Level
from bot.app import BadgeBot, create_bot
from bot.config import Settings
from db.database import Database
from tests.emulator.client import connected_client
from tests.emulator.limits import RouteLimit
from tests.roles_transport.emulator import FaultyDiscord

ADMIN = Actor(901, "admin", Level.SUPER_ADMIN)
GUILD = 1_300_000_000_000_000_000
MEMBER_BASE = 1_400_000_000_000_000_000
DRAIN_BOUND = 15.0  # seconds; the sweep (every 30 s) must not be what finishes a drain
READY_BOUND = 20.0


async def until(condition: Callable[[], object], bound: float = 10.0) -> None:
    """Wait (bounded) until ``condition()`` holds."""
    for _ in range(int(bound / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not come true in time")


def lines_with(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


@dataclass
class Transport:
    """The bot, the emulator, the badge roles of the one guild and what the log channel
    would be told (the published events)."""

    bot: BadgeBot
    emu: FaultyDiscord
    members: list[int]
    roles: list[int]
    events: list[AuditEvent] = field(default_factory=list)

    def sync_failures(self) -> list[AuditEvent]:
        return [e for e in self.events if e.kind is EventKind.ROLE_SYNC_FAILED]

    def holders_in_discord(self, role_id: int) -> set[int]:
        guild = self.emu.guilds[GUILD]
        return {m for m, member in guild.members.items() if role_id in member.roles}

    async def link_badge(self, name: str, role_id: int) -> str:
        badge = await self.bot.service.catalog.create(ADMIN, GUILD, name=name)
        await self.bot.service.roles.link(ADMIN, GUILD, badge.id, role_id)
        return badge.id

    async def award_all(self, badge_id: str) -> None:
        result = await self.bot.service.awards.bulk_award(ADMIN, GUILD, badge_id, self.members)
        assert len(result.awarded) == len(self.members)

    async def drained(self) -> tuple[int, int]:
        """Wait (bounded) until nothing is pending; returns (pending, failed)."""

        async def settle() -> tuple[int, int]:
            while True:
                await self.bot.role_sync.wait_idle()
                pending, failed, _ = await self.bot.service.queue.status(GUILD, failures=0)
                if pending == 0:
                    return pending, failed
                await asyncio.sleep(0.05)

        return await asyncio.wait_for(settle(), DRAIN_BOUND)


@contextlib.asynccontextmanager
async def connected(emu: FaultyDiscord, database_url: str) -> AsyncIterator[BadgeBot]:
    """The bot logged in and connected to ``emu`` (READY seen); closed afterwards."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, discord_token=SecretStr(emu.token), database_url=database_url
    )
    bot = create_bot(settings)
    async with connected_client(bot, emu, ready_within=READY_BOUND):
        yield bot


@pytest.fixture
async def transport(database_url: str, database: Database) -> AsyncIterator[Transport]:
    """(``database`` empties the PostgreSQL test database first: these ids are fixed.)"""
    members = [MEMBER_BASE + i for i in range(20)]
    roles = [GUILD + 2, GUILD + 3]
    logging.getLogger("discord").setLevel(logging.ERROR)  # discord.py's own 429 warnings
    limit = RouteLimit(50, 1.0)
    try:
        limits = {"member role add": limit, "member role remove": limit}
        async with FaultyDiscord(limits=limits) as emu:
            emu.add_guild(GUILD, roles, members)
            async with connected(emu, database_url) as bot:
                world = Transport(bot, emu, members, roles)

                async def published(events: Sequence[AuditEvent]) -> None:
                    world.events.extend(events)

                bot.service.subscribe(published)
                yield world
    finally:
        logging.getLogger("discord").setLevel(logging.NOTSET)
