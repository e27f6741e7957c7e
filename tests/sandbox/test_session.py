"""The sandbox's demo server and its database across restarts, driven in-process through the
real slash commands (what a visitor of the page does)."""

from __future__ import annotations

import json
from pathlib import Path

import discord
import pytest
import simcord

from badges.permissions import Actor, Level
from bot.app import BadgeBot
from bot.sandbox.session import IDS_KEY, SandboxError, open_sandbox, sandbox_settings
from bot.sandbox.world import DemoWorld, display_name
from db import state
from db.database import Database

DEMO_LABELS = ["🌱 Newcomer", "🐛 Bug Hunter", "🎨 Artist", "🏆 Event Winner"]


def _embed(result: simcord.InteractionResult) -> discord.Embed:
    assert result.response is not None, "no reply"
    assert result.response.embeds, f"no embed in {result.response.content!r}"
    return result.response.embeds[0]


async def _badge_list(world: DemoWorld) -> str:
    embed = _embed(await world.members[0].slash(world.general, "badge list"))
    return embed.description or ""


async def _badges_of(world: DemoWorld, member: simcord.MemberActor) -> list[str]:
    embed = _embed(await world.members[0].slash(world.general, "badges", member=member))
    assert embed.title == f"Badges of {display_name(member)}"
    return [field.name or "" for field in embed.fields]


async def test_the_demo_server_has_people_badges_and_awards(tmp_path: Path) -> None:
    async with open_sandbox(tmp_path / "sandbox.db") as world:
        names = [display_name(p) for p in world.people]
        assert names == [
            "Olivia (owner)",
            "Adam (admin)",
            "Maya (moderator)",
            "Alice",
            "Bob",
            "Carol",
            "Dan",
        ]
        listing = await _badge_list(world)
        assert all(label in listing for label in DEMO_LABELS), listing
        alice = world.members[0]
        assert await _badges_of(world, alice) == [
            "🤝 Trusted Helper",
            "🐛 Bug Hunter",
            "🌱 Newcomer",
        ]
        # Trusted Helper is linked to the Helpers role: the role sync gave it to Alice
        await world.env.settle()
        guild = world.env.bot.get_guild(world.guild.id)
        assert guild is not None
        member = await guild.fetch_member(alice.id)
        assert world.helpers_role.id in {r.id for r in member.roles}
        refused = await alice.slash(world.general, "badge award", badge="artist", member=alice)
        assert refused.response is not None
        assert "moderator" in (refused.response.content or "").lower()


async def test_a_restart_keeps_the_visitors_changes_and_seeds_nothing_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sandbox.db"
    async with open_sandbox(path) as world:
        first_ids = world.ids()
        bob = world.members[1]
        award = await world.moderator.slash(
            world.general, "badge award", badge="artist", member=bob, reason="Drew the banner"
        )
        assert _embed(award).title == f"🏅 {display_name(bob)} received 🎨 Artist"
        bot = world.env.bot
        assert isinstance(bot, BadgeBot)
        admin = Actor(world.admin.id, display_name(world.admin), Level.ADMIN)
        winner = await bot.service.catalog.get_by_slug(world.guild.id, "event-winner")
        await bot.service.catalog.delete(admin, world.guild.id, winner.id)

    async with open_sandbox(path) as world:
        assert world.ids() == first_ids
        bob = world.members[1]
        assert await _badges_of(world, bob) == ["🎨 Artist", "🌱 Newcomer"]
        listing = await _badge_list(world)
        assert [label for label in DEMO_LABELS if label in listing] == DEMO_LABELS[:3]
        assert listing.count("Newcomer") == 1


async def test_a_database_made_for_other_ids_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    async with open_sandbox(path):
        pass
    database = Database(sandbox_settings(path).database_url)
    try:
        stored = json.loads(await state.get_value(database, IDS_KEY) or "{}")
        await state.set_value(database, IDS_KEY, json.dumps({**stored, "member:bob": 1}))
    finally:
        await database.dispose()

    with pytest.raises(SandboxError, match=r"other simulated ids \(member:bob\).*--fresh"):
        async with open_sandbox(path):
            pass


async def test_members_earn_chatterbox_and_give_each_other_kudos(tmp_path: Path) -> None:
    async with open_sandbox(tmp_path / "sandbox.db") as world:
        bot: BadgeBot = world.env.bot
        dan = world.members[3]
        for i in range(5):
            await dan.send(world.general, f"hello {i}")
        await bot.counter.flush()
        await world.env.settle()
        assert "💬 Chatterbox" in await _badges_of(world, dan)
        gift = await world.members[1].slash(
            world.general, "badge award", badge="Kudos", member=dan, reason="welcome!"
        )
        assert _embed(gift).title == "🎁 Dan received 🙌 Kudos"
