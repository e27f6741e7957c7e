"""/badge award and /badge revoke."""

from __future__ import annotations

import re

import pytest

from badges.model import EventKind
from badges.permissions import Actor, Level
from tests.cogs.conftest import World, embed_of, private_text, text_of


@pytest.fixture
async def helper(world: World) -> World:
    await world.admin.slash(
        world.general, "badge create", name="Helper", icon="🤝", color="#00ff00"
    )
    return world


async def test_moderator_awards_publicly_with_reason(helper: World) -> None:
    w = helper
    res = await w.mod.slash(
        w.general, "badge award", badge="HELPER", member=w.alice, reason="answered 100 questions"
    )
    assert not res.ephemeral
    embed = embed_of(res)
    assert embed.title == "🏅 alice received 🤝 Helper"
    assert embed.description == "answered 100 questions"
    assert embed.footer.text == "Awarded by moduser"
    assert embed.colour is not None
    assert embed.colour.value == 0x00FF00
    (held,) = (await w.bot.service.awards.of_member(w.guild.id, w.alice.id)).items
    assert (held.badge.name, held.award.reason, held.award.awarded_by_id) == (
        "Helper",
        "answered 100 questions",
        w.mod.id,
    )


async def test_configured_moderator_role_can_award(helper: World) -> None:
    w = helper
    await w.admin.slash(w.general, "badge config set-role", level="moderator", role=w.mod_role)
    res = await w.bob.slash(w.general, "badge award", badge="helper", member=w.alice)
    assert embed_of(res).title == "🏅 alice received 🤝 Helper"


async def test_member_cannot_award(helper: World) -> None:
    w = helper
    res = await w.alice.slash(w.general, "badge award", badge="helper", member=w.bob)
    assert res.ephemeral
    assert text_of(res) == (
        "You need the Moderator level to award badges."
        " An admin can give your role that level with /badge config set-role."
    )
    assert (await w.bot.service.awards.of_member(w.guild.id, w.bob.id)).total == 0


async def test_awarding_a_bot_is_refused(helper: World) -> None:
    w = helper
    res = await w.mod.slash(w.general, "badge award", badge="helper", member=w.robot)
    assert res.ephemeral
    assert text_of(res) == "Bots cannot hold badges: pick a member."
    assert (await w.bot.service.catalog.find(w.guild.id, "helper")).awarded_count == 0


async def test_awarding_twice_is_refused_privately(helper: World) -> None:
    w = helper
    await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    before = len(w.general.history())
    res = await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    assert private_text(res) == "User already has this badge ('Helper')."
    # the public "thinking" message was removed: the channel shows nothing new to others
    assert len(w.general.history(viewer=w.alice)) == before
    assert (await w.bot.service.catalog.find(w.guild.id, "helper")).awarded_count == 1


async def test_inactive_badge_cannot_be_awarded(helper: World) -> None:
    w = helper
    await w.admin.slash(w.general, "badge edit", badge="helper", active=False)
    res = await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    assert text_of(res) == "Cannot award inactive badge 'Helper'."
    assert res.ephemeral


async def test_unknown_badge_is_refused(helper: World) -> None:
    w = helper
    res = await w.mod.slash(w.general, "badge award", badge="nope", member=w.alice)
    assert res.ephemeral
    assert text_of(res) == "No badge named 'nope' in this server."


async def test_revoke_with_reason(helper: World) -> None:
    w = helper
    await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    res = await w.mod.slash(
        w.general, "badge revoke", badge="helper", member=w.alice, reason="left the team"
    )
    assert not res.ephemeral
    embed = embed_of(res)
    assert embed.title == "alice no longer holds 🤝 Helper"
    assert embed.description == "left the team"
    assert (await w.bot.service.awards.of_member(w.guild.id, w.alice.id)).total == 0
    moderator = Actor(w.mod.id, "moduser", Level.MODERATOR)
    latest = (await w.bot.service.awards.history(moderator, w.guild.id, w.alice.id)).items[0]
    assert (latest.kind, latest.reason) == (EventKind.REVOKED, "left the team")


async def test_revoke_not_held_is_refused(helper: World) -> None:
    w = helper
    res = await w.mod.slash(w.general, "badge revoke", badge="helper", member=w.alice)
    assert private_text(res) == "User does not have this badge ('Helper')."


async def test_member_cannot_revoke(helper: World) -> None:
    w = helper
    await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    res = await w.bob.slash(w.general, "badge revoke", badge="helper", member=w.alice)
    assert text_of(res) == (
        "You need the Moderator level to revoke badges."
        " An admin can give your role that level with /badge config set-role."
    )
    assert (await w.bot.service.awards.of_member(w.guild.id, w.alice.id)).total == 1


async def test_unexpected_failure_apologises_with_an_error_id_and_logs_it(
    helper: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    w = helper

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(w.bot.service.awards, "award", broken)
    res = await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    reply = private_text(res)
    match = re.fullmatch(
        r"Sorry, something went wrong on my side \(error id `([0-9a-f]{8})`\)\. "
        r"It has been logged; please try again later\.",
        reply,
    )
    assert match is not None, reply
    assert "database on fire" not in reply
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert logged
    assert logged[0].exc_info is not None
    assert [type(getattr(e, "original", e)) for e in w.take_errors()] == [RuntimeError]
