"""The change feed: a change committed by one process reaches another's listeners."""

from __future__ import annotations

from collections.abc import Sequence

from badges.change_feed import ChangeFeed
from badges.model import AuditEvent, EventKind
from badges.service import BadgeService
from db.database import Database
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
