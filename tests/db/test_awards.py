"""Awarding and revoking, one member and many, on the configured backend."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event

from badges.errors import (
    AlreadyAwarded,
    BadgeInactive,
    BadgeNotFound,
    Forbidden,
    InvalidInput,
    NotAwarded,
)
from badges.model import EventKind
from badges.role_rules import MemberFacts
from badges.service import BadgeService
from db.database import Database
from tests.conftest import ADMIN, GUILD, MEMBER, MOD
from tests.db.helpers import snapshot
from tests.fakes import FakeDiscord


async def _badge(service: BadgeService, name: str = "Helper", **kw: object) -> str:
    return (await service.catalog.create(ADMIN, GUILD, name=name, **kw)).id  # type: ignore[arg-type]


async def test_award_records_who_why_and_when(service: BadgeService) -> None:
    badge_id = await _badge(service, icon="🤝")
    result = await service.awards.award(
        MOD, GUILD, badge_id, 42, reason="  answered 100 questions "
    )
    assert result.badge.awarded_count == 1
    assert (result.award.user_id, result.award.awarded_by_id) == (42, MOD.user_id)
    assert result.award.awarded_by_name == "mod"
    assert result.award.reason == "answered 100 questions"
    (held,) = (await service.awards.of_member(GUILD, 42)).items
    assert held.badge.name == "Helper"
    assert held.award == result.award
    assert (await service.catalog.get(GUILD, badge_id)).awarded_count == 1


async def test_award_refusals_change_nothing(service: BadgeService, database: Database) -> None:
    badge_id = await _badge(service)
    inactive_id = await _badge(service, "Retired", is_active=False)
    await service.awards.award(MOD, GUILD, badge_id, 42)
    before = await snapshot(database)
    with pytest.raises(AlreadyAwarded, match="User already has this badge"):
        await service.awards.award(MOD, GUILD, badge_id, 42)
    with pytest.raises(BadgeInactive, match="Cannot award inactive badge"):
        await service.awards.award(MOD, GUILD, inactive_id, 42)
    with pytest.raises(Forbidden, match="Moderator level to award badges"):
        await service.awards.award(MEMBER, GUILD, badge_id, 43)
    with pytest.raises(BadgeNotFound, match="Badge not found"):
        await service.awards.award(MOD, GUILD, "missing", 43)
    with pytest.raises(InvalidInput) as err:
        await service.awards.award(MOD, GUILD, badge_id, 43, reason="r" * 501)
    assert err.value.field == "reason"
    with pytest.raises(InvalidInput):
        await service.awards.award(MOD, GUILD, badge_id, -5)
    assert await snapshot(database) == before


async def test_revoke_ends_award_and_keeps_it_in_history(service: BadgeService) -> None:
    badge_id = await _badge(service)
    await service.awards.award(MOD, GUILD, badge_id, 42, reason="great")
    ended = await service.awards.revoke(MOD, GUILD, badge_id, 42, reason="oops")
    assert ended.badge.awarded_count == 0
    assert ended.award.reason == "great"
    assert (await service.awards.of_member(GUILD, 42)).total == 0
    history = await service.awards.history(MOD, GUILD, 42)
    assert [(e.kind, e.reason) for e in history.items] == [
        (EventKind.REVOKED, "oops"),
        (EventKind.AWARDED, "great"),
    ]
    assert history.items[0].actor_name == "mod"


async def test_revoke_refusals_change_nothing(service: BadgeService, database: Database) -> None:
    badge_id = await _badge(service)
    await service.awards.award(MOD, GUILD, badge_id, 42)
    before = await snapshot(database)
    with pytest.raises(NotAwarded, match="User does not have this badge"):
        await service.awards.revoke(MOD, GUILD, badge_id, 43)
    with pytest.raises(Forbidden, match="Moderator level to revoke badges"):
        await service.awards.revoke(MEMBER, GUILD, badge_id, 42)
    with pytest.raises(BadgeNotFound):
        await service.awards.revoke(MOD, GUILD, "missing", 42)
    assert await snapshot(database) == before


async def test_revoked_badge_can_be_awarded_again(service: BadgeService) -> None:
    badge_id = await _badge(service)
    await service.awards.award(MOD, GUILD, badge_id, 42)
    await service.awards.revoke(MOD, GUILD, badge_id, 42)
    again = await service.awards.award(MOD, GUILD, badge_id, 42)
    assert again.badge.awarded_count == 1


async def test_deactivated_badge_stays_with_holders(service: BadgeService) -> None:
    badge_id = await _badge(service)
    await service.awards.award(MOD, GUILD, badge_id, 42)
    await service.catalog.update(ADMIN, GUILD, badge_id, is_active=False)
    assert (await service.awards.of_member(GUILD, 42)).total == 1
    with pytest.raises(BadgeInactive):
        await service.awards.award(MOD, GUILD, badge_id, 43)


async def test_holders_newest_first_and_paginated(service: BadgeService) -> None:
    badge_id = await _badge(service)
    for uid in range(101, 106):
        await service.awards.award(MOD, GUILD, badge_id, uid)
    page = await service.awards.holders(GUILD, badge_id, offset=0, limit=2)
    assert page.total == 5
    assert page.has_next
    assert [a.user_id for a in page.items] == [105, 104]
    rest = await service.awards.holders(GUILD, badge_id, offset=2, limit=10)
    assert [a.user_id for a in rest.items] == [103, 102, 101]


async def test_member_badges_are_paginated(service: BadgeService) -> None:
    for i in range(5):
        await service.awards.award(MOD, GUILD, await _badge(service, f"B{i}"), 42)
    page = await service.awards.of_member(GUILD, 42, offset=3, limit=10)
    assert page.total == 5
    assert len(page.items) == 2


async def test_member_badges_are_counted_only_when_the_page_is_full(
    service: BadgeService, database: Database
) -> None:
    for i in range(5):
        await service.awards.award(MOD, GUILD, await _badge(service, f"B{i}"), 42)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement.lower())

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        pages = {
            (offset, limit): await service.awards.of_member(GUILD, 42, offset=offset, limit=limit)
            for offset, limit in [(0, 10), (3, 10), (0, 5), (0, 2), (2, 2), (9, 2)]
        }
        counted = {}
        for offset, limit in pages:
            statements.clear()
            await service.awards.of_member(GUILD, 42, offset=offset, limit=limit)
            counted[offset, limit] = any(s.startswith("select count(*)") for s in statements)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert {key: page.total for key, page in pages.items()} == dict.fromkeys(pages, 5)
    assert [len(page.items) for page in pages.values()] == [5, 2, 5, 2, 2, 0]
    # a page shorter than its limit is the last one: its end is the total
    assert counted == {
        (0, 10): False,
        (3, 10): False,
        (0, 5): True,
        (0, 2): True,
        (2, 2): True,
        (9, 2): True,
    }
    assert (await service.awards.of_member(GUILD, 7, offset=0, limit=10)).total == 0


async def test_member_history_of_others_needs_moderator(service: BadgeService) -> None:
    badge_id = await _badge(service)
    await service.awards.award(MOD, GUILD, badge_id, MEMBER.user_id)
    own = await service.awards.history(MEMBER, GUILD, MEMBER.user_id)
    assert own.total == 1
    with pytest.raises(Forbidden, match="another member's badge history"):
        await service.awards.history(MEMBER, GUILD, 42)


async def test_bulk_award_reports_each_member(
    service: BadgeService, discord_facts: FakeDiscord
) -> None:
    discord_facts.members_by_guild[GUILD] = {
        uid: MemberFacts(uid, is_bot=uid == 4) for uid in (1, 2, 3, 4)
    }
    badge_id = await _badge(service)
    await service.awards.award(MOD, GUILD, badge_id, 2)
    result = await service.awards.bulk_award(
        MOD, GUILD, badge_id, [1, 2, 3, 3, 0, 4, 5], reason="event"
    )
    assert list(result.awarded) == [1, 3]
    assert list(result.already_held) == [2]
    assert result.refused == {
        4: "a bot (bots cannot hold badges)",
        0: "not a valid Discord id",
        5: "not a member of this server",
    }
    assert result.badge.awarded_count == 3
    assert (await service.catalog.get(GUILD, badge_id)).awarded_count == 3
    history = await service.awards.history(MOD, GUILD, 3)
    assert history.items[0].reason == "event"


async def test_bulk_award_refusals_change_nothing(
    service: BadgeService, database: Database
) -> None:
    badge_id = await _badge(service)
    inactive_id = await _badge(service, "Old", is_active=False)
    before = await snapshot(database)
    with pytest.raises(Forbidden):
        await service.awards.bulk_award(MEMBER, GUILD, badge_id, [1, 2])
    with pytest.raises(BadgeInactive):
        await service.awards.bulk_award(MOD, GUILD, inactive_id, [1, 2])
    with pytest.raises(InvalidInput, match="At most 10000"):
        await service.awards.bulk_award(MOD, GUILD, badge_id, range(1, 10_002))
    assert await snapshot(database) == before


async def test_bulk_award_of_thousands(service: BadgeService) -> None:
    badge_id = await _badge(service)
    result = await service.awards.bulk_award(MOD, GUILD, badge_id, range(1, 3001))
    assert len(result.awarded) == 3000
    assert (await service.catalog.get(GUILD, badge_id)).awarded_count == 3000
    again = await service.awards.bulk_award(MOD, GUILD, badge_id, range(2901, 3101))
    assert len(again.awarded) == 100
    assert len(again.already_held) == 100


async def test_concurrent_awards_to_one_member_give_exactly_one(service: BadgeService) -> None:
    badge_id = await _badge(service)
    results = await asyncio.gather(
        *(service.awards.award(MOD, GUILD, badge_id, 42) for _ in range(50)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, AlreadyAwarded) for r in results) == 49
    assert (await service.catalog.get(GUILD, badge_id)).awarded_count == 1
    assert (await service.awards.history(MOD, GUILD, 42)).total == 1


async def test_concurrent_awards_and_revokes_keep_count_exact(service: BadgeService) -> None:
    badge_id = await _badge(service)
    await service.awards.bulk_award(MOD, GUILD, badge_id, range(1, 51))
    awards = [service.awards.award(MOD, GUILD, badge_id, uid) for uid in range(51, 151)]
    revokes = [service.awards.revoke(MOD, GUILD, badge_id, uid) for uid in range(1, 51)]
    results = await asyncio.gather(*awards, *revokes, return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)]
    badge = await service.catalog.get(GUILD, badge_id)
    holders = await service.awards.holders(GUILD, badge_id, limit=100)
    assert badge.awarded_count == 100 == len(holders.items)
    assert {a.user_id for a in holders.items} == set(range(51, 151))
