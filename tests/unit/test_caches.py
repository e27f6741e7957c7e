"""Caches never keep what a change made stale."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from badges.model import AuditEvent, EventKind, MemberBadge, Page
from bot.caches import GuildCache, MemberPages


async def test_a_load_in_flight_across_a_change_is_not_stored() -> None:
    release = asyncio.Event()
    loads: list[int] = []

    async def load(guild_id: int) -> int:
        loads.append(guild_id)
        version = len(loads)
        if version == 1:  # the first load read the data before the change committed
            await release.wait()
        return version

    cache: GuildCache[int] = GuildCache(load)
    slow = asyncio.create_task(cache.get(1))
    await asyncio.sleep(0)
    cache.drop(1)  # a config change committed meanwhile
    release.set()
    assert await slow == 1
    assert await cache.get(1) == 2  # loaded again, not the stale value
    assert await cache.get(1) == 2  # and now cached
    assert len(loads) == 2


async def test_a_change_in_a_guild_in_use_is_in_memory_again_at_once() -> None:
    loads: list[int] = []

    async def load(guild_id: int) -> int:
        loads.append(guild_id)
        return len(loads)

    cache: GuildCache[int] = GuildCache(load)
    assert cache.peek(1) is None  # never loaded: a command must acknowledge first
    assert await cache.get(1) == 1
    await cache.renew(1)  # a change there was reported
    assert cache.peek(1) == 2
    await cache.renew(2)  # a guild nobody used is not loaded for nothing
    assert cache.peek(2) is None
    assert loads == [1, 1]


async def test_a_value_past_half_its_lifetime_is_refreshed_ahead() -> None:
    loads: list[int] = []
    now = [0.0]

    async def load(guild_id: int) -> int:
        loads.append(guild_id)
        return len(loads)

    cache: GuildCache[int] = GuildCache(load, ttl=300, clock=lambda: now[0])
    assert await cache.get(1) == 1
    now[0] = 200.0
    assert cache.peek(1) == 1  # still served from memory
    await asyncio.sleep(0)
    assert cache.peek(1) == 2  # and refreshed meanwhile
    now[0] = 600.0
    assert cache.peek(1) is None  # expired: read again, after acknowledging


# -- members' badge pages (/badges) ----------------------------------------------------------


def _page(version: int) -> Page[MemberBadge]:
    """A stand-in page: only its identity matters to the cache."""
    return Page(items=[], total=version, offset=0, limit=6)


class _Reads:
    """Counts reads of pages; the n-th read returns a page whose total is n."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []
        self.hold: asyncio.Event | None = None

    async def __call__(
        self, guild_id: int, user_id: int, *, offset: int, limit: int
    ) -> Page[MemberBadge]:
        self.calls.append((guild_id, user_id, offset))
        version = len(self.calls)
        if self.hold is not None:
            await self.hold.wait()
        return _page(version)


async def _total(pages: MemberPages, guild_id: int, user_id: int, offset: int = 0) -> int:
    return (await pages.get(guild_id, user_id, offset=offset, limit=6)).total


def _event(kind: EventKind, guild_id: int, user_id: int | None) -> AuditEvent:
    return AuditEvent(
        id=1,
        guild_id=guild_id,
        kind=kind,
        actor_id=9,
        actor_name="mod",
        at=datetime.now(UTC),
        badge_id="b",
        badge_name="Helper",
        user_id=user_id,
        reason=None,
        before=None,
        after=None,
    )


async def test_a_members_page_is_read_once_until_their_badges_change() -> None:
    reads = _Reads()
    pages = MemberPages(reads)
    assert await _total(pages, 1, 10) == 1
    assert await _total(pages, 1, 10) == 1  # from memory
    assert await _total(pages, 1, 10, offset=6) == 2  # another page is read on its own
    assert await _total(pages, 1, 11) == 3  # another member too
    await pages.on_events([_event(EventKind.AWARDED, 1, 10)])
    assert await _total(pages, 1, 10) == 4  # their badges changed: read again
    assert await _total(pages, 1, 11) == 3  # the other member's page still holds
    for kind in (EventKind.REVOKED, EventKind.GIFTED):
        await pages.on_events([_event(kind, 1, 11)])
        before = len(reads.calls)
        await _total(pages, 1, 11)
        assert len(reads.calls) == before + 1, kind


async def test_a_change_to_a_badge_drops_every_page_of_its_guild_only() -> None:
    reads = _Reads()
    pages = MemberPages(reads)
    await _total(pages, 1, 10)
    await _total(pages, 1, 11)
    await _total(pages, 2, 10)
    for kind in (EventKind.BADGE_UPDATED, EventKind.BADGE_DELETED, EventKind.POLICY_CHANGED):
        reads.calls.clear()
        await pages.on_events([_event(kind, 1, None)])
        await _total(pages, 1, 10)
        await _total(pages, 1, 11)
        await _total(pages, 2, 10)  # another guild: still in memory
        assert reads.calls == [(1, 10, 0), (1, 11, 0)], kind
    reads.calls.clear()
    await pages.on_events([_event(EventKind.CONFIG_CHANGED, 1, None)])
    await _total(pages, 1, 10)
    assert reads.calls == []  # a settings change shows on no badge page


async def _read_across(pages: MemberPages, reads: _Reads, user_id: int, *events: AuditEvent) -> int:
    """Read guild 1's page of ``user_id`` while ``events`` are committed meanwhile."""
    reads.hold = asyncio.Event()
    slow = asyncio.create_task(_total(pages, 1, user_id))
    await asyncio.sleep(0)
    await pages.on_events(list(events))
    reads.hold.set()
    total = await slow
    reads.hold = None
    return total


async def test_a_page_read_across_a_change_is_not_kept() -> None:
    reads = _Reads()
    pages = MemberPages(reads)
    assert await _read_across(pages, reads, 10, _event(EventKind.AWARDED, 1, 10)) == 1
    assert await _total(pages, 1, 10) == 2  # read again, not the page from before
    assert await _total(pages, 1, 10) == 2


async def test_a_read_across_a_change_to_someone_else_is_kept() -> None:
    reads = _Reads()
    pages = MemberPages(reads)
    another_member = _event(EventKind.AWARDED, 1, 11)
    another_guild = _event(EventKind.BADGE_UPDATED, 2, None)
    assert await _read_across(pages, reads, 10, another_member, another_guild) == 1
    assert await _total(pages, 1, 10) == 1  # kept: nothing it showed changed
    its_guild = _event(EventKind.BADGE_UPDATED, 1, None)
    assert await _read_across(pages, reads, 11, its_guild) == 2
    assert await _total(pages, 1, 11) == 3  # not kept


async def test_pages_expire_a_minute_after_they_were_read() -> None:
    now = [0.0]
    reads = _Reads()
    pages = MemberPages(reads, ttl=60, clock=lambda: now[0])
    reads.hold = asyncio.Event()
    slow = asyncio.create_task(_total(pages, 1, 10))
    await asyncio.sleep(0)
    now[0] = 30.0  # a slow read: it was read at 0, stored at 30
    reads.hold.set()
    assert await slow == 1
    reads.hold = None
    now[0] = 59.0
    assert await _total(pages, 1, 10) == 1
    now[0] = 60.0
    assert await _total(pages, 1, 10) == 2  # a missed change shows for a minute at most


async def test_at_most_so_many_pages_are_kept_the_least_recently_read_first() -> None:
    reads = _Reads()
    pages = MemberPages(reads, pages=2)
    await _total(pages, 1, 10)
    await _total(pages, 1, 11)
    await _total(pages, 1, 10)  # read again: now the most recent
    await _total(pages, 1, 12)  # a third page: 11's is dropped
    assert len(pages) == 2
    reads.calls.clear()
    await _total(pages, 1, 10)
    await _total(pages, 1, 11)
    assert reads.calls == [(1, 11, 0)]
    for offset in range(0, 600, 6):  # one member paging through many badges
        await _total(pages, 1, 13, offset=offset)
    assert len(pages) == 2  # pages count, not members
    await pages.on_events([_event(EventKind.AWARDED, 1, 13)])
    assert len(pages) == 0  # both were 13's
    assert len(MemberPages(reads, pages=0)) == 0
    await _total(MemberPages(reads, pages=0), 1, 10)  # keeping nothing is allowed


async def test_a_page_from_memory_cannot_be_changed_by_whoever_got_it() -> None:
    async def read(guild_id: int, user_id: int, *, offset: int, limit: int) -> Page[MemberBadge]:
        return Page(items=[], total=0, offset=offset, limit=limit)

    pages = MemberPages(read)
    first = await pages.get(1, 10, offset=0, limit=6)
    assert isinstance(first.items, tuple)  # not a list a caller could append to
    assert await pages.get(1, 10, offset=0, limit=6) is first
