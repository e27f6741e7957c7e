"""The process-wide pacer: many guilds draining at once stay under Discord's global limit."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from badges.permissions import Actor, Level
from bot.roles.pacer import Pacer
from tests.emulator.limits import RouteLimit
from tests.roles_transport.conftest import connected
from tests.roles_transport.emulator import FaultyDiscord

pytestmark = pytest.mark.timeout(60)
ADMIN = Actor(901, "admin", Level.SUPER_ADMIN)


async def test_pacer_lets_a_short_burst_through_then_spaces_requests() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    pacer = Pacer(10.0, burst=3, clock=lambda: now[0], sleep=sleep)
    await asyncio.gather(*(pacer.wait() for _ in range(3)))
    assert slept == []  # the burst goes at once
    await asyncio.gather(*(pacer.wait() for _ in range(3)))
    assert slept == pytest.approx([0.1, 0.2, 0.3])  # then one every 1/rate s
    now[0] += 10.0  # a pause earns the burst back
    await asyncio.gather(*(pacer.wait() for _ in range(4)))
    assert slept[3:] == pytest.approx([0.1])


async def test_twenty_guilds_draining_at_once_meet_no_global_429(database_url: str) -> None:
    guilds = [1_500_000_000_000_000_000 + 10 * i for i in range(20)]
    members = [1_600_000_000_000_000_000 + j for j in range(10)]
    # each guild's own bucket allows 10/s, so together they allow 200/s: only the global
    # limit (50/s, learnt by discord.py from its first global 429) holds them back
    limit = RouteLimit(10, 1.0)
    limits = {"member role add": limit, "member role remove": limit}
    async with FaultyDiscord(limits=limits, global_limit=50) as emu:
        for g in guilds:
            emu.add_guild(g, [g + 2], members)
        async with connected(emu, database_url) as bot:
            bot.role_sync.paused = True
            for g in guilds:
                badge = await bot.service.catalog.create(ADMIN, g, name="Paced")
                await bot.service.roles.link(ADMIN, g, badge.id, g + 2)
                await bot.service.awards.bulk_award(ADMIN, g, badge.id, members)
            bot.role_sync.paused = False
            for g in guilds:
                bot.role_sync.kick(g)
            await asyncio.wait_for(bot.role_sync.wait_idle(), 30)

    accepted = Counter((c.guild_id, c.user_id) for c in emu.role_calls(204))
    assert accepted == {(g, m): 1 for g in guilds for m in members}
    assert [c for c in emu.calls if c.status == 429] == []
    assert all(emu.guilds[g].members[m].roles == {g + 2} for g in guilds for m in members)
