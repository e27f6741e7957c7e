"""Every interaction is acknowledged before the database is asked anything, refusals that
memory can decide are private first responses, and nothing is written for an interaction
whose acknowledgement failed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import discord
import pytest
from discord import app_commands
from sqlalchemy import event

from badges.permissions import Actor, Level
from bot.ui.replies import QUICK_READ, privacy_of
from tests.cogs.conftest import World, embed_of, private_text, text_of

SEED = Actor(1, "seed", Level.ADMIN)
MOD_LEVEL_NEEDED = " An admin can give your role that level with /badge config set-role."


@pytest.fixture
async def helper(world: World) -> World:
    await world.admin.slash(world.general, "badge create", name="Helper", icon="🤝")
    await world.env.settle()
    return world


class Trace:
    """How the bot acknowledged interactions, and when it queried the database."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.acks: dict[int, list[str]] = {}

    def first_query_after_ack(self) -> bool:
        return "ack" in self.steps and (
            "query" not in self.steps or self.steps.index("ack") < self.steps.index("query")
        )

    def how(self) -> str:
        """How the latest interaction was first acknowledged: 'defer' or 'send_message'."""
        return list(self.acks.values())[-1][0]


@pytest.fixture
def trace(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Trace]:
    found = Trace()
    for name in ("defer", "send_message", "edit_message", "send_modal"):
        original = getattr(discord.InteractionResponse, name)

        def wrapped(
            self: Any, *args: Any, __original: Any = original, __name: str = name, **kwargs: Any
        ) -> Any:
            found.steps.append("ack")
            found.acks.setdefault(self._parent.id, []).append(__name)
            return __original(self, *args, **kwargs)

        monkeypatch.setattr(discord.InteractionResponse, name, wrapped)

    def queried(*_: Any) -> None:
        found.steps.append("query")

    engine = world.bot.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", queried)
    yield found
    event.remove(engine, "before_cursor_execute", queried)


def cold(world: World) -> None:
    """Nothing in memory, as after a start: the next command must acknowledge first."""
    bot = world.bot
    for cache in (bot.catalog, bot.guild_settings, bot.policy_cache, bot.gate_cache):
        cache.forget()
    bot.member_pages.forget()


async def _awards(world: World, member_id: int) -> int:
    return (await world.bot.service.awards.of_member(world.guild.id, member_id)).total


# -- /badge award ----------------------------------------------------------------------------


async def test_award_defers_publicly_then_writes(helper: World, trace: Trace) -> None:
    w = helper
    trace.steps.clear()
    res = await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    assert trace.how() == "defer"
    assert not res.ephemeral
    assert embed_of(res).title == "🏅 alice received 🤝 Helper"
    assert trace.first_query_after_ack()
    assert await _awards(w, w.alice.id) == 1


async def test_award_by_a_member_is_refused_at_once(helper: World, trace: Trace) -> None:
    w = helper
    res = await w.alice.slash(w.general, "badge award", badge="helper", member=w.bob)
    assert trace.how() == "send_message"
    assert res.ephemeral
    assert text_of(res) == "You need the Moderator level to award badges." + MOD_LEVEL_NEEDED
    assert await _awards(w, w.bob.id) == 0


@pytest.mark.parametrize(
    ("badge", "member", "refusal"),
    [
        ("nope", "alice", "No badge named 'nope' in this server."),
        ("helpr", "alice", "No badge named 'helpr' in this server. Did you mean 'Helper'?"),
        ("helper", "robot", "Bots cannot hold badges: pick a member."),
        ("   ", "alice", "Name the badge (its name or slug)."),
    ],
)
async def test_award_of_bad_input_is_refused_at_once(
    helper: World, badge: str, member: str, refusal: str, trace: Trace
) -> None:
    w = helper
    res = await w.mod.slash(w.general, "badge award", badge=badge, member=getattr(w, member))
    assert trace.how() == "send_message"
    assert res.ephemeral
    assert text_of(res) == refusal


async def test_award_of_an_inactive_badge_is_refused_at_once(helper: World, trace: Trace) -> None:
    w = helper
    await w.admin.slash(w.general, "badge edit", badge="helper", active=False)
    await w.env.settle()
    res = await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    assert trace.how() == "send_message"
    assert res.ephemeral
    assert text_of(res) == "Cannot award inactive badge 'Helper'."
    assert await _awards(w, w.alice.id) == 0


async def test_award_with_nothing_in_memory_acknowledges_first(helper: World, trace: Trace) -> None:
    w = helper
    cold(w)
    trace.steps.clear()
    res = await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    assert trace.first_query_after_ack()
    assert trace.how() == "defer"
    assert not res.ephemeral
    assert embed_of(res).title == "🏅 alice received 🤝 Helper"


async def test_a_cold_refusal_is_still_private(helper: World, trace: Trace) -> None:
    w = helper
    cold(w)
    trace.steps.clear()
    before = len(w.general.history(viewer=w.bob))
    res = await w.alice.slash(w.general, "badge award", badge="helper", member=w.bob)
    assert trace.first_query_after_ack()
    assert private_text(res) == "You need the Moderator level to award badges." + MOD_LEVEL_NEEDED
    assert len(w.general.history(viewer=w.bob)) == before


async def test_a_refusal_only_the_write_decides_replaces_the_public_thinking(
    helper: World, trace: Trace
) -> None:
    w = helper
    await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    before = len(w.general.history(viewer=w.bob))
    res = await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    assert trace.acks
    assert list(trace.acks.values())[-1][0] == "defer"
    assert private_text(res) == "User already has this badge ('Helper')."
    assert len(w.general.history(viewer=w.bob)) == before  # nothing left in public
    assert res.response is None


# -- a deferral that fails -------------------------------------------------------------------


def _unknown_interaction() -> discord.NotFound:
    class Response:
        status = 404
        reason = "Not Found"

    return discord.NotFound(Response(), {"code": 10062, "message": "Unknown interaction"})  # type: ignore[arg-type]


async def test_nothing_is_awarded_when_the_deferral_fails(
    helper: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    w = helper
    calls: list[str] = []

    async def expired(self: Any, *args: Any, **kwargs: Any) -> None:
        calls.append("defer")
        raise _unknown_interaction()

    async def send_message(self: Any, *args: Any, **kwargs: Any) -> None:
        calls.append("send_message")
        raise _unknown_interaction()

    monkeypatch.setattr(discord.InteractionResponse, "defer", expired)
    monkeypatch.setattr(discord.InteractionResponse, "send_message", send_message)
    with caplog.at_level(logging.INFO):
        await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    assert await _awards(w, w.alice.id) == 0
    assert (await w.bot.service.catalog.find(w.guild.id, "helper")).awarded_count == 0
    assert calls == ["defer"]  # no second, doomed attempt to answer
    mine = [r for r in caplog.records if r.name == "bot.ui.replies"]
    assert [r.levelname for r in mine] == ["WARNING"]
    assert "10062" in mine[0].getMessage()
    assert mine[0].exc_info is None
    w.take_errors()  # the expired interaction is reported above, once


async def test_nothing_is_revoked_when_the_deferral_fails(
    helper: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = helper
    await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)

    async def refused(self: Any, *args: Any, **kwargs: Any) -> None:
        raise discord.HTTPException(type("R", (), {"status": 500, "reason": "x"})(), "down")  # type: ignore[arg-type]

    monkeypatch.setattr(discord.InteractionResponse, "defer", refused)
    await w.mod.slash(w.general, "badge revoke", badge="helper", member=w.alice)
    assert await _awards(w, w.alice.id) == 1
    w.take_errors()  # a bug report with an error id: Discord failed, not the user


# -- /badge revoke ---------------------------------------------------------------------------


async def test_revoke_defers_publicly_then_writes(helper: World, trace: Trace) -> None:
    w = helper
    await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    res = await w.mod.slash(w.general, "badge revoke", badge="helper", member=w.alice)
    assert trace.how() == "defer"
    assert not res.ephemeral
    assert embed_of(res).title == "alice no longer holds 🤝 Helper"


async def test_revoke_by_a_member_is_refused_at_once(helper: World, trace: Trace) -> None:
    w = helper
    res = await w.bob.slash(w.general, "badge revoke", badge="helper", member=w.alice)
    assert trace.how() == "send_message"
    assert res.ephemeral
    assert text_of(res) == "You need the Moderator level to revoke badges." + MOD_LEVEL_NEEDED


async def test_revoke_of_an_unknown_badge_is_refused_at_once(helper: World, trace: Trace) -> None:
    res = await helper.mod.slash(helper.general, "badge revoke", badge="ghost", member=helper.bob)
    assert trace.how() == "send_message"
    assert res.ephemeral
    assert text_of(res) == "No badge named 'ghost' in this server."


# -- /badge award-many -----------------------------------------------------------------------


async def test_award_many_defers_publicly(helper: World, trace: Trace) -> None:
    w = helper
    res = await w.mod.slash(
        w.general, "badge award-many", badge="helper", members=f"<@{w.alice.id}> {w.bob.id}"
    )
    assert trace.how() == "defer"
    assert not res.ephemeral
    assert text_of(res).startswith("**🤝 Helper**: 2 members awarded")


async def test_award_many_by_a_member_is_refused_at_once(helper: World, trace: Trace) -> None:
    w = helper
    res = await w.alice.slash(w.general, "badge award-many", badge="helper", members="x")
    assert trace.how() == "send_message"
    assert res.ephemeral
    assert text_of(res).startswith("You need the Moderator level")


async def test_award_many_without_members_is_refused_at_once(helper: World, trace: Trace) -> None:
    w = helper
    res = await w.mod.slash(w.general, "badge award-many", badge="helper", members="nobody")
    assert trace.how() == "send_message"
    assert res.ephemeral
    assert text_of(res).startswith("I found no member in that")


# -- /badge info -----------------------------------------------------------------------------


async def test_info_acknowledges_before_reading(helper: World, trace: Trace) -> None:
    w = helper
    await w.mod.slash(w.general, "badge award", badge="helper", member=w.alice)
    await w.env.settle()
    trace.steps.clear()
    res = await w.bob.slash(w.general, "badge info", badge="helper")
    assert trace.first_query_after_ack()
    assert trace.how() == "defer"
    assert not res.ephemeral
    fields = {f.name: f.value for f in embed_of(res).fields}
    assert fields["Holders"] == "1"  # read after the ack, not the count memory holds


async def test_info_of_an_unknown_badge_is_refused_at_once(helper: World, trace: Trace) -> None:
    trace.steps.clear()
    res = await helper.bob.slash(helper.general, "badge info", badge="ghost")
    assert trace.how() == "send_message"
    assert res.ephemeral
    assert text_of(res) == "No badge named 'ghost' in this server."
    assert "query" not in trace.steps


# -- /badge config show and unset-role -------------------------------------------------------


async def test_config_show_acknowledges_before_reading(helper: World, trace: Trace) -> None:
    trace.steps.clear()
    res = await helper.admin.slash(helper.general, "badge config show")
    assert trace.first_query_after_ack()
    assert trace.how() == "defer"
    assert res.ephemeral
    assert embed_of(res).title


async def test_config_show_by_a_member_is_refused_at_once(helper: World, trace: Trace) -> None:
    res = await helper.alice.slash(helper.general, "badge config show")
    assert trace.how() == "send_message"
    assert res.ephemeral
    assert text_of(res).startswith("You need the Admin level")


async def test_unset_role_acknowledges_before_writing(helper: World, trace: Trace) -> None:
    w = helper
    await w.admin.slash(w.general, "badge config set-role", level="moderator", role=w.mod_role)
    await w.env.settle()
    trace.steps.clear()
    res = await w.admin.slash(w.general, "badge config unset-role", role=w.mod_role)
    assert trace.first_query_after_ack()
    assert trace.how() == "defer"
    assert res.ephemeral
    assert text_of(res) == f"<@&{w.mod_role.id}> no longer grants a level."
    refused = await w.bob.slash(w.general, "badge award", badge="helper", member=w.alice)
    assert text_of(refused).startswith("You need the Moderator level")


async def test_unset_role_by_a_member_is_refused_at_once(helper: World, trace: Trace) -> None:
    res = await helper.alice.slash(helper.general, "badge config unset-role", role=helper.mod_role)
    assert trace.how() == "send_message"
    assert res.ephemeral
    assert text_of(res).startswith("You need the Admin level")


async def test_unset_role_of_a_role_without_level_is_refused_at_once(
    helper: World, trace: Trace
) -> None:
    w = helper
    trace.steps.clear()
    res = await w.admin.slash(w.general, "badge config unset-role", role=w.helpers)
    assert trace.how() == "send_message"
    assert res.ephemeral
    assert text_of(res) == f"<@&{w.helpers.id}> does not grant a level; nothing to unset."
    assert "query" not in trace.steps


# -- /badge gate -----------------------------------------------------------------------------


async def test_gate_acknowledges_before_reading(helper: World, trace: Trace) -> None:
    w = helper
    await w.admin.slash(w.general, "badge link-role", badge="helper", role=w.helpers)
    await w.env.settle()
    secret = w.guild.create_text_channel("secret")
    await w.env.settle()
    trace.steps.clear()
    res = await w.admin.slash(w.general, "badge gate", badge="helper", channel=secret)
    assert trace.first_query_after_ack()
    assert trace.how() == "defer"
    assert res.ephemeral
    assert "is now visible only to holders of **🤝 Helper**" in text_of(res)


async def test_gate_by_a_member_is_refused_at_once(helper: World, trace: Trace) -> None:
    res = await helper.alice.slash(
        helper.general, "badge gate", badge="helper", channel=helper.logs
    )
    assert trace.how() == "send_message"
    assert res.ephemeral
    assert text_of(res).startswith("You need the Admin level")


async def test_gate_with_a_badge_without_role_is_refused_at_once(
    helper: World, trace: Trace
) -> None:
    trace.steps.clear()
    res = await helper.admin.slash(
        helper.general, "badge gate", badge="helper", channel=helper.logs
    )
    assert trace.how() == "send_message"
    assert res.ephemeral
    assert text_of(res) == (
        "'Helper' has no role to open channels with: link one first."
        " Link one with /badge link-role."
    )
    assert "query" not in trace.steps


# -- pages, and the public reads -------------------------------------------------------------


async def test_page_buttons_acknowledge_before_reading(world: World, trace: Trace) -> None:
    w = world
    for i in range(20):
        await w.bot.service.catalog.create(SEED, w.guild.id, name=f"B{i:02d}")
    res = await w.alice.slash(w.general, "badge list")
    assert trace.how() == "defer"
    assert res.ephemeral
    assert res.response is not None
    trace.steps.clear()
    turned = await w.alice.click(res.response, label="Next ▶")
    assert trace.first_query_after_ack()
    assert trace.how() == "defer"
    assert embed_of(turned).footer.text == "Page 2 of 2 · 20 badges"


async def test_badges_read_quickly_is_answered_with_one_response(
    helper: World, trace: Trace
) -> None:
    w = helper
    await w.mod.slash(w.general, "badge award", badge="helper", member=w.bob)
    trace.steps.clear()
    shown = await w.alice.slash(w.general, "badges", member=w.bob)
    assert list(trace.acks.values())[-1] == ["send_message"]  # no deferral first
    assert not shown.ephemeral
    assert "Helper" in str(embed_of(shown).to_dict())


async def test_badges_read_slowly_defers_publicly_first(
    helper: World, trace: Trace, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = helper
    pages = w.bot.member_pages
    read = pages.read

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(QUICK_READ + 0.2)
        trace.steps.append("read")
        return await read(*args, **kwargs)

    monkeypatch.setattr(pages, "read", slow)
    trace.steps.clear()
    shown = await w.alice.slash(w.general, "badges", member=w.bob)
    assert trace.how() == "defer"
    assert trace.steps.index("ack") < trace.steps.index("read")
    assert not shown.ephemeral
    assert embed_of(shown).title is not None


async def test_leaderboard_defers_publicly(helper: World, trace: Trace) -> None:
    w = helper
    trace.steps.clear()
    board = await w.alice.slash(w.general, "badge leaderboard")
    assert trace.first_query_after_ack()
    assert trace.how() == "defer"
    assert not board.ephemeral
    assert embed_of(board).title == "Most active members · 30 days"


async def test_every_command_declares_whether_its_reply_is_private(world: World) -> None:
    """A command without it would defer a cold start privately and hide a public reply."""
    tree = world.bot.tree
    commands: list[Any] = [c for c in tree.walk_commands() if isinstance(c, app_commands.Command)]
    commands += tree.get_commands(type=discord.AppCommandType.user)
    commands += tree.get_commands(type=discord.AppCommandType.message)
    assert len(commands) > 30
    assert [c.qualified_name for c in commands if privacy_of(c) is None] == []
