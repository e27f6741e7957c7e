"""/badge info, list, holders, history, /badges, and badge autocomplete."""

from __future__ import annotations

from typing import Any

import pytest
import simcord
from sqlalchemy import event

from badges.permissions import Actor, Level
from badges.service import BadgeService
from db.database import Database
from tests.cogs.conftest import World, embed_of, text_of

ADMIN = Actor(1, "seed", Level.ADMIN)


async def _seed(world: World, count: int, *, holders: int = 0) -> None:
    """``count`` badges named B00..; the first one awarded to ``holders`` new members."""
    service, guild_id = world.bot.service, world.guild.id
    for i in range(count):
        await service.catalog.create(ADMIN, guild_id, name=f"B{i:02d}", icon="⭐")
    if holders:
        first = await service.catalog.find(guild_id, "b00")
        members = [
            world.guild.add_member(world.env.create_user(f"holder{i}")) for i in range(holders)
        ]
        await world.env.settle()
        await service.awards.bulk_award(ADMIN, guild_id, first.id, [m.id for m in members])


async def test_info_shows_the_badge_to_anyone(world: World) -> None:
    await world.admin.slash(
        world.general,
        "badge create",
        name="Helper",
        icon="🤝",
        color="#123456",
        description="Answers questions",
    )
    await world.mod.slash(world.general, "badge award", badge="helper", member=world.alice)
    res = await world.alice.slash(world.general, "badge info", badge="Helper")
    embed = embed_of(res)
    assert embed.title == "🤝 Helper"
    assert embed.description == "Answers questions"
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Slug"] == "`helper`"
    assert fields["Holders"] == "1"
    assert fields["Status"] == "Active"
    assert fields["Created"].startswith("<t:")
    assert embed.colour is not None
    assert embed.colour.value == 0x123456


async def test_info_with_image_icon_uses_thumbnail(world: World) -> None:
    await world.admin.slash(
        world.general, "badge create", name="Pic", icon="https://cdn.example.com/b.png"
    )
    embed = embed_of(await world.alice.slash(world.general, "badge info", badge="pic"))
    assert embed.title == "Pic"
    assert embed.thumbnail.url == "https://cdn.example.com/b.png"


async def test_info_unknown_badge(world: World) -> None:
    res = await world.alice.slash(world.general, "badge info", badge="ghost")
    assert res.ephemeral
    assert text_of(res) == "No badge named 'ghost' in this server."


async def test_list_pages_with_buttons_and_hides_inactive(world: World) -> None:
    await _seed(world, 20)
    await world.bot.service.catalog.update(
        ADMIN,
        world.guild.id,
        (await world.bot.service.catalog.find(world.guild.id, "b19")).id,
        is_active=False,
    )
    res = await world.alice.slash(world.general, "badge list")
    assert res.ephemeral
    assert res.response is not None
    first = embed_of(res)
    assert first.description is not None
    assert first.description.splitlines()[0] == "**⭐ B00** (`b00`) · 0 holders"
    assert first.footer.text == "Page 1 of 2 · 19 badges"
    turned = await world.alice.click(res.response, label="Next ▶")
    second = embed_of(turned)
    assert second.footer.text == "Page 2 of 2 · 19 badges"
    assert second.description is not None
    assert "B19" not in second.description
    everything = await world.alice.slash(world.general, "badge list", include_inactive=True)
    assert embed_of(everything).footer.text == "Page 1 of 2 · 20 badges"


async def test_list_when_empty_says_how_to_start(world: World) -> None:
    res = await world.alice.slash(world.general, "badge list")
    assert embed_of(res).description == (
        "No badges yet. An admin can create one with `/badge create`."
    )


async def test_holders_newest_first_paginated(world: World) -> None:
    await _seed(world, 1, holders=45)
    res = await world.alice.slash(world.general, "badge holders", badge="b00")
    embed = embed_of(res)
    assert embed.footer.text == "Page 1 of 3 · 45 holders"
    assert embed.description is not None
    assert len(embed.description.splitlines()) == 20
    assert res.response is not None
    await world.alice.click(res.response, label="Next ▶")
    last = await world.alice.click(res.response, label="Next ▶")
    assert embed_of(last).footer.text == "Page 3 of 3 · 45 holders"


async def test_holders_unknown_badge(world: World) -> None:
    res = await world.alice.slash(world.general, "badge holders", badge="ghost")
    assert text_of(res) == "No badge named 'ghost' in this server."


async def test_member_badges_are_public(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper", icon="🤝")
    await world.mod.slash(
        world.general, "badge award", badge="helper", member=world.alice, reason="kind words"
    )
    res = await world.bob.slash(world.general, "badges", member=world.alice)
    assert not res.ephemeral
    embed = embed_of(res)
    assert embed.title == "Badges of alice"
    (field,) = embed.fields
    assert field.name == "🤝 Helper"
    assert field.value.endswith(" by moduser\n> kind words")
    assert embed.footer.text == "1 badge"


async def test_member_badges_default_to_the_caller(world: World) -> None:
    res = await world.alice.slash(world.general, "badges")
    embed = embed_of(res)
    assert embed.title == "Badges of alice"
    assert embed.description == f"<@{world.alice.id}> has no badges yet."


async def test_member_badges_paginate_and_only_the_caller_turns_pages(world: World) -> None:
    await _seed(world, 12)
    service = world.bot.service
    for b in (await service.catalog.list(world.guild.id, limit=100)).items:
        await service.awards.award(ADMIN, world.guild.id, b.id, world.alice.id)
    res = await world.alice.slash(world.general, "badges")
    assert res.response is not None
    assert embed_of(res).footer.text == "Page 1 of 2 · 12 badges"
    assert len(embed_of(res).fields) == 6
    refused = await world.bob.click(res.response, label="Next ▶")
    assert refused.ephemeral
    assert text_of(refused) == (
        f"Only <@{world.alice.id}> can turn these pages; run the command yourself."
    )
    turned = await world.alice.click(res.response, label="Next ▶")
    assert embed_of(turned).footer.text == "Page 2 of 2 · 12 badges"
    assert len(embed_of(turned).fields) == 6


async def test_history_for_moderators_shows_awards_and_revocations(world: World) -> None:
    await world.admin.slash(world.general, "badge create", name="Helper")
    await world.mod.slash(
        world.general, "badge award", badge="helper", member=world.alice, reason="great"
    )
    await world.mod.slash(
        world.general, "badge revoke", badge="helper", member=world.alice, reason="oops"
    )
    res = await world.mod.slash(world.general, "badge history", member=world.alice)
    assert res.ephemeral
    names = [f.name for f in embed_of(res).fields]
    assert names == ["✖️ revoked: Helper", "🏅 awarded: Helper"]
    assert embed_of(res).fields[0].value.endswith("by moduser\n> oops")


async def test_history_of_others_is_refused_to_members(world: World) -> None:
    res = await world.bob.slash(world.general, "badge history", member=world.alice)
    assert res.ephemeral
    assert text_of(res) == (
        "You need the Moderator level to see another member's badge history."
        " An admin can give your role that level with /badge config set-role."
    )


async def test_history_of_someone_without_badges(world: World) -> None:
    res = await world.alice.slash(world.general, "badge history", member=world.alice)
    assert embed_of(res).description == f"<@{world.alice.id}> has never been awarded a badge."


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("", ["Alpha", "Beta Tester", "Helper", "Top Helper"]),
        ("he", ["Helper", "Top Helper"]),
        ("TEST", ["Beta Tester"]),
        ("zzz", []),
    ],
)
async def test_badge_autocomplete(world: World, typed: str, expected: list[str]) -> None:
    for name in ("Helper", "Top Helper", "Alpha", "Beta Tester"):
        await world.admin.slash(world.general, "badge create", name=name)
    choices = await world.alice.autocomplete(world.general, "badge info", "badge", typed)
    assert [c["name"] for c in choices] == expected
    if expected:
        assert (
            choices[0]["value"]
            == (await world.bot.service.catalog.find(world.guild.id, expected[0])).slug
        )


async def test_autocomplete_caps_at_25_and_sees_new_badges(world: World) -> None:
    await _seed(world, 30)
    choices = await world.mod.autocomplete(world.general, "badge award", "badge", "b")
    assert len(choices) == 25
    await world.admin.slash(world.general, "badge create", name="Brand New")
    choices = await world.mod.autocomplete(world.general, "badge award", "badge", "brand")
    assert [c["name"] for c in choices] == ["Brand New"]


async def _fields(
    world: World, member: simcord.MemberActor, asker: simcord.MemberActor | None = None
) -> list[str]:
    """The badges /badges shows of ``member`` (each asker may post 3 public replies in 15 s)."""
    res = await (asker or world.bob).slash(world.general, "badges", member=member)
    return [f.name or "" for f in embed_of(res).fields]


async def test_member_badges_show_every_change_at_once(world: World) -> None:
    """/badges answers a member asked about again from memory; an award, a revocation or a
    change to the badge shows in the very next one."""
    w = world
    await w.admin.slash(w.general, "badge create", name="Helper", icon="🤝")
    assert await _fields(w, w.alice) == []
    await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    assert await _fields(w, w.alice) == ["🤝 Helper"]
    await w.admin.slash(w.general, "badge edit", badge="helper", name="Helping hand")
    assert await _fields(w, w.alice) == ["🤝 Helping hand"]
    await w.mod.slash(w.general, "badge revoke", badge="helper", member=w.alice)
    assert await _fields(w, w.alice, asker=w.alice) == []


async def test_member_badges_asked_again_are_answered_without_the_database(
    world: World,
) -> None:
    w = world
    await w.admin.slash(w.general, "badge create", name="Helper", icon="🤝")
    await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    statements: list[str] = []
    engine = w.bot.database.engine.sync_engine

    def executed(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", executed)
    try:
        assert await _fields(w, w.alice) == ["🤝 Helper"]
        read = len(statements)
        assert read >= 1  # the first one read the page
        assert await _fields(w, w.alice) == ["🤝 Helper"]
        assert len(statements) == read  # the second came from memory
    finally:
        event.remove(engine, "before_cursor_execute", executed)


async def test_member_badges_follow_an_award_made_by_another_process(world: World) -> None:
    """A change committed by another process (the REST API on its own) reaches the pages in
    memory through the change feed."""
    w = world
    await w.admin.slash(w.general, "badge create", name="Helper", icon="🤝")
    assert await _fields(w, w.alice) == []
    database = Database(w.bot.database.url.render_as_string(hide_password=False))
    try:
        other = BadgeService(database)
        badge = await other.catalog.find(w.guild.id, "helper")
        await other.awards.award(ADMIN, w.guild.id, badge.id, w.alice.id)
    finally:
        await database.dispose()
    await w.bot.changes.drain()  # what the feed's poll (or PostgreSQL's NOTIFY) does
    assert await _fields(w, w.alice) == ["🤝 Helper"]
