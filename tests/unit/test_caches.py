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
