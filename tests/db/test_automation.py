"""Automatic badges and members' gifts through the service, on the configured backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from badges.activity import ActivityTally
from badges.automation import (
    AUTOMATIC_ID,
    Awarders,
    MemberRecord,
    RuleDraft,
    RuleKind,
    Weights,
)
from badges.errors import (
    AlreadyAwarded,
    AlreadyGiven,
    Forbidden,
    InvalidInput,
    QuotaReached,
    RequiredByRules,
)
from badges.model import EventKind
from badges.permissions import Actor, Level
from badges.role_rules import MemberFacts
from badges.service import BadgeService
from db.database import Database
from tests.conftest import ADMIN, GUILD, MEMBER, MOD, SUPER
from tests.fakes import FakeDiscord

START = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
CHAT, SPAM, VOICE = 7001, 7002, 7003


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auto(database: Database, discord_facts: FakeDiscord, clock: Clock) -> BadgeService:
    return BadgeService(database, directory=discord_facts, clock=clock)


async def _badge(service: BadgeService, name: str) -> str:
    return (await service.catalog.create(ADMIN, GUILD, name=name)).id


async def _messages(
    service: BadgeService, counts: dict[int, int], at: datetime, channel: int = CHAT
) -> None:
    """Members send messages, a minute apart each (so a cooldown does not merge them)."""
    tally = ActivityTally()
    for uid, n in counts.items():
        seen(tally, uid)
        for i in range(n):
            tally.message(GUILD, uid, channel, at + timedelta(minutes=i))
    await service.activity.record(*tally.take(at))


def seen(tally: ActivityTally, *user_ids: int) -> None:
    """The bot saw these members as people (every message, reaction or voice event says so)."""
    for uid in user_ids:
        tally.member(MemberRecord(GUILD, uid, START - timedelta(days=3), None))


async def _holders(service: BadgeService, badge_id: str) -> set[int]:
    page = await service.awards.holders(GUILD, badge_id, limit=100)
    return {a.user_id for a in page.items}


# -- counting -------------------------------------------------------------------------------


async def test_counts_add_up_across_batches_windows_and_channels(auto: BadgeService) -> None:
    await _messages(auto, {1: 3}, START - timedelta(days=40))
    await _messages(auto, {1: 2, 2: 1}, START)
    await _messages(auto, {1: 5}, START, channel=SPAM)
    board = await auto.activity.leaderboard(GUILD, window_days=7)
    assert [(s.user_id, s.score) for s in board] == [(1, 7.0), (2, 1.0)]
    ever = await auto.activity.leaderboard(GUILD)
    assert ever[0].score == 10.0


async def test_a_leaderboard_window_out_of_range_is_refused(auto: BadgeService) -> None:
    for window in (0, 366):
        with pytest.raises(InvalidInput) as refused:
            await auto.activity.leaderboard(GUILD, window_days=window)
        assert refused.value.field == "window"


async def test_a_burst_counts_once_per_minute_for_rules_with_a_cooldown(
    auto: BadgeService,
) -> None:
    tally = ActivityTally()
    seen(tally, 5)
    for second in range(30):  # 30 one-word messages in 30 seconds
        tally.message(GUILD, 5, CHAT, START + timedelta(seconds=second))
    await auto.activity.record(*tally.take(START))
    plain = await _badge(auto, "Chatty")
    paced = await _badge(auto, "Thoughtful")
    await auto.rules.add(ADMIN, GUILD, plain, RuleDraft(RuleKind.MESSAGES, 10))
    await auto.rules.add(ADMIN, GUILD, paced, RuleDraft(RuleKind.MESSAGES, 10, cooldown=True))
    assert await _holders(auto, plain) == {5}
    assert await _holders(auto, paced) == set()


async def test_roll_up_keeps_all_time_totals_and_bounds_rows(
    auto: BadgeService, clock: Clock
) -> None:
    for days_ago in (500, 450, 400, 1):
        await _messages(auto, {1: 2}, START - timedelta(days=days_ago))
    folded = await auto.activity.roll_up()
    assert folded == 3
    assert (await auto.activity.leaderboard(GUILD))[0].score == 8.0
    assert (await auto.activity.leaderboard(GUILD, window_days=30))[0].score == 2.0
    assert await auto.activity.roll_up() == 0


# -- rules ----------------------------------------------------------------------------------


async def test_a_rule_added_later_is_retroactive_and_made_by_the_bot(auto: BadgeService) -> None:
    await _messages(auto, {1: 12, 2: 9, 3: 10}, START - timedelta(days=2))
    badge = await _badge(auto, "Regular")
    added = await auto.rules.add(ADMIN, GUILD, badge, RuleDraft(RuleKind.MESSAGES, 10))
    assert added.report.awarded == 2
    assert await _holders(auto, badge) == {1, 3}
    (award,) = [a for a in (await auto.awards.holders(GUILD, badge)).items if a.user_id == 1]
    assert award.awarded_by_id == AUTOMATIC_ID
    assert award.reason == "Automatic: 10 messages"
    history = await auto.awards.history(ADMIN, GUILD, 1)
    assert history.items[0].kind is EventKind.AWARDED


async def test_incremental_evaluation_awards_members_whose_counts_changed(
    auto: BadgeService,
) -> None:
    badge = await _badge(auto, "Regular")
    await auto.rules.add(ADMIN, GUILD, badge, RuleDraft(RuleKind.MESSAGES, 5, window_days=7))
    await _messages(auto, {8: 5, 9: 5}, START)
    report = await auto.rules.evaluate(GUILD, members=[8])
    assert report.awarded == 1
    assert await _holders(auto, badge) == {8}


async def test_every_rule_of_a_badge_must_hold(auto: BadgeService) -> None:
    tally = ActivityTally()
    seen(tally, 1, 2)
    for uid in (1, 2):
        for i in range(3):
            tally.message(GUILD, uid, CHAT, START + timedelta(minutes=i))
    tally.reaction(GUILD, 1, CHAT, START)
    tally.reaction(GUILD, 1, CHAT, START)
    await auto.activity.record(*tally.take(START))
    badge = await _badge(auto, "Liked")
    await auto.rules.set_policy(ADMIN, GUILD, badge, auto_revoke=True)
    await auto.rules.add(ADMIN, GUILD, badge, RuleDraft(RuleKind.MESSAGES, 3))
    assert await _holders(auto, badge) == {1, 2}
    await auto.rules.add(ADMIN, GUILD, badge, RuleDraft(RuleKind.REACTIONS, 2))
    await auto.rules.evaluate(GUILD)  # auto-revoke: 2 no longer meets both
    assert await _holders(auto, badge) == {1}


async def test_excluded_channels_do_not_count(auto: BadgeService) -> None:
    await _messages(auto, {1: 6}, START, channel=SPAM)
    await _messages(auto, {2: 6}, START, channel=CHAT)
    badge = await _badge(auto, "Talker")
    draft = RuleDraft(RuleKind.MESSAGES, 5, excluded_channel_ids=frozenset({SPAM}))
    await auto.rules.add(ADMIN, GUILD, badge, draft)
    assert await _holders(auto, badge) == {2}


async def test_voice_minutes_tenure_and_boosting(auto: BadgeService, clock: Clock) -> None:
    tally = ActivityTally()
    seen(tally, 1)
    tally.voice(GUILD, 1, VOICE, 90, START)
    tally.member(MemberRecord(GUILD, 2, START - timedelta(days=400), None))
    tally.member(MemberRecord(GUILD, 3, START - timedelta(days=10), START - timedelta(days=35)))
    await auto.activity.record(*tally.take(START))
    voice = await _badge(auto, "Voice")
    veteran = await _badge(auto, "Veteran")
    booster = await _badge(auto, "Booster")
    await auto.rules.add(ADMIN, GUILD, voice, RuleDraft(RuleKind.VOICE_MINUTES, 60))
    await auto.rules.add(ADMIN, GUILD, veteran, RuleDraft(RuleKind.TENURE_DAYS, 365))
    await auto.rules.add(ADMIN, GUILD, booster, RuleDraft(RuleKind.BOOST_DAYS, 30))
    assert await _holders(auto, voice) == {1}
    assert await _holders(auto, veteran) == {2}
    assert await _holders(auto, booster) == {3}


async def test_a_chain_replaces_the_lower_badge(auto: BadgeService) -> None:
    bronze, silver, gold = [await _badge(auto, n) for n in ("Bronze", "Silver", "Gold")]
    await auto.rules.add(ADMIN, GUILD, bronze, RuleDraft(RuleKind.MESSAGES, 2))
    for upper, lower, need in ((silver, bronze, 5), (gold, silver, 9)):
        await auto.rules.add(ADMIN, GUILD, upper, RuleDraft(RuleKind.MESSAGES, need))
        await auto.rules.add(
            ADMIN,
            GUILD,
            upper,
            RuleDraft(RuleKind.HOLDS_BADGE, 1, required_badge_id=lower, replaces=True),
        )
    await _messages(auto, {1: 3, 2: 6, 3: 10}, START)
    await auto.rules.evaluate(GUILD, members=[1, 2, 3])
    assert await _holders(auto, bronze) == {1}
    assert await _holders(auto, silver) == {2}
    assert await _holders(auto, gold) == {3}
    # holding the higher badge keeps it: a later pass does not flip it back
    await auto.rules.evaluate(GUILD)
    assert await _holders(auto, gold) == {3}
    assert await _holders(auto, bronze) == {1}


async def test_a_loop_of_required_badges_is_refused(auto: BadgeService) -> None:
    a, b = await _badge(auto, "A"), await _badge(auto, "B")
    await auto.rules.add(ADMIN, GUILD, a, RuleDraft(RuleKind.HOLDS_BADGE, 1, required_badge_id=b))
    with pytest.raises(InvalidInput, match="loop"):
        await auto.rules.add(
            ADMIN, GUILD, b, RuleDraft(RuleKind.HOLDS_BADGE, 1, required_badge_id=a)
        )


async def test_top_active_rotates_with_auto_revoke(auto: BadgeService, clock: Clock) -> None:
    badge = await _badge(auto, "Top 2")
    await auto.rules.set_policy(ADMIN, GUILD, badge, auto_revoke=True)
    await _messages(auto, {1: 9, 2: 7, 3: 5}, START)
    draft = RuleDraft(RuleKind.TOP_ACTIVE, 2, window_days=7, weights=Weights(1, 0, 0))
    await auto.rules.add(ADMIN, GUILD, badge, draft)
    assert await _holders(auto, badge) == {1, 2}
    clock.now = START + timedelta(hours=2)
    await _messages(auto, {3: 20}, clock.now)
    await auto.rules.evaluate(GUILD)  # rotation not due yet: nothing moves
    assert await _holders(auto, badge) == {1, 2}
    clock.now = START + timedelta(hours=25)
    report = await auto.rules.evaluate(GUILD)
    assert (report.awarded, report.revoked) == (1, 1)
    assert await _holders(auto, badge) == {1, 3}
    # a week later nobody has activity in the window: everyone rotates out
    clock.now = START + timedelta(days=9)
    await auto.rules.evaluate(GUILD)
    assert await _holders(auto, badge) == set()


async def test_auto_revoke_never_takes_back_a_moderators_award(
    auto: BadgeService, clock: Clock
) -> None:
    badge = await _badge(auto, "Weekly")
    await auto.rules.set_policy(ADMIN, GUILD, badge, auto_revoke=True)
    await auto.rules.add(ADMIN, GUILD, badge, RuleDraft(RuleKind.MESSAGES, 2, window_days=7))
    await _messages(auto, {1: 3}, START)
    await auto.rules.evaluate(GUILD)
    await auto.awards.award(MOD, GUILD, badge, 2, reason="by hand")
    clock.now = START + timedelta(days=10)
    report = await auto.rules.evaluate(GUILD)
    assert report.revoked == 1
    assert await _holders(auto, badge) == {2}


async def test_progress_shows_each_rule(auto: BadgeService) -> None:
    badge = await _badge(auto, "Regular")
    await auto.rules.add(ADMIN, GUILD, badge, RuleDraft(RuleKind.MESSAGES, 10))
    top = await _badge(auto, "Top")
    await auto.rules.add(ADMIN, GUILD, top, RuleDraft(RuleKind.TOP_ACTIVE, 1))
    await _messages(auto, {1: 4, 2: 6}, START)
    progress = {p.badge_name: p for p in await auto.rules.progress(GUILD, 1)}
    (messages,) = progress["Regular"].rules
    assert (messages.value, messages.target, messages.met) == (4.0, 10.0, False)
    (ranked,) = progress["Top"].rules
    assert (ranked.value, ranked.rank, ranked.met) == (4.0, 2, False)


@pytest.mark.parametrize(
    ("draft", "field"),
    [
        (RuleDraft(RuleKind.MESSAGES, 0), "threshold"),
        (RuleDraft(RuleKind.TOP_ACTIVE, 101), "threshold"),
        (RuleDraft(RuleKind.TENURE_DAYS, 30, window_days=7), "window_days"),
        (RuleDraft(RuleKind.MESSAGES, 5, window_days=366), "window_days"),
        (RuleDraft(RuleKind.REACTIONS, 5, cooldown=True), "cooldown"),
        (RuleDraft(RuleKind.HOLDS_BADGE, 1), "required_badge"),
        (RuleDraft(RuleKind.MESSAGES, 5, weights=Weights(1, 2, 0)), "weights"),
        (RuleDraft(RuleKind.TOP_ACTIVE, 5, weights=Weights(0, 0, 0)), "weights"),
        (
            RuleDraft(RuleKind.MESSAGES, 5, excluded_channel_ids=frozenset(range(1, 30))),
            "excluded_channels",
        ),
    ],
)
async def test_bad_rules_are_refused_and_change_nothing(
    auto: BadgeService, draft: RuleDraft, field: str
) -> None:
    badge = await _badge(auto, "Any")
    with pytest.raises(InvalidInput) as refused:
        await auto.rules.add(ADMIN, GUILD, badge, draft)
    assert refused.value.field == field
    assert (await auto.rules.of_badge(GUILD, badge))[1] == []


async def test_only_admins_change_rules_and_policies(auto: BadgeService) -> None:
    badge = await _badge(auto, "Any")
    with pytest.raises(Forbidden):
        await auto.rules.add(MOD, GUILD, badge, RuleDraft(RuleKind.MESSAGES, 5))
    with pytest.raises(Forbidden):
        await auto.rules.set_policy(MOD, GUILD, badge, awarders=Awarders.MEMBERS)


# -- members giving badges ------------------------------------------------------------------

ALICE = Actor(31, "alice", Level.MEMBER)
BOB = Actor(32, "bob", Level.MEMBER)
CAROL = 33


async def test_a_members_badge_collects_givers_once_each(auto: BadgeService) -> None:
    kudos = await _badge(auto, "Kudos")
    await auto.rules.set_policy(ADMIN, GUILD, kudos, awarders=Awarders.MEMBERS)
    first = await auto.awards.award(ALICE, GUILD, kudos, CAROL, reason="great talk")
    assert (first.gifts, first.award.awarded_by_name) == (1, "alice")
    second = await auto.awards.award(BOB, GUILD, kudos, CAROL, reason="thanks!")
    assert (second.gifts, second.latest_giver) == (2, "bob")
    with pytest.raises(AlreadyGiven):
        await auto.awards.award(ALICE, GUILD, kudos, CAROL)
    with pytest.raises(Forbidden, match="yourself"):
        await auto.awards.award(ALICE, GUILD, kudos, ALICE.user_id)
    (held,) = (await auto.awards.of_member(GUILD, CAROL)).items
    assert (held.gifts, held.latest_giver, held.latest_reason) == (2, "bob", "thanks!")
    assert held.badge.awarded_count == 1


async def test_members_cannot_award_badges_without_a_policy(auto: BadgeService) -> None:
    badge = await _badge(auto, "Staff pick")
    with pytest.raises(Forbidden, match="Moderator"):
        await auto.awards.award(MEMBER, GUILD, badge, CAROL)


async def test_a_role_policy_lets_its_holders_award_that_badge_only(
    auto: BadgeService,
) -> None:
    event = await _badge(auto, "Event 2026")
    other = await _badge(auto, "Other")
    await auto.rules.set_policy(ADMIN, GUILD, event, awarders=Awarders.ROLE, role_id=555)
    host = Actor(40, "host", Level.MEMBER, role_ids=frozenset({555}))
    await auto.awards.award(host, GUILD, event, CAROL, reason="attended")
    with pytest.raises(AlreadyAwarded):
        await auto.awards.award(host, GUILD, event, CAROL)
    with pytest.raises(Forbidden):
        await auto.awards.award(host, GUILD, other, CAROL)
    with pytest.raises(Forbidden):
        await auto.awards.award(ALICE, GUILD, event, 41)
    with pytest.raises(Forbidden, match="yourself"):
        await auto.awards.award(host, GUILD, event, host.user_id)


async def test_gifts_to_bots_are_refused(auto: BadgeService, discord_facts: FakeDiscord) -> None:
    kudos = await _badge(auto, "Kudos")
    await auto.rules.set_policy(ADMIN, GUILD, kudos, awarders=Awarders.MEMBERS)
    discord_facts.members_by_guild[GUILD] = {
        ALICE.user_id: MemberFacts(ALICE.user_id),
        77: MemberFacts(77, is_bot=True),
    }
    with pytest.raises(Exception, match="Bots"):
        await auto.awards.award(ALICE, GUILD, kudos, 77)


async def test_the_daily_quota_holds_across_days(auto: BadgeService, clock: Clock) -> None:
    kudos = await _badge(auto, "Kudos")
    await auto.rules.set_policy(ADMIN, GUILD, kudos, awarders=Awarders.MEMBERS, per_day=2)
    await auto.awards.award(ALICE, GUILD, kudos, 51)
    await auto.awards.award(ALICE, GUILD, kudos, 52)
    with pytest.raises(QuotaReached, match="2 times a day"):
        await auto.awards.award(ALICE, GUILD, kudos, 53)
    clock.now = START + timedelta(days=1)
    await auto.awards.award(ALICE, GUILD, kudos, 53)


async def test_concurrent_gifts_by_one_giver_respect_the_quota(auto: BadgeService) -> None:
    """On PostgreSQL these are real concurrent transactions: the badge's row lock orders
    them, so the quota is never exceeded."""
    kudos = await _badge(auto, "Kudos")
    await auto.rules.set_policy(ADMIN, GUILD, kudos, awarders=Awarders.MEMBERS, per_day=3)
    results = await asyncio.gather(
        *(auto.awards.award(ALICE, GUILD, kudos, 600 + i) for i in range(10)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 3
    assert all(isinstance(r, QuotaReached) for r in results if isinstance(r, BaseException))


async def test_concurrent_gifts_to_one_member_make_one_award(auto: BadgeService) -> None:
    kudos = await _badge(auto, "Kudos")
    await auto.rules.set_policy(ADMIN, GUILD, kudos, awarders=Awarders.MEMBERS)
    givers = [Actor(700 + i, f"g{i}", Level.MEMBER) for i in range(8)]
    await asyncio.gather(*(auto.awards.award(g, GUILD, kudos, CAROL) for g in givers))
    (held,) = (await auto.awards.of_member(GUILD, CAROL)).items
    assert (held.gifts, held.badge.awarded_count) == (8, 1)


async def test_a_bad_policy_is_refused(auto: BadgeService) -> None:
    badge = await _badge(auto, "Any")
    with pytest.raises(InvalidInput) as refused:
        await auto.rules.set_policy(ADMIN, GUILD, badge, awarders=Awarders.ROLE)
    assert refused.value.field == "role"
    with pytest.raises(InvalidInput):
        await auto.rules.set_policy(ADMIN, GUILD, badge, awarders=Awarders.MEMBERS, self_award=True)
    with pytest.raises(InvalidInput):
        await auto.rules.set_policy(ADMIN, GUILD, badge, per_day=0)


async def test_revoking_a_gifted_badge_forgets_its_givers(auto: BadgeService) -> None:
    kudos = await _badge(auto, "Kudos")
    await auto.rules.set_policy(ADMIN, GUILD, kudos, awarders=Awarders.MEMBERS)
    await auto.awards.award(ALICE, GUILD, kudos, CAROL)
    await auto.awards.revoke(MOD, GUILD, kudos, CAROL, reason="spam")
    again = await auto.awards.award(ALICE, GUILD, kudos, CAROL)
    assert again.gifts == 1


# -- what a hostile review found (each was reproduced before it was mended) ---------------


async def test_rules_never_hand_out_a_role_with_permissions(
    auto: BadgeService, discord_facts: FakeDiscord
) -> None:
    discord_facts.role_with(800, permissions=1 << 13)  # Manage Messages
    power = (await auto.catalog.create(SUPER, GUILD, name="Janitor", role_id=800)).id
    with pytest.raises(Forbidden, match="rules never hand it out"):
        await auto.rules.add(ADMIN, GUILD, power, RuleDraft(RuleKind.MESSAGES, 1))
    # a plain role linked first, that gains power later: the pass refuses, says why
    discord_facts.role_with(801)
    later = (await auto.catalog.create(SUPER, GUILD, name="Later", role_id=801)).id
    await auto.rules.add(ADMIN, GUILD, later, RuleDraft(RuleKind.MESSAGES, 1))
    discord_facts.role_with(801, permissions=1 << 13)
    await _messages(auto, {1: 2}, START)
    report = await auto.rules.evaluate(GUILD)
    assert later in report.refused
    assert await _holders(auto, later) == set()


async def test_a_badge_other_rules_require_cannot_be_deleted(auto: BadgeService) -> None:
    verified, trusted = await _badge(auto, "Verified"), await _badge(auto, "Trusted")
    await auto.rules.add(ADMIN, GUILD, trusted, RuleDraft(RuleKind.MESSAGES, 5))
    await auto.rules.add(
        ADMIN, GUILD, trusted, RuleDraft(RuleKind.HOLDS_BADGE, 1, required_badge_id=verified)
    )
    with pytest.raises(RequiredByRules, match="'Trusted' require 'Verified'"):
        await auto.catalog.delete(ADMIN, GUILD, verified)
    assert len((await auto.rules.of_badge(GUILD, trusted))[1]) == 2


async def test_only_members_seen_as_people_qualify(
    auto: BadgeService, discord_facts: FakeDiscord
) -> None:
    tally = ActivityTally()
    for i in range(3):  # a webhook's or a bot's id collects reactions: it has no record
        tally.reaction(GUILD, 77, CHAT, START + timedelta(seconds=i))
        tally.reaction(GUILD, 1, CHAT, START + timedelta(seconds=i))
        tally.reaction(GUILD, 2, CHAT, START + timedelta(seconds=i))
    seen(tally, 1, 2)
    await auto.activity.record(*tally.take(START))
    discord_facts.members_by_guild[GUILD] = {1: MemberFacts(1)}  # 2 left the server
    liked = await _badge(auto, "Liked")
    await auto.rules.add(ADMIN, GUILD, liked, RuleDraft(RuleKind.REACTIONS, 3))
    assert await _holders(auto, liked) == {1}
    board = await auto.activity.leaderboard(GUILD)
    assert 77 not in {s.user_id for s in board}


async def test_concurrent_roll_ups_count_once(auto: BadgeService) -> None:
    """On PostgreSQL two processes' passes are real concurrent transactions."""
    await _messages(auto, {1: 3}, START - timedelta(days=400))
    await asyncio.gather(auto.activity.roll_up(), auto.activity.roll_up())
    assert (await auto.activity.leaderboard(GUILD))[0].score == 3.0


async def test_the_cooldown_is_per_channel(auto: BadgeService) -> None:
    tally = ActivityTally()
    seen(tally, 1)
    for i in range(5):
        at = START + timedelta(minutes=2 * i)
        tally.message(GUILD, 1, SPAM, at)
        tally.message(GUILD, 1, CHAT, at + timedelta(seconds=1))
    await auto.activity.record(*tally.take(START))
    badge = await _badge(auto, "Thoughtful")
    draft = RuleDraft(RuleKind.MESSAGES, 5, cooldown=True, excluded_channel_ids=frozenset({SPAM}))
    await auto.rules.add(ADMIN, GUILD, badge, draft)
    assert await _holders(auto, badge) == {1}


async def test_a_tie_ranks_as_the_top_list_does(auto: BadgeService) -> None:
    top = await _badge(auto, "Top")
    await _messages(auto, {10: 4, 11: 4}, START)
    await auto.rules.add(ADMIN, GUILD, top, RuleDraft(RuleKind.TOP_ACTIVE, 1))
    assert await _holders(auto, top) == {10}
    (lower,) = (await auto.rules.progress(GUILD, 11))[0].rules
    assert (lower.rank, lower.met) == (2, False)
    (upper,) = (await auto.rules.progress(GUILD, 10))[0].rules
    assert (upper.rank, upper.met) == (1, True)


async def test_stepping_down_a_chain_gives_the_lower_badge_back_in_the_same_pass(
    auto: BadgeService, clock: Clock
) -> None:
    bronze, silver = await _badge(auto, "Bronze"), await _badge(auto, "Silver")
    await auto.rules.set_policy(ADMIN, GUILD, silver, auto_revoke=True)
    await auto.rules.add(ADMIN, GUILD, bronze, RuleDraft(RuleKind.MESSAGES, 1))
    await auto.rules.add(ADMIN, GUILD, silver, RuleDraft(RuleKind.MESSAGES, 3, window_days=7))
    await auto.rules.add(
        ADMIN,
        GUILD,
        silver,
        RuleDraft(RuleKind.HOLDS_BADGE, 1, required_badge_id=bronze, replaces=True),
    )
    await _messages(auto, {1: 4}, START)
    await auto.rules.evaluate(GUILD)
    await auto.rules.evaluate(GUILD)
    assert (await _holders(auto, bronze), await _holders(auto, silver)) == (set(), {1})
    clock.now = START + timedelta(days=10)  # silver's window has passed: back to bronze
    await auto.rules.evaluate(GUILD)
    assert (await _holders(auto, bronze), await _holders(auto, silver)) == ({1}, set())


async def test_auto_revoke_takes_back_only_automatic_awards(auto: BadgeService) -> None:
    badge = await _badge(auto, "Weekly")
    await auto.awards.award(MOD, GUILD, badge, 5, reason="by hand")
    taken = await auto.awards.withdraw_automatic(GUILD, badge, {5}, "no longer meets")
    assert taken == []
    assert await _holders(auto, badge) == {5}


async def test_a_member_who_left_stops_qualifying(auto: BadgeService) -> None:
    await _messages(auto, {1: 5}, START)
    await auto.activity.forget(GUILD, 1)
    badge = await _badge(auto, "Regular")
    await auto.rules.add(ADMIN, GUILD, badge, RuleDraft(RuleKind.MESSAGES, 5))
    assert await _holders(auto, badge) == set()
