"""The emulator's control routes (tests.emulator.control), as bench/interactions.py drives an
emulator in another process: build a guild, reset between bots."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.emulator import DiscordEmulator
from tests.emulator.control import add_control_routes
from tests.emulator.state import MANAGE_ROLES


@pytest.fixture
async def controlled() -> AsyncIterator[tuple[DiscordEmulator, aiohttp.ClientSession]]:
    emu = DiscordEmulator()
    add_control_routes(emu)
    async with emu, aiohttp.ClientSession(f"http://127.0.0.1:{emu.port}") as http:
        yield emu, http


async def test_a_guild_is_built_with_named_roles_and_members(
    controlled: tuple[DiscordEmulator, aiohttp.ClientSession],
) -> None:
    emu, http = controlled
    body = {"roles": {"Mods": MANAGE_ROLES}, "members": {"mod": ["Mods"]}, "plain": 3}
    async with http.post("/_emulator/guilds", json=body) as response:
        made = await response.json()
    guild = emu.guilds[int(made["guild"])]
    assert guild.members[made["members"]["mod"]].roles == {made["roles"]["Mods"]}
    assert all(guild.members[u].roles == set() for u in made["plain"])
    assert len(made["plain"]) == 3


async def test_control_routes_need_no_token_and_are_not_logged_as_calls(
    controlled: tuple[DiscordEmulator, aiohttp.ClientSession],
) -> None:
    emu, http = controlled
    async with http.get("/_emulator/status") as response:
        assert response.status == 200
        assert await response.json() == {"sessions": [], "commands": []}
    async with http.post("/_emulator/reset", json={}) as response:
        assert (await response.json()) == {"forgotten_sessions": 0}
    assert emu.calls == []
