"""Role changes claimed with a lease: bot processes sharing one queue never work on the same
change at once, and one that dies leaves its changes to whoever claims after the lease ran
out. On PostgreSQL the claims are real concurrent transactions (``FOR UPDATE SKIP LOCKED``);
SQLite serialises them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.util import await_only

from badges.service import BadgeService
from db.database import Database
from tests.conftest import ADMIN, GUILD, MOD

ROLE = 5_000_000_000_000_001


async def queued(service: BadgeService, members: int) -> str:
    badge = await service.catalog.create(ADMIN, GUILD, name="Helper")
    await service.roles.link(ADMIN, GUILD, badge.id, ROLE)
    await service.awards.bulk_award(MOD, GUILD, badge.id, range(1, members + 1))
    return badge.id


@contextmanager
def slow_claim_updates(database: Database, delay: float) -> Iterator[None]:
    """Hold each claim's transaction open between its SELECT and its UPDATE."""

    def wait(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE ROLE_CHANGES SET CLAIMED_BY"):
            await_only(asyncio.sleep(delay))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", wait)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", wait)


async def test_concurrent_claims_never_share_a_change(
    service: BadgeService, database: Database
) -> None:
    await queued(service, 90)
    with slow_claim_updates(database, 0.05):
        claims = await asyncio.gather(
            *(service.queue.claim(GUILD, f"process-{n}", limit=30) for n in range(3))
        )
    ids = [change.id for claim in claims for change in claim]
    assert len(ids) == len(set(ids)), "a change was claimed by two processes"
    assert sum(map(len, claims)) == 90
    assert all(claims), "every process got work"


async def test_a_claim_skips_what_another_process_holds_until_its_lease_ends(
    service: BadgeService,
) -> None:
    await queued(service, 5)
    first = await service.queue.claim(GUILD, "dead-process", lease=0.3)
    assert [c.user_id for c in first] == [1, 2, 3, 4, 5]
    assert await service.queue.claim(GUILD, "replacement") == []
    assert len(await service.queue.claim(GUILD, "dead-process", lease=0.3)) == 5, "its own"
    await asyncio.sleep(0.4)
    taken = await service.queue.claim(GUILD, "replacement")
    assert [c.user_id for c in taken] == [1, 2, 3, 4, 5]


async def test_renewing_keeps_the_claims_and_reports_how_many(service: BadgeService) -> None:
    await queued(service, 3)
    await service.queue.claim(GUILD, "worker", lease=0.3)
    await asyncio.sleep(0.2)
    assert await service.queue.renew(GUILD, "worker", lease=5) == 3
    await asyncio.sleep(0.2)
    assert await service.queue.claim(GUILD, "other") == []
    assert await service.queue.renew(GUILD, "other") == 0


async def test_a_retry_or_an_outcome_releases_the_change(service: BadgeService) -> None:
    await queued(service, 2)
    one, two = await service.queue.claim(GUILD, "worker")
    await service.queue.retry(one, "429 slow down", 0.0)
    assert await service.queue.applied(two)
    again = await service.queue.claim(GUILD, "other")
    assert [c.id for c in again] == [one.id]


async def test_a_process_that_stops_gives_its_claims_up_at_once(service: BadgeService) -> None:
    await queued(service, 3)
    await service.queue.claim(GUILD, "stopping")
    assert await service.queue.claim(GUILD, "next") == []
    assert await service.queue.release("stopping") == 3
    assert len(await service.queue.claim(GUILD, "next")) == 3
