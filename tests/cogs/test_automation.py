"""Automatic badges over SimCord: counting from real gateway events, /badge rule, progress,
leaderboard, chains, rotation, and what a restart loses."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import pytest

from badges.activity import ActivityTally
from badges.automation import MemberRecord, RuleDraft, RuleKind, RuleProgress
from badges.permissions import Actor, Level
from bot.app import create_bot
from bot.config import Settings
from tests.cogs.conftest import World, embed_of, role_ids, text_of


async def _flush(w: World) -> None:
    """The flush the bot runs every few seconds, now; then let role sync finish."""
    await w.bot.counter.flush()
    await w.env.settle()
    await w.bot.role_sync.wait_idle()


async def _badge(w: World, name: str, **kw: object) -> str:
    await w.admin.slash(w.general, "badge create", name=name, **kw)
    return (await w.bot.service.catalog.find(w.guild.id, name)).id


async def _holders(w: World, badge_id: str) -> set[int]:
    page = await w.bot.service.awards.holders(w.guild.id, badge_id, limit=100)
    return {a.user_id for a in page.items}


async def test_messages_count_and_a_later_rule_awards_retroactively(world: World) -> None:
    w = world
    for _ in range(3):
        await w.alice.send(w.general, "hi")
    await w.bob.send(w.general, "hello")
    await w.robot.send(w.general, "beep")  # bots never count
    await _flush(w)
    badge = await _badge(w, "Chatty")
    res = await w.admin.slash(
        w.general, "badge rule add", badge="Chatty", kind="messages", threshold=3
    )
    assert res.ephemeral
    assert "1 member received it now" in text_of(res)
    assert await _holders(w, badge) == {w.alice.id}
    (award,) = (await w.bot.service.awards.holders(w.guild.id, badge)).items
    assert award.awarded_by_name == "Automatic"
    assert award.reason == "Automatic: 3 messages"


async def test_new_activity_is_evaluated_at_the_next_flush_and_the_role_follows(
    world: World,
) -> None:
    w = world
    await _badge(w, "Regular")
    await w.admin.slash(w.general, "badge link-role", badge="Regular", role=w.helpers)
    await w.admin.slash(w.general, "badge rule add", badge="Regular", kind="messages", threshold=2)
    await w.bob.send(w.general, "one")
    await _flush(w)
    assert w.helpers.id not in await role_ids(w, w.bob)
    await w.bob.send(w.general, "two")
    await _flush(w)
    assert w.helpers.id in await role_ids(w, w.bob)


async def test_excluded_channels_and_the_cooldown(world: World) -> None:
    w = world
    spam = w.guild.create_text_channel("spam")
    await w.env.settle()
    for _ in range(4):
        await w.alice.send(spam, "lol")  # a burst in a channel that does not count
        await w.bob.send(w.general, "k")  # a burst: with the cooldown, one message
    await _flush(w)
    await _badge(w, "Talker")
    await _badge(w, "Thoughtful")
    await w.admin.slash(
        w.general,
        "badge rule add",
        badge="Talker",
        kind="messages",
        threshold=4,
        exclude=f"<#{spam.id}>",
    )
    await w.admin.slash(
        w.general,
        "badge rule add",
        badge="Thoughtful",
        kind="messages",
        threshold=2,
        cooldown=True,
    )
    talker = (await w.bot.service.catalog.find(w.guild.id, "Talker")).id
    thoughtful = (await w.bot.service.catalog.find(w.guild.id, "Thoughtful")).id
    assert await _holders(w, talker) == {w.bob.id}
    assert await _holders(w, thoughtful) == set()


async def test_reactions_received_count_but_not_on_ones_own_message(world: World) -> None:
    w = world
    message = await w.alice.send(w.general, "look at this")
    await w.bob.react(message, "👍")
    await w.mod.react(message, "🎉")
    await w.alice.react(message, "😀")  # her own: does not count
    own = await w.bob.send(w.general, "me too")
    await w.bob.react(own, "👍")
    await _flush(w)
    badge = await _badge(w, "Liked")
    await w.admin.slash(w.general, "badge rule add", badge="Liked", kind="reactions", threshold=2)
    assert await _holders(w, badge) == {w.alice.id}


async def test_voice_minutes(world: World) -> None:
    w = world
    lounge = w.guild.create_voice_channel("Lounge")
    await w.env.settle()
    now = [datetime(2026, 12, 2, 12, 0, tzinfo=UTC)]
    w.bot.counter.clock = lambda: now[0]
    await w.alice.join_voice(lounge)
    await w.robot.join_voice(lounge)  # bots never count
    now[0] += timedelta(minutes=25)
    await _flush(w)  # an ongoing session is credited at each flush
    now[0] += timedelta(minutes=20, seconds=30)
    await w.alice.set_voice(self_deaf=True)  # deafened: not taking part
    now[0] += timedelta(hours=3)
    await w.alice.set_voice(self_deaf=False)
    await w.alice.leave_voice()
    await _flush(w)
    badge = await _badge(w, "Voice")
    await w.admin.slash(
        w.general, "badge rule add", badge="Voice", kind="voice_minutes", threshold=45
    )
    assert await _holders(w, badge) == {w.alice.id}
    (voice,) = (await w.bot.service.rules.progress(w.guild.id, w.alice.id, badge))[0].rules
    assert voice.value == 45.0  # 25 + 20 minutes; the 3 deafened hours do not count


async def test_tenure_comes_from_what_the_bot_saw_of_the_member(world: World) -> None:
    w = world
    await w.alice.send(w.general, "hi")  # the message carries when she joined
    await _flush(w)
    badge = await _badge(w, "Veteran")
    joined = (await w.bot.service.rules.progress(w.guild.id, w.alice.id)) == []
    assert joined
    await w.admin.slash(
        w.general, "badge rule add", badge="Veteran", kind="tenure_days", threshold=30
    )
    assert await _holders(w, badge) == {w.alice.id}  # SimCord members joined 2026-01-01


async def test_a_chain_hands_over_the_badge_and_its_role(world: World) -> None:
    w = world
    await _badge(w, "Bronze")
    await _badge(w, "Silver")
    await w.admin.slash(w.general, "badge link-role", badge="Bronze", role=w.helpers)
    await w.admin.slash(w.general, "badge rule add", badge="Bronze", kind="messages", threshold=1)
    await w.admin.slash(w.general, "badge rule add", badge="Silver", kind="messages", threshold=3)
    res = await w.admin.slash(
        w.general,
        "badge rule add",
        badge="Silver",
        kind="holds_badge",
        threshold=1,
        required_badge="Bronze",
        replace=True,
    )
    assert "holds Bronze (replaced)" in text_of(res)
    await w.alice.send(w.general, "1")
    await _flush(w)
    assert w.helpers.id in await role_ids(w, w.alice)
    await w.alice.send(w.general, "2")
    await w.alice.send(w.general, "3")
    await _flush(w)
    held = {
        mb.badge.name for mb in (await w.bot.service.awards.of_member(w.guild.id, w.alice.id)).items
    }
    assert held == {"Silver"}
    assert w.helpers.id not in await role_ids(w, w.alice)  # bronze's role went with it


async def test_top_n_rotates_and_auto_revoke_takes_the_role_back(world: World) -> None:
    w = world
    badge = await _badge(w, "Top chatter")
    await w.admin.slash(w.general, "badge link-role", badge="Top chatter", role=w.helpers)
    res = await w.admin.slash(
        w.general, "badge rule auto-revoke", badge="Top chatter", enabled=True
    )
    assert "taken back" in text_of(res)
    for _ in range(3):
        await w.alice.send(w.general, "a")
    await w.bob.send(w.general, "b")
    await _flush(w)
    await w.admin.slash(
        w.general, "badge rule add", badge="Top chatter", kind="top_active", threshold=1
    )
    await w.bot.role_sync.wait_idle()
    assert await _holders(w, badge) == {w.alice.id}
    assert w.helpers.id in await role_ids(w, w.alice)
    for _ in range(5):
        await w.bob.send(w.general, "b")
    await _flush(w)
    assert await _holders(w, badge) == {w.alice.id}  # ranks move only at rotation
    await w.bot.service.rules.evaluate(w.guild.id, rotate=True)  # the daily rotation
    await w.bot.role_sync.wait_idle()
    assert await _holders(w, badge) == {w.bob.id}
    assert w.helpers.id not in await role_ids(w, w.alice)
    assert w.helpers.id in await role_ids(w, w.bob)


async def test_progress_is_private_and_has_bars(world: World) -> None:
    w = world
    await _badge(w, "Regular")
    await w.admin.slash(w.general, "badge rule add", badge="Regular", kind="messages", threshold=4)
    await w.alice.send(w.general, "a")
    await _flush(w)
    res = await w.alice.slash(w.general, "badge progress")
    assert res.ephemeral
    field = embed_of(res).fields[0]
    assert field.name == "Regular"
    assert "▰▰▰▱▱▱▱▱▱▱▱▱ 25% · 1 / 4" in (field.value or "")
    one = await w.alice.slash(w.general, "badge progress", badge="Regular")
    assert embed_of(one).fields[0].name == "Regular"
    await _badge(w, "By hand")
    none = await w.alice.slash(w.general, "badge progress", badge="By hand")
    assert none.ephemeral
    assert text_of(none) == "**By hand** is not earned automatically here."


async def test_leaderboard_is_public_and_pings_nobody(world: World) -> None:
    w = world
    for _ in range(2):
        await w.bob.send(w.general, "b")
    await w.alice.send(w.general, "a")
    await _flush(w)
    res = await w.alice.slash(w.general, "badge leaderboard", window="7 days")
    assert not res.ephemeral
    lines = (embed_of(res).description or "").splitlines()
    assert lines == [f"🥇 <@{w.bob.id}> · 2.0", f"🥈 <@{w.alice.id}> · 1.0"]


async def test_members_cannot_add_rules(world: World) -> None:
    w = world
    await _badge(w, "Regular")
    res = await w.alice.slash(
        w.general, "badge rule add", badge="Regular", kind="messages", threshold=4
    )
    assert res.ephemeral
    assert text_of(res).startswith("You need the Admin level to change how badges are earned")
    assert await w.bot.service.rules.of_guild(w.guild.id) == []


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"kind": "top_active", "threshold": 500}, "'top N most active' rule is a number of"),
        ({"kind": "tenure_days", "threshold": 5, "window_days": 7}, "has no window"),
        ({"kind": "holds_badge", "threshold": 1}, "Name the badge a member must hold"),
        ({"kind": "messages", "threshold": 5, "exclude": "spam"}, "as #mentions"),
        ({"kind": "messages", "threshold": 5, "voice_weight": 2.0}, "top N most active"),
    ],
)
async def test_bad_rules_get_a_clear_private_refusal(
    world: World, options: dict[str, object], says: str
) -> None:
    w = world
    await _badge(w, "Regular")
    res = await w.admin.slash(w.general, "badge rule add", badge="Regular", **options)
    assert res.ephemeral
    assert says in text_of(res)
    assert await w.bot.service.rules.of_guild(w.guild.id) == []


async def test_rule_list_and_remove(world: World) -> None:
    w = world
    await _badge(w, "Regular")
    await _badge(w, "Top Chatter")
    await w.admin.slash(
        w.general, "badge rule add", badge="Regular", kind="messages", threshold=9, window_days=7
    )
    await w.admin.slash(
        w.general, "badge rule add", badge="Top Chatter", kind="top_active", threshold=3
    )
    rule, top = await w.bot.service.rules.of_guild(w.guild.id)
    picked = await w.admin.autocomplete(
        w.general, "badge rule remove", "rule", "", badge="top-chatter"
    )
    assert [c["value"] for c in picked] == [str(top.id)]
    listing = await w.alice.slash(w.general, "badge rule list")
    assert f"`#{rule.id}` 9 messages in 7 days" in text_of(listing)
    choices = await w.admin.autocomplete(
        w.general, "badge rule remove", "rule", "", badge="Regular"
    )
    assert [c["value"] for c in choices] == [str(rule.id)]
    denied = await w.mod.slash(w.general, "badge rule remove", badge="Regular", rule=str(rule.id))
    assert denied.ephemeral
    assert "Admin level" in text_of(denied)
    res = await w.admin.slash(w.general, "badge rule remove", badge="Regular", rule=str(rule.id))
    assert "Removed rule" in text_of(res)
    assert await w.bot.service.rules.of_guild(w.guild.id) == [top]
    again = await w.admin.slash(w.general, "badge rule remove", badge="Regular", rule=str(rule.id))
    assert f"no rule #{rule.id}" in text_of(again)


async def test_a_crash_loses_only_unflushed_counts_and_says_so(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    w = world
    for _ in range(3):
        await w.alice.send(w.general, "kept")
    await _flush(w)
    await w.alice.send(w.general, "lost")  # counted in memory, never written: the crash
    # a new process on the same database, as after kill -9 (the old one never shut down)
    settings = Settings(_env_file=None, discord_token="x")  # type: ignore[call-arg]
    restarted = create_bot(settings, database=w.bot.database)
    with caplog.at_level(logging.WARNING, logger="bot.activity"):
        await restarted.counter.started()
    assert "without a clean shutdown" in caplog.text
    board = await restarted.service.activity.leaderboard(w.guild.id)
    assert [(s.user_id, s.score) for s in board] == [(w.alice.id, 3.0)]


async def test_the_periodic_pass_awards_what_other_processes_counted(world: World) -> None:
    w = world
    badge = await _badge(w, "Regular")
    await w.admin.slash(w.general, "badge link-role", badge="Regular", role=w.helpers)
    await w.admin.slash(w.general, "badge rule add", badge="Regular", kind="messages", threshold=5)
    tally = ActivityTally()  # counted and written elsewhere: no event reached this process
    tally.member(MemberRecord(w.guild.id, w.bob.id, datetime(2026, 1, 1, tzinfo=UTC), None))
    for i in range(5):
        tally.message(w.guild.id, w.bob.id, w.general.id, datetime.now(UTC) + timedelta(minutes=i))
    await w.bot.service.activity.record(*tally.take(datetime.now(UTC)))
    assert await _holders(w, badge) == set()
    await w.bot.counter.full_pass()
    await w.bot.role_sync.wait_idle()
    assert await _holders(w, badge) == {w.bob.id}
    assert w.helpers.id in await role_ids(w, w.bob)


async def test_a_reaction_toggled_on_and_off_counts_once(world: World) -> None:
    w = world
    message = await w.alice.send(w.general, "look")
    for _ in range(5):
        await w.bob.react(message, "👍")
        await w.bob.unreact(message, "👍")
    await w.bob.react(message, "🎉")  # another emoji by the same member: still one
    await _flush(w)
    (progress,) = await _progress_after_rule(w, "reactions", 2)
    assert progress.value == 1.0


async def _progress_after_rule(w: World, kind: str, threshold: int) -> list[RuleProgress]:
    await _badge(w, "Probe")
    await w.admin.slash(w.general, "badge rule add", badge="Probe", kind=kind, threshold=threshold)
    (badge,) = await w.bot.service.rules.progress(w.guild.id, w.alice.id)
    return badge.rules


@pytest.mark.members_intent
async def test_a_member_who_leaves_stops_counting_and_qualifying(world: World) -> None:
    w = world
    lounge = w.guild.create_voice_channel("Lounge")
    await w.env.settle()
    now = [datetime(2026, 12, 2, 12, 0, tzinfo=UTC)]
    w.bot.counter.clock = lambda: now[0]
    await w.alice.send(w.general, "bye")
    await w.alice.join_voice(lounge)
    now[0] += timedelta(minutes=10)
    w.guild.remove_member(w.alice)
    await w.env.settle()
    now[0] += timedelta(hours=5)
    await _flush(w)
    board = await w.bot.service.activity.leaderboard(w.guild.id)
    assert w.alice.id not in {s.user_id for s in board}
    badge = await _badge(w, "Regular")
    await w.admin.slash(w.general, "badge rule add", badge="Regular", kind="messages", threshold=1)
    assert await _holders(w, badge) == set()


async def test_a_flush_cut_short_by_shutdown_keeps_its_counts(world: World) -> None:
    w = world
    for _ in range(4):
        await w.alice.send(w.general, "hi")
    flush = asyncio.create_task(w.bot.counter.flush())
    await asyncio.sleep(0)  # it took the counts and is writing them
    flush.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await flush
    await w.bot.counter.stopped()  # what cog_unload runs
    board = await w.bot.service.activity.leaderboard(w.guild.id)
    assert [(s.user_id, s.score) for s in board] == [(w.alice.id, 4.0)]


async def test_progress_fits_discords_limits_and_shows_names_as_text(world: World) -> None:
    w = world
    service = w.bot.service
    admin = Actor(w.admin.id, "adminuser", Level.ADMIN)
    for i in range(25):
        badge = await service.catalog.create(admin, w.guild.id, name=f"**Bold** ~~{i}~~ __u__")
        for n in (10, 20, 30, 40):
            draft = RuleDraft(RuleKind.MESSAGES, n * 1000 + i, window_days=90, cooldown=True)
            await service.rules.add(admin, w.guild.id, badge.id, draft)
    res = await w.alice.slash(w.general, "badge progress")
    embed = embed_of(res)
    assert len(embed) <= 6000
    assert embed.fields[0].name == "\\*\\*Bold\\*\\* \\~\\~0\\~\\~ \\_\\_u\\_\\_"
    assert embed.footer.text is not None
    assert embed.footer.text.endswith("more badges: pick one with the badge option.")
