"""Badges that give roles: linking, creating, unlinking, deleting, refusals."""

from __future__ import annotations

import discord

from tests.cogs.conftest import World, embed_of, message, role_ids, text_of


async def _role_named(world: World, name: str) -> discord.Role | None:
    guild = world.bot.get_guild(world.guild.id)
    assert guild is not None
    return discord.utils.get(await guild.fetch_roles(), name=name)


async def test_create_with_a_new_role_and_award_gives_it(world: World) -> None:
    res = await world.admin.slash(
        world.general, "badge create", name="VIP", color="#FFAA00", create_role=True
    )
    assert text_of(res).startswith("Created **VIP**")
    role = await _role_named(world, "VIP")
    assert role is not None
    assert role.colour.value == 0xFFAA00
    badge = await world.bot.service.catalog.find(world.guild.id, "vip")
    assert (badge.role_id, badge.role_managed) == (role.id, True)

    await world.mod.slash(world.general, "badge award", badge="vip", member=world.alice)
    await world.env.settle()
    assert role.id in await role_ids(world, world.alice)
    await world.mod.slash(world.general, "badge revoke", badge="vip", member=world.alice)
    await world.env.settle()
    assert role.id not in await role_ids(world, world.alice)


async def test_create_with_both_role_options_is_refused(world: World) -> None:
    res = await world.admin.slash(
        world.general, "badge create", name="VIP", role=world.helpers, create_role=True
    )
    assert res.ephemeral
    assert text_of(res) == "Give either `role` or `create_role`, not both."
    assert await _role_named(world, "VIP") is None


async def test_refused_badge_leaves_no_role_behind(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="VIP")
    res = await world.admin.slash(
        world.general, "badge create", name="vip", slug="other", create_role=True
    )
    assert text_of(res) == "A badge named 'vip' already exists in this server."
    assert await _role_named(world, "vip") is None


async def test_linking_a_role_gives_it_to_existing_holders(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper")
    for member in (world.alice, world.bob):
        await world.mod.slash(world.general, "badge award", badge="helper", member=member)
    res = await world.admin.slash(
        world.general, "badge link-role", badge="helper", role=world.helpers
    )
    await world.env.settle()
    assert text_of(res).startswith(f"**Helper** is linked to <@&{world.helpers.id}>.")
    assert world.helpers.id in await role_ids(world, world.alice)
    assert world.helpers.id in await role_ids(world, world.bob)
    info = embed_of(await world.alice.slash(world.general, "badge info", badge="helper"))
    assert {f.name: f.value for f in info.fields}["Role"] == f"<@&{world.helpers.id}>"


async def test_link_refuses_roles_the_bot_cannot_manage(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper")
    high = world.guild.create_role("Council", position=50)
    await world.env.settle()
    res = await world.admin.slash(world.general, "badge link-role", badge="helper", role=high)
    assert res.ephemeral
    assert text_of(res).startswith(f"The role '{high.name}' is not below my highest role")
    assert "drag my role above it" in text_of(res)
    bot_role = world.guild.roles["TestBot"]
    res = await world.admin.slash(world.general, "badge link-role", badge="helper", role=bot_role)
    assert "managed by an integration" in text_of(res)
    assert (await world.bot.service.catalog.find(world.guild.id, "helper")).role_id is None


async def test_link_needs_admin_and_a_free_role(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper", role=world.helpers)
    await world.admin.slash(world.general, "badge create", name="Other")
    res = await world.mod.slash(world.general, "badge link-role", badge="other", role=world.helpers)
    assert text_of(res) == (
        "You need the Admin level to link roles to badges."
        " The server owner can give your role that level with /badge config set-role."
    )
    res = await world.admin.slash(
        world.general, "badge link-role", badge="other", role=world.helpers
    )
    assert text_of(res) == (
        "That role already backs the badge 'Helper': a role can back only one badge."
    )


async def test_unlink_asks_and_removes_the_role_from_holders(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper", role=world.helpers)
    await world.mod.slash(world.general, "badge award", badge="helper", member=world.alice)
    await world.env.settle()
    res = await world.admin.slash(world.general, "badge unlink-role", badge="helper")
    assert res.response is not None
    assert res.response.content == (
        f"Unlink <@&{world.helpers.id}> from **Helper**? 1 member holds the badge."
    )
    await world.admin.click(res.response, label="Remove the role from them")
    await world.env.settle()
    assert message(world.general, res.response.id).content.startswith("Unlinked")
    assert world.helpers.id not in await role_ids(world, world.alice)
    assert (await world.bot.service.catalog.find(world.guild.id, "helper")).role_id is None


async def test_unlink_can_leave_the_role_with_holders(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper", role=world.helpers)
    await world.mod.slash(world.general, "badge award", badge="helper", member=world.alice)
    await world.env.settle()
    res = await world.admin.slash(world.general, "badge unlink-role", badge="helper")
    assert res.response is not None
    await world.admin.click(res.response, label="Let them keep it")
    await world.env.settle()
    assert world.helpers.id in await role_ids(world, world.alice)
    res = await world.admin.slash(world.general, "badge unlink-role", badge="helper")
    assert text_of(res) == "**Helper** has no linked role."


async def test_deleting_a_badge_deletes_the_role_it_created(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="VIP", create_role=True)
    await world.mod.slash(world.general, "badge award", badge="vip", member=world.alice)
    res = await world.admin.slash(world.general, "badge delete", badge="vip")
    assert res.response is not None
    await world.admin.click(res.response, label="Delete badge")
    await world.env.settle()
    assert await _role_named(world, "VIP") is None


async def test_deleting_a_badge_takes_an_existing_role_from_holders(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper", role=world.helpers)
    await world.mod.slash(world.general, "badge award", badge="helper", member=world.alice)
    await world.env.settle()
    res = await world.admin.slash(world.general, "badge delete", badge="helper")
    assert res.response is not None
    await world.admin.click(res.response, label="Delete badge")
    await world.env.settle()
    assert world.helpers.id not in await role_ids(world, world.alice)
    assert await _role_named(world, "Helpers") is not None


async def test_deactivating_keeps_roles(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper", role=world.helpers)
    await world.mod.slash(world.general, "badge award", badge="helper", member=world.alice)
    await world.admin.slash(world.general, "badge edit", badge="helper", active=False)
    await world.env.settle()
    assert world.helpers.id in await role_ids(world, world.alice)


async def test_create_role_refused_at_discords_role_limit(world: World) -> None:
    guild = world.bot.get_guild(world.guild.id)
    assert guild is not None
    for i in range(250 - len(guild.roles)):
        world.guild.create_role(f"filler-{i}")
    await world.env.settle()
    res = await world.admin.slash(world.general, "badge create", name="VIP", create_role=True)
    assert res.ephemeral
    assert text_of(res).startswith("This server has 250 roles, Discord's limit is 250")
    assert (await world.bot.service.catalog.list(world.guild.id)).total == 0


async def test_linking_without_manage_roles_says_how_to_fix_it(world: World) -> None:
    guild = world.bot.get_guild(world.guild.id)
    assert guild is not None
    bot_role = guild.me.top_role
    without = discord.Permissions(bot_role.permissions.value)
    without.manage_roles = False
    world.env.backend.edit_role(guild.id, bot_role.id, {"permissions": without.value})
    await world.env.settle()
    await world.admin.slash(world.general, "badge create", name="Helper")
    res = await world.admin.slash(
        world.general, "badge link-role", badge="helper", role=world.helpers
    )
    assert text_of(res) == (
        "I need the Manage Roles permission. Server Settings > Roles > my role > "
        "turn on Manage Roles."
    )
    res = await world.admin.slash(world.general, "badge create", name="VIP", create_role=True)
    assert text_of(res).startswith("I need the Manage Roles permission")


async def test_a_role_with_power_needs_a_super_admin_to_link(world: World) -> None:
    boss = world.guild.create_role("Boss", permissions=discord.Permissions(ban_members=True))
    await world.env.settle()
    await world.admin.slash(world.general, "badge create", name="Crown")
    res = await world.admin.slash(world.general, "badge link-role", badge="crown", role=boss)
    assert res.ephemeral
    assert text_of(res) == (
        "The role 'Boss' carries permissions beyond seeing and talking in channels (Ban "
        "Members): only the owner or an Administrator can link it to a badge. Pick a role "
        "that only opens channels, or ask the owner or an Administrator."
    )
    res = await world.admin.slash(world.general, "badge create", name="Crown 2", role=boss)
    assert text_of(res).startswith("The role 'Boss' carries permissions beyond")
    assert await world.bot.service.catalog.names(world.guild.id) == [("Crown", "crown")]
    res = await world.owner.slash(world.general, "badge link-role", badge="crown", role=boss)
    assert text_of(res).startswith("**Crown** is linked to")


async def test_only_roles_below_your_own_can_be_linked(world: World) -> None:
    # the Admins role sits above Helpers; a role above Admins is out of the admin's reach
    above = world.guild.create_role("Veterans")
    await world.env.settle()
    guild = world.bot.get_guild(world.guild.id)
    assert guild is not None
    admins = discord.utils.get(guild.roles, name="Admins")
    assert admins is not None
    role = guild.get_role(above.id)
    assert role is not None
    await role.edit(position=admins.position)
    await world.env.settle()
    await world.admin.slash(world.general, "badge create", name="Vet")
    res = await world.admin.slash(world.general, "badge link-role", badge="vet", role=above)
    assert text_of(res) == (
        "The role 'Veterans' is not below your highest role: you can only link roles you "
        "could give yourself."
    )


async def test_a_level_role_cannot_back_a_badge(world: World) -> None:
    await world.admin.slash(
        world.general, "badge config set-role", level="moderator", role=world.helpers
    )
    await world.admin.slash(world.general, "badge create", name="Helper")
    res = await world.admin.slash(
        world.general, "badge link-role", badge="helper", role=world.helpers
    )
    assert text_of(res).startswith("The role 'Helpers' grants a badge-system level")
