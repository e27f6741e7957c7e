"""/badge config: levels from roles, and the log channel."""

from __future__ import annotations

from datetime import UTC, datetime

import discord

from badges.model import AuditEvent, EventKind
from badges.permissions import Actor, Level
from tests.cogs.conftest import World, add_members, embed_of, text_of


async def test_show_settings_to_admins(world: World) -> None:
    res = await world.admin.slash(world.general, "badge config show")
    assert res.ephemeral
    fields = {f.name: f.value for f in embed_of(res).fields}
    assert fields == {
        "Admin roles": "*none*",
        "Moderator roles": "*none*",
        "Log channel": "*not set*",
        "Roles edited by hand": "revert",
        "REST API reads": "public",
    }


async def test_show_settings_refused_to_moderators(world: World) -> None:
    res = await world.mod.slash(world.general, "badge config show")
    assert res.ephemeral
    assert text_of(res) == (
        "You need the Admin level to configure the badge system."
        " The server owner can give your role that level with /badge config set-role."
    )


async def test_admin_sets_a_moderator_role_and_it_takes_effect(world: World) -> None:
    before = await world.bob.slash(world.general, "badge history", member=world.alice)
    assert text_of(before).startswith("You need the Moderator level")
    res = await world.admin.slash(
        world.general, "badge config set-role", level="moderator", role=world.mod_role
    )
    assert text_of(res) == f"Members with <@&{world.mod_role.id}> now have the Moderator level."
    after = await world.bob.slash(world.general, "badge history", member=world.alice)
    assert embed_of(after).title == "Badge history of alice"
    settings = await world.bot.service.config.get(world.guild.id)
    assert settings.moderator_role_ids == {world.mod_role.id}


async def test_only_super_admin_sets_an_admin_role(world: World) -> None:
    res = await world.admin.slash(
        world.general, "badge config set-role", level="admin", role=world.mod_role
    )
    assert text_of(res) == (
        "You need the Super Admin level to give a role the Admin level."
        " Only the server owner or a member with Administrator can."
    )
    assert (await world.bot.service.config.get(world.guild.id)).admin_role_ids == frozenset()
    res = await world.owner.slash(
        world.general, "badge config set-role", level="admin", role=world.mod_role
    )
    assert text_of(res) == f"Members with <@&{world.mod_role.id}> now have the Admin level."


async def test_everyone_role_cannot_get_a_level(world: World) -> None:
    res = await world.owner.slash(
        world.general, "badge config set-role", level="moderator", role=world.guild.default_role
    )
    assert res.ephemeral
    assert text_of(res).startswith("@everyone cannot be given a level")
    assert (await world.bot.service.config.get(world.guild.id)).role_levels() == {}


async def test_unset_role(world: World) -> None:
    await world.admin.slash(
        world.general, "badge config set-role", level="moderator", role=world.mod_role
    )
    res = await world.admin.slash(world.general, "badge config unset-role", role=world.mod_role)
    assert text_of(res) == f"<@&{world.mod_role.id}> no longer grants a level."
    res = await world.admin.slash(world.general, "badge config unset-role", role=world.mod_role)
    assert text_of(res) == f"<@&{world.mod_role.id}> does not grant a level; nothing to unset."
    res = await world.mod.slash(world.general, "badge config unset-role", role=world.mod_role)
    assert text_of(res) == (
        "You need the Admin level to configure the badge system."
        " The server owner can give your role that level with /badge config set-role."
    )


async def test_log_channel_gets_an_embed_for_every_change(world: World) -> None:
    res = await world.admin.slash(world.general, "badge config log-channel", channel=world.logs)
    assert text_of(res) == f"Badge changes will be logged in <#{world.logs.id}>."
    await world.admin.slash(world.general, "badge create", name="Helper")
    await world.admin.slash(world.general, "badge edit", badge="helper", color="#ABCDEF")
    await world.mod.slash(
        world.general, "badge award", badge="helper", member=world.alice, reason="kind"
    )
    await world.mod.slash(world.general, "badge revoke", badge="helper", member=world.alice)
    confirm = await world.admin.slash(world.general, "badge delete", badge="helper")
    assert confirm.response is not None
    await world.admin.click(confirm.response, label="Delete badge")
    await world.env.settle()
    posted = [m.embeds[0] for m in world.logs.history()]
    assert [e.title for e in posted] == [
        "Settings changed",
        "Badge created",
        "Badge edited",
        "Badge awarded",
        "Badge revoked",
        "Badge deleted",
    ]
    award = {f.name: f.value for f in posted[3].fields}
    assert award == {
        "Badge": "Helper",
        "Member": f"<@{world.alice.id}>",
        "By": f"<@{world.mod.id}> (moduser)",
        "Reason": "kind",
    }
    edit = {f.name: f.value for f in posted[2].fields}
    assert edit["Changes"] == "color: — → \\#ABCDEF"  # shown as #ABCDEF, never a heading


async def test_bulk_changes_are_summarised_in_the_log(world: World) -> None:
    await world.admin.slash(world.general, "badge config log-channel", channel=world.logs)
    await world.admin.slash(world.general, "badge create", name="Helper")
    badge = await world.bot.service.catalog.find(world.guild.id, "helper")
    await world.bot.service.awards.bulk_award(
        Actor(world.mod.id, "moduser", Level.MODERATOR),
        world.guild.id,
        badge.id,
        await add_members(world, 40),
    )
    await world.bot.log_channel.drain()
    assert world.logs.history()[-1].embeds[0].title == "Badge awarded to 40 members"


async def test_log_channel_the_bot_cannot_post_in_is_refused(world: World) -> None:
    locked = world.guild.create_text_channel(
        "locked", overwrites={world.guild.me: discord.PermissionOverwrite(send_messages=False)}
    )
    await world.env.settle()
    res = await world.admin.slash(world.general, "badge config log-channel", channel=locked)
    assert res.ephemeral
    assert text_of(res) == (
        f"I cannot post in <#{locked.id}>: I need Send Messages, Embed Links there. "
        "Grant it in the channel's permissions, then run this again."
    )
    assert (await world.bot.service.config.get(world.guild.id)).log_channel_id is None


async def test_log_channel_unset_and_refused_to_moderators(world: World) -> None:
    await world.admin.slash(world.general, "badge config log-channel", channel=world.logs)
    res = await world.mod.slash(world.general, "badge config log-channel")
    assert text_of(res) == (
        "You need the Admin level to configure the badge system."
        " The server owner can give your role that level with /badge config set-role."
    )
    res = await world.admin.slash(world.general, "badge config log-channel")
    assert text_of(res) == "Badge changes are no longer logged."
    await world.admin.slash(world.general, "badge create", name="Quiet")
    await world.env.settle()
    assert all(m.embeds[0].title != "Badge created" for m in world.logs.history())


async def test_a_slow_log_channel_keeps_a_bounded_backlog_and_says_what_it_left_out(
    world: World,
) -> None:
    await world.admin.slash(world.general, "badge config log-channel", channel=world.logs)
    await world.bot.log_channel.drain()
    before = len(world.logs.history())
    poster = world.bot.log_channel
    poster._limit = 5  # a tiny backlog, so changes arriving faster than posts overflow it

    def change(n: int) -> AuditEvent:
        return AuditEvent(
            id=n, guild_id=world.guild.id, kind=EventKind.BADGE_CREATED, actor_id=1,
            actor_name="admin", at=datetime.now(UTC), badge_id=f"b{n}", badge_name=f"B{n}",
            user_id=None, reason=None, before=None, after=None,
        )  # fmt: skip

    # three changes of four events each, handed over before the poster gets to run
    for batch in range(3):
        await poster.on_events([change(4 * batch + i) for i in range(4)])
    await poster.drain()
    posted = [e.title for m in world.logs.history()[before:] for e in m.embeds]
    assert posted == ["8 changes not posted", *["Badge created"] * 4]
