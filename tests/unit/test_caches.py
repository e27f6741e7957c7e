"""Caches never keep what a change made stale."""

from __future__ import annotations

import asyncio

from bot.caches import GuildCache


async def test_a_load_in_flight_across_a_change_is_not_stored() -> None:
    release = asyncio.Event()
    loads: list[int] = []

    async def load(guild_id: int) -> int:
        loads.append(guild_id)
        version = len(loads)
        if version == 1:  # the first load read the data before the change committed
            await release.wait()
        return version

    cache: GuildCache[int] = GuildCache(load)
    slow = asyncio.create_task(cache.get(1))
    await asyncio.sleep(0)
    cache.drop(1)  # a config change committed meanwhile
    release.set()
    assert await slow == 1
    assert await cache.get(1) == 2  # loaded again, not the stale value
    assert await cache.get(1) == 2  # and now cached
    assert len(loads) == 2


async def test_a_change_in_a_guild_in_use_is_in_memory_again_at_once() -> None:
    loads: list[int] = []

    async def load(guild_id: int) -> int:
        loads.append(guild_id)
        return len(loads)

    cache: GuildCache[int] = GuildCache(load)
    assert cache.peek(1) is None  # never loaded: a command must acknowledge first
    assert await cache.get(1) == 1
    await cache.renew(1)  # a change there was reported
    assert cache.peek(1) == 2
    await cache.renew(2)  # a guild nobody used is not loaded for nothing
    assert cache.peek(2) is None
    assert loads == [1, 1]


async def test_a_value_past_half_its_lifetime_is_refreshed_ahead() -> None:
    loads: list[int] = []
    now = [0.0]

    async def load(guild_id: int) -> int:
        loads.append(guild_id)
        return len(loads)

    cache: GuildCache[int] = GuildCache(load, ttl=300, clock=lambda: now[0])
    assert await cache.get(1) == 1
    now[0] = 200.0
    assert cache.peek(1) == 1  # still served from memory
    await asyncio.sleep(0)
    assert cache.peek(1) == 2  # and refreshed meanwhile
    now[0] = 600.0
    assert cache.peek(1) is None  # expired: read again, after acknowledging
