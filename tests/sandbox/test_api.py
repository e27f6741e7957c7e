"""The sandbox's REST API, in-process: what `badgebot sandbox` serves (the same start-up as the
command), driven over real HTTP with the address, token and curl commands the terminal guide
prints, while nothing settles the simulation: the role must follow the award by itself."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import simcord

from bot.api_cli import OPERATOR
from bot.app import BadgeBot
from bot.sandbox.api import TOKEN_NAME
from bot.sandbox.session import SandboxError, start_sandbox
from bot.sandbox.world import DemoWorld
from tests.sandbox.helpers import (
    http,
    needs,
    page_viewers,
    printed_api,
    run_curl,
    sandbox_extra_problem,
)

pytestmark = needs(sandbox_extra_problem())

DEMO_BADGES = {
    "Newcomer",
    "Bug Hunter",
    "Artist",
    "Event Winner",
    "Trusted Helper",
    "Chatterbox",
    "Kudos",
}
HELPERS_COLOR = 0x2ECC71  # the Helpers role's colour: names of its members show in it
ROLE_TIMEOUT = 10.0


def _roles_in_discord(world: DemoWorld, member: simcord.MemberActor) -> set[int]:
    """The member's roles as the simulated Discord holds them."""
    return set(world.env.backend.get_member(world.guild.id, member.id).role_ids)


async def _eventually_has_role(world: DemoWorld, member: simcord.MemberActor) -> None:
    """Wait, without settling anything, until the member has the Helpers role."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ROLE_TIMEOUT
    while world.helpers_role.id not in _roles_in_discord(world, member):
        assert loop.time() < deadline, f"no Helpers role within {ROLE_TIMEOUT:.0f} s"
        await asyncio.sleep(0.02)


async def test_it_lists_the_demo_badges(tmp_path: Path) -> None:
    async with start_sandbox(tmp_path / "sandbox.db") as sandbox:
        printed = printed_api(sandbox.guide)
        assert printed.url == sandbox.api.url
        status, body = await asyncio.to_thread(http, "GET", f"{printed.url}/badges")
        assert status == 200, body
        assert {badge["name"] for badge in body["badges"]} == DEMO_BADGES
        status, body = await asyncio.to_thread(
            http, "GET", f"{printed.url}/api/v1/guilds/{sandbox.world.guild.id}/badges"
        )
        assert status == 200, body
        assert {badge["name"] for badge in body["badges"]} == DEMO_BADGES


async def test_the_printed_curl_awards_and_the_role_follows_at_once(tmp_path: Path) -> None:
    async with start_sandbox(tmp_path / "sandbox.db") as sandbox:
        world = sandbox.world
        bot = world.env.bot
        assert isinstance(bot, BadgeBot)
        bob = world.members[1]
        printed = printed_api(sandbox.guide)
        assert str(bob.id) in printed.award_curl
        assert world.helpers_role.id not in _roles_in_discord(world, bob)
        before = await asyncio.to_thread(page_viewers, sandbox.preview.url)
        assert before["Bob"]["role_color"] is None

        status, body = await asyncio.to_thread(run_curl, printed.award_curl)
        assert status == 201, body
        assert body["userBadge"]["userId"] == str(bob.id)
        trusted = await bot.service.catalog.get_by_slug(world.guild.id, "trusted-helper")
        assert body["userBadge"]["badgeId"] == trusted.id

        # kicked by the award's commit: no sweep, no settling, no visitor action needed
        await _eventually_has_role(world, bob)
        await asyncio.wait_for(bot.role_sync.wait_idle(), timeout=ROLE_TIMEOUT)
        guild = bot.get_guild(world.guild.id)
        assert guild is not None
        fetched = await guild.fetch_member(bob.id)  # as the bot reads it back from Discord
        assert world.helpers_role.id in {role.id for role in fetched.roles}
        after = await asyncio.to_thread(page_viewers, sandbox.preview.url)
        assert after["Bob"]["role_color"] == HELPERS_COLOR

        status, body = await asyncio.to_thread(run_curl, printed.member_badges_curl)
        assert status == 200, body
        assert [badge["name"] for badge in body["badges"]] == ["Trusted Helper", "Newcomer"]
        assert body["badges"][0]["awardedBy"]["username"] == TOKEN_NAME


async def test_a_bad_token_and_the_last_runs_token_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    async with start_sandbox(path) as sandbox:
        first = printed_api(sandbox.guide)
        award = {"badgeId": "nope", "userId": str(sandbox.world.members[1].id)}
        status, body = await asyncio.to_thread(
            http, "POST", f"{first.url}/badges/award", "bbt_not-a-token", award
        )
        assert status == 401, body
        assert body["error"]["code"] == "unauthorized"
        status, body = await asyncio.to_thread(http, "GET", f"{first.url}/badges", "bbt_nope")
        assert status == 401, body

    async with start_sandbox(path) as sandbox:
        second = printed_api(sandbox.guide)
        assert second.token != first.token
        status, body = await asyncio.to_thread(http, "GET", f"{second.url}/badges", first.token)
        assert status == 401, body
        status, body = await asyncio.to_thread(http, "GET", f"{second.url}/badges", second.token)
        assert status == 200, body
        bot = sandbox.world.env.bot
        assert isinstance(bot, BadgeBot)
        live = await bot.service.tokens.list(OPERATOR, sandbox.world.guild.id)
        assert [token.name for token in live] == [TOKEN_NAME]


async def test_an_api_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SandboxError, match=f"^port {port} on 127.0.0.1 is already in use"):
            async with start_sandbox(tmp_path / "sandbox.db", api_port=port):
                pass
