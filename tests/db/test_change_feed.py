"""The change feed: a change committed by one process reaches another's listeners."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import text

from badges.change_feed import ChangeFeed
from badges.model import AuditEvent, EventKind
from badges.service import BadgeService
from db.database import Database
from db.tables import AUDIT_EVENTS
from tests.conftest import ADMIN, GUILD, MOD
from tests.fakes import FakeDiscord


async def test_a_change_made_elsewhere_reaches_this_process_once(
    database: Database, database_url: str, discord_facts: FakeDiscord
) -> None:
    other_db = Database(database_url)  # another process: its own engine
    try:
        here = BadgeService(database, directory=discord_facts)
        there = BadgeService(other_db, directory=discord_facts)
        seen: list[AuditEvent] = []
        woken: list[int] = []

        async def listener(events: Sequence[AuditEvent]) -> None:
            seen.extend(events)

        here.subscribe(listener)
        here.watch_role_queue(woken.append)
        feed = ChangeFeed(here.core)
        await feed.start()

        badge = await there.catalog.create(ADMIN, GUILD, name="Helper")
        await there.awards.award(MOD, GUILD, badge.id, 11)
        assert seen == []  # not yet: it happened in the other process
        await feed.drain()
        assert [e.kind for e in seen] == [EventKind.BADGE_CREATED, EventKind.AWARDED]
        assert woken == [GUILD]

        seen.clear()
        await here.awards.award(MOD, GUILD, badge.id, 12)  # made here: delivered at once
        assert [e.kind for e in seen] == [EventKind.AWARDED]
        await feed.drain()
        assert len(seen) == 1  # and not a second time through the feed
    finally:
        await other_db.dispose()


async def test_a_wide_gap_of_ids_does_not_stop_the_feed(
    database: Database, discord_facts: FakeDiscord
) -> None:
    """A rolled-back bulk change leaves thousands of ids that never appear: the feed looks
    for them by range (not one bound parameter per id, which PostgreSQL refuses beyond
    32,767), and a late commit inside the gap still arrives."""
    here = BadgeService(database, directory=discord_facts)
    seen: list[AuditEvent] = []

    async def listener(events: Sequence[AuditEvent]) -> None:
        seen.extend(events)

    here.subscribe(listener)
    feed = ChangeFeed(here.core)
    await feed.start()
    start = await _last_id(database)
    await _insert_event(database, start + 40_001, "after the gap")
    await feed.drain()
    assert [e.reason for e in seen] == ["after the gap"]
    await _insert_event(database, start + 20_000, "late, inside the gap")
    await feed.drain()
    assert [e.reason for e in seen] == ["after the gap", "late, inside the gap"]


async def _last_id(database: Database) -> int:
    async with database.engine.connect() as conn:
        found = await conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_events"))
        return int(found.scalar_one())


async def _insert_event(database: Database, event_id: int, reason: str) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(
            AUDIT_EVENTS.insert().values(
                id=event_id,
                guild_id=GUILD,
                kind=EventKind.AWARDED.value,
                actor_id=1,
                actor_name="elsewhere",
                at=datetime.now(UTC),
                badge_id=None,
                badge_name="Helper",
                user_id=5,
                reason=reason,
                before=None,
                after=None,
            )
        )
