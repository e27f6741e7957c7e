"""A discord.py client connected to the emulator for the length of a block: logged in over
REST, identified on the gateway, READY seen; closed and its connection task ended after."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import discord

from tests.emulator.seams import point_at

if TYPE_CHECKING:
    from tests.emulator.server import DiscordEmulator

READY_TIMEOUT = 20.0


async def _no_wait(shard_id: int | None, *, initial: bool = False) -> None:
    """discord.py waits 5 s between a sharded client's identifies (Discord's rate)."""


@contextlib.asynccontextmanager
async def connected_client(
    client: discord.Client, emu: DiscordEmulator, *, ready_within: float = READY_TIMEOUT
) -> AsyncIterator[asyncio.Task[None]]:
    """Connect ``client`` to ``emu``; yields the task that runs its gateway connection.
    Late guilds are waited for 0.3 s (discord.py's 2 s default would slow every test) and
    shards identify without discord.py's 5 s pause."""
    client._connection.guild_ready_timeout = 0.3
    if isinstance(client, discord.AutoShardedClient):
        client.before_identify_hook = _no_wait  # type: ignore[method-assign]
    with point_at(emu):
        task: asyncio.Task[None] | None = None
        try:
            async with asyncio.timeout(ready_within):
                await client.login(emu.token)
                task = asyncio.create_task(client.connect(reconnect=True), name="bot-connect")
                await client.wait_until_ready()
            yield task
        finally:
            await client.close()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
