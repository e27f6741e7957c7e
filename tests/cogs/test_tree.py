"""The command tree: its payload, its sync, guild-only, levels, and guild isolation."""

from __future__ import annotations

import json
import os
from pathlib import Path

import discord
import pytest
import simcord

from badges.model import GuildSettings
from badges.permissions import Level
from bot.levels import level_of
from tests.cogs.conftest import World, build_world, embed_of, text_of

SNAPSHOT = Path(__file__).parent / "snapshots" / "command_tree.json"


def _payload(world: World) -> list[dict[str, object]]:
    tree = world.bot.tree
    return sorted((c.to_dict(tree) for c in tree.get_commands()), key=lambda c: str(c["name"]))


async def test_command_tree_matches_snapshot(world: World) -> None:
    """Renaming a command or an option breaks users' habits and integrations: do it on
    purpose (BADGEBOT_UPDATE_SNAPSHOTS=1 rewrites the snapshot)."""
    payload = _payload(world)
    if os.environ.get("BADGEBOT_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    assert payload == json.loads(SNAPSHOT.read_text())


async def test_every_command_is_guild_only_and_visible_to_everyone(world: World) -> None:
    for command in _payload(world):
        assert command["contexts"] == [0], command["name"]
        assert command["default_member_permissions"] is None, command["name"]


async def test_commands_are_synced_and_invocable(world: World) -> None:
    available = world.alice.available_commands(world.general)
    for name in (
        "badge create",
        "badge award",
        "badge config set-role",
        "badge list",
        "badges",
    ):
        assert name in available


async def test_sync_happens_only_when_the_commands_change(world: World) -> None:
    bot = world.bot
    assert await bot.sync_commands() is False  # setup_hook synced this tree already

    @bot.tree.command(name="extra", description="a new command")
    async def extra(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("hi")

    assert await bot.sync_commands() is True
    assert await bot.sync_commands() is False
    assert "extra" in world.alice.available_commands(world.general)


async def test_commands_do_not_work_in_direct_messages(world: World) -> None:
    with pytest.raises(simcord.SetupError):
        await world.alice.user.slash("badges")


async def _member(world: World, user_id: int) -> discord.Member:
    """The member as Discord sends it (the bot runs without the members intent)."""
    guild = world.bot.get_guild(world.guild.id)
    assert guild is not None
    return await guild.fetch_member(user_id)


@pytest.mark.parametrize(
    ("who", "level"),
    [
        ("owner", Level.SUPER_ADMIN),
        ("admin", Level.ADMIN),
        ("mod", Level.MODERATOR),
        ("alice", Level.MEMBER),
    ],
)
async def test_levels_from_discord_permissions(world: World, who: str, level: Level) -> None:
    member = await _member(world, getattr(world, who).id)
    assert level_of(member, GuildSettings(world.guild.id)) is level


async def test_administrator_permission_is_super_admin(world: World) -> None:
    role = world.guild.create_role("Boss", permissions=discord.Permissions(administrator=True))
    boss = world.guild.add_member(world.env.create_user("boss"), roles=[role])
    await world.env.settle()
    member = await _member(world, boss.id)
    assert level_of(member, GuildSettings(world.guild.id)) is Level.SUPER_ADMIN


async def test_configured_roles_grant_levels(world: World) -> None:
    member = await _member(world, world.bob.id)
    role = world.mod_role.id
    assert level_of(member, GuildSettings(1, moderator_role_ids=frozenset({role}))) is (
        Level.MODERATOR
    )
    assert level_of(member, GuildSettings(1, admin_role_ids=frozenset({role}))) is Level.ADMIN


async def test_two_guilds_never_see_each_others_badges(world: World) -> None:
    other = await build_world(world.env, "Other Guild")
    await world.admin.slash(world.general, "badge create", name="Secret")
    await world.mod.slash(world.general, "badge award", badge="secret", member=world.alice)

    res = await other.alice.slash(other.general, "badge info", badge="secret")
    assert text_of(res) == "No badge named 'secret' in this server."
    assert await other.alice.autocomplete(other.general, "badge info", "badge", "sec") == []
    listed = await other.alice.slash(other.general, "badge list")
    assert embed_of(listed).footer.text == "0 badges"
    same_name = await other.admin.slash(other.general, "badge create", name="Secret")
    assert text_of(same_name).startswith("Created **Secret**")
