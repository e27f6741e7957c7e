"""A sharded bot: each shard's gateway session carries only its guilds, and the bot serves
commands and role changes in all of them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from bot.app import ShardedBadgeBot, create_bot
from bot.config import Settings
from db.database import Database
from tests.e2e.conftest import READY_TIMEOUT, until
from tests.emulator import DiscordEmulator
from tests.emulator.client import connected_client

SHARDS = 2


@contextlib.asynccontextmanager
async def sharded(emu: DiscordEmulator, database: Database) -> AsyncIterator[ShardedBadgeBot]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, discord_token=emu.token, members_intent=True, shard_count=SHARDS
    )
    bot = create_bot(settings, database=database)
    assert isinstance(bot, ShardedBadgeBot)
    async with connected_client(bot, emu, ready_within=READY_TIMEOUT):
        yield bot


@pytest.mark.parametrize("shard", range(SHARDS))
async def test_each_shard_serves_its_guilds(
    emu: DiscordEmulator, database: Database, shard: int
) -> None:
    guilds = [emu.create_guild(f"guild {i}", shard=(i % SHARDS, SHARDS)) for i in range(4)]
    for guild in guilds:
        guild.add_role("Helpers")
    async with sharded(emu, database) as bot:
        assert {s.shard for s in emu.gateway.sessions.values()} == {(0, 2), (1, 2)}
        assert {g.id for g in bot.guilds} == {g.id for g in guilds}
        mine = [g for g in guilds if (g.id >> 22) % SHARDS == shard]
        assert all(bot.get_guild(g.id).shard_id == shard for g in mine)  # type: ignore[union-attr]
        for guild in mine:
            helpers = next(r.id for r in guild.roles.values() if r.name == "Helpers")
            alice = await emu.add_member(guild, "alice")
            created = await emu.invoke(
                guild, guild.owner_id, "badge create", name="Helper", role=helpers
            )
            await created.wait()
            award = await emu.invoke(
                guild, guild.owner_id, "badge award", badge="Helper", member=alice.user.id
            )
            await award.wait()
            assert "Helper" in award.text
            await until(lambda h=helpers, a=alice: h in a.roles)  # type: ignore[misc]
