"""/badge create, edit and delete, as admins and others would use them."""

from __future__ import annotations

import pytest
import simcord

from badges.errors import BadgeNotFound
from tests.cogs.conftest import World, embed_of, message, text_of


async def test_admin_creates_a_badge(world: World) -> None:
    res = await world.admin.slash(
        world.general,
        "badge create",
        name="Helper",
        color="#ff0000",
        icon="🤝",
        description="Answers questions",
    )
    assert res.ephemeral
    assert text_of(res) == "Created **🤝 Helper**. Award it with `/badge award`."
    embed = embed_of(res)
    assert embed.colour is not None
    assert embed.colour.value == 0xFF0000
    assert embed.description == "Answers questions"
    stored = await world.bot.service.catalog.find(world.guild.id, "helper")
    assert (stored.name, stored.color, stored.created_by) == ("Helper", "#FF0000", world.admin.id)


async def test_owner_and_configured_admin_role_can_create(world: World) -> None:
    await world.owner.slash(
        world.general, "badge config set-role", level="admin", role=world.mod_role
    )
    res = await world.bob.slash(world.general, "badge create", name="From Bob")
    assert text_of(res).startswith("Created **From Bob**")


async def test_moderator_cannot_create(world: World) -> None:
    res = await world.mod.slash(world.general, "badge create", name="Helper")
    assert res.ephemeral
    assert text_of(res) == (
        "You need the Admin level to create badges."
        " The server owner can give your role that level with /badge config set-role."
    )
    assert (await world.bot.service.catalog.list(world.guild.id)).total == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"color": "red"}, "'red' is not a colour: use a hex code like #FF5733 (or #F53)."),
        ({"slug": "Bad Slug"}, "'Bad Slug' is not a valid slug"),
        ({"icon": "trophy"}, "'trophy' is not an icon"),
    ],
)
async def test_create_bad_input_is_refused_and_changes_nothing(
    world: World, options: dict[str, str], message: str
) -> None:
    res = await world.admin.slash(world.general, "badge create", name="Helper", **options)
    assert res.ephemeral
    assert text_of(res).startswith(message)
    assert (await world.bot.service.catalog.list(world.guild.id)).total == 0


async def test_overlong_name_is_refused_by_discord_before_the_bot(world: World) -> None:
    with pytest.raises(simcord.OptionError):
        await world.admin.slash(world.general, "badge create", name="x" * 101)


async def test_duplicate_name_in_other_case_is_refused(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper")
    res = await world.admin.slash(world.general, "badge create", name="HELPER")
    assert text_of(res) == "A badge named 'HELPER' already exists in this server."
    assert (await world.bot.service.catalog.list(world.guild.id)).total == 1


async def test_edit_changes_given_fields_and_clears_with_dash(world: World) -> None:
    await world.admin.slash(
        world.general, "badge create", name="Helper", description="old", color="#111111"
    )
    res = await world.admin.slash(
        world.general,
        "badge edit",
        badge="helper",
        name="Top Helper",
        description="-",
        active=False,
    )
    assert text_of(res) == "Updated **Top Helper**."
    badge = await world.bot.service.catalog.find(world.guild.id, "helper")
    assert (badge.name, badge.description, badge.color, badge.is_active) == (
        "Top Helper",
        None,
        "#111111",
        False,
    )


async def test_edit_without_options_says_what_to_do(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper")
    res = await world.admin.slash(world.general, "badge edit", badge="helper")
    assert text_of(res) == "Nothing to change: give at least one option to edit."


async def test_edit_by_moderator_is_refused(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper")
    res = await world.mod.slash(world.general, "badge edit", badge="helper", name="Mine")
    assert text_of(res) == (
        "You need the Admin level to edit badges."
        " The server owner can give your role that level with /badge config set-role."
    )
    assert (await world.bot.service.catalog.find(world.guild.id, "helper")).name == "Helper"


async def test_edit_unknown_badge_suggests_a_name(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="helper")
    res = await world.admin.slash(world.general, "badge edit", badge="helpr", name="x")
    assert res.ephemeral
    assert text_of(res) == "No badge named 'helpr' in this server. Did you mean 'helper'?"


async def _badge_with_holders(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper")
    await world.mod.slash(world.general, "badge award", badge="helper", member=world.alice)
    await world.mod.slash(world.general, "badge award", badge="helper", member=world.bob)


async def test_delete_asks_then_deletes_on_confirm(world: World) -> None:
    await _badge_with_holders(world)
    res = await world.admin.slash(world.general, "badge delete", badge="helper")
    assert res.response is not None
    assert res.response.content == (
        "Delete **Helper**? 2 members hold it and will lose it. This cannot be undone."
    )
    await world.admin.click(res.response, label="Delete badge")
    edited = message(world.general, res.response.id)
    assert edited.content == (
        "Deleted **Helper**. 2 members no longer hold it; their history keeps it."
    )
    with pytest.raises(BadgeNotFound):
        await world.bot.service.catalog.find(world.guild.id, "helper")
    assert (await world.bot.service.awards.of_member(world.guild.id, world.alice.id)).total == 0


async def test_delete_confirmation_by_someone_else_is_refused(world: World) -> None:
    await _badge_with_holders(world)
    res = await world.admin.slash(world.general, "badge delete", badge="helper")
    assert res.response is not None
    other = await world.owner.click(res.response, label="Delete badge")
    assert other.ephemeral
    assert text_of(other) == (
        f"Only <@{world.admin.id}> can use these buttons; run the command yourself."
    )
    assert (await world.bot.service.catalog.find(world.guild.id, "helper")).awarded_count == 2


async def test_delete_cancel_and_timeout_keep_the_badge(world: World) -> None:
    await _badge_with_holders(world)
    res = await world.admin.slash(world.general, "badge delete", badge="helper")
    assert res.response is not None
    await world.admin.click(res.response, label="Cancel")
    assert message(world.general, res.response.id).content == ("Kept **Helper**.")
    res = await world.admin.slash(world.general, "badge delete", badge="helper")
    assert res.response is not None
    await world.env.advance_time(61)
    timed_out = message(world.general, res.response.id)
    assert timed_out.content == "Kept **Helper** (no answer within a minute)."
    assert all(c.disabled for row in timed_out.components for c in row.children)
    assert (await world.bot.service.catalog.find(world.guild.id, "helper")).awarded_count == 2


async def test_delete_by_moderator_is_refused_without_a_prompt(world: World) -> None:
    await _badge_with_holders(world)
    res = await world.mod.slash(world.general, "badge delete", badge="helper")
    assert res.ephemeral
    assert text_of(res) == (
        "You need the Admin level to delete badges."
        " The server owner can give your role that level with /badge config set-role."
    )
