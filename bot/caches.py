"""In-memory per-guild caches that keep autocomplete and permission checks off the database.

Autocomplete must answer within Discord's 3 seconds and cannot defer, so badge names and
gated channels are served from memory; so are the badges and settings a command checks before
it acknowledges (``peek``: a cold or expired entry says so instead of reading). A guild's
entry is dropped whenever a change there is reported, by this process at once and by any
other through the change feed. Each drop bumps the guild's version, and a load that was in
flight across a drop is not stored: it may have read the data from before the change (a
removed moderator role must stop granting at once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Generic, Protocol, TypeVar

from badges.automation import AwardPolicy
from badges.model import AuditEvent, EventKind, Gate, GuildSettings, MemberBadge, Page
from badges.service import BadgeService
from badges.service.catalog import BadgeIndex

log = logging.getLogger(__name__)

_TTL = 300.0
_BADGE_KINDS = {
    EventKind.BADGE_CREATED,
    EventKind.BADGE_UPDATED,
    EventKind.BADGE_DELETED,
    EventKind.ROLE_LINKED,
    EventKind.ROLE_UNLINKED,
}
_GATE_KINDS = {EventKind.GATE_CHANGED, EventKind.ROLE_UNLINKED, EventKind.BADGE_DELETED}

V = TypeVar("V")


class GuildCache(Generic[V]):
    """One value per guild, loaded on demand, dropped on change, with a time-to-live.

    A guild in use stays in memory, so commands can decide before they acknowledge: a value
    that changed is loaded again at once (``renew``, awaited by the change's listeners before
    the command that made it replies), and one past half its time-to-live is refreshed ahead
    of expiry, in the background."""

    def __init__(
        self,
        load: Callable[[int], Awaitable[V]],
        *,
        ttl: float = _TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl = ttl
        self._clock = clock
        self._values: dict[int, tuple[float, V]] = {}
        self._versions: dict[int, int] = {}
        self._refreshing: dict[int, asyncio.Task[None]] = {}
        self._in_use: set[int] = set()

    async def get(self, guild_id: int) -> V:
        cached = self.peek(guild_id)
        if cached is not None:
            return cached
        version = self._versions.get(guild_id, 0)
        value = await self._load(guild_id)
        if self._versions.get(guild_id, 0) == version:  # nothing changed while loading
            self._store(guild_id, value)
        return value

    def _store(self, guild_id: int, value: V) -> None:
        self._values[guild_id] = (self._clock(), value)
        self._in_use.add(guild_id)

    def peek(self, guild_id: int) -> V | None:
        """The guild's value if memory holds a fresh one; None means ``get`` would read."""
        cached = self._values.get(guild_id)
        if cached is None:
            return None
        age = self._clock() - cached[0]
        if age >= self._ttl:
            return None
        if age >= self._ttl / 2:
            self._refresh_soon(guild_id)
        return cached[1]

    def drop(self, guild_id: int) -> None:
        """Forget the guild's value; the next ``get`` loads it."""
        self._versions[guild_id] = self._versions.get(guild_id, 0) + 1
        self._values.pop(guild_id, None)

    async def renew(self, guild_id: int) -> None:
        """A change there was reported: forget the guild's value and, for a guild in use,
        load it again now."""
        self.drop(guild_id)
        if guild_id in self._in_use:
            await self._refresh(guild_id)

    def forget(self) -> None:
        """Forget every guild, loading nothing now (a start with nothing in memory)."""
        for guild_id in list(self._values):
            self._versions[guild_id] = self._versions.get(guild_id, 0) + 1
        self._values.clear()
        self._in_use.clear()

    def warm(self, guild_id: int) -> None:
        """Load the guild's value in the background unless memory holds it."""
        self._in_use.add(guild_id)
        if guild_id not in self._values:
            self._refresh_soon(guild_id)

    def _refresh_soon(self, guild_id: int) -> None:
        """Load in the background, unless that is under way."""
        if guild_id in self._refreshing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a sync caller): the next ``get`` loads
            return
        task = loop.create_task(self._refresh(guild_id))
        self._refreshing[guild_id] = task
        task.add_done_callback(lambda t: self._finished(guild_id, t))

    def _finished(self, guild_id: int, task: asyncio.Task[None]) -> None:
        if self._refreshing.get(guild_id) is task:
            del self._refreshing[guild_id]

    async def _refresh(self, guild_id: int) -> None:
        version = self._versions.get(guild_id, 0)
        try:
            value = await self._load(guild_id)
        except Exception:  # the next ``get`` tries again, in the foreground
            log.warning("refreshing a cache of guild %s failed", guild_id, exc_info=True)
            return
        if self._versions.get(guild_id, 0) == version:
            self._store(guild_id, value)

    async def close(self) -> None:
        """Stop background loads (the database is about to close)."""
        tasks = list(self._refreshing.values())
        self._refreshing.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    name: str
    slug: str


class BadgeCatalog(GuildCache[BadgeIndex]):
    """The badges of each guild: autocomplete, and finding a badge option before the
    interaction is acknowledged. Holder counts in it may lag: read a badge to show them."""

    def __init__(self, service: BadgeService, *, ttl: float = _TTL) -> None:
        super().__init__(service.catalog.index, ttl=ttl)

    async def entries(self, guild_id: int) -> list[CatalogEntry]:
        return [CatalogEntry(b.name, b.slug) for b in (await self.get(guild_id)).badges]

    async def suggest(self, guild_id: int, typed: str, limit: int = 25) -> list[CatalogEntry]:
        """Names starting with what was typed first, then names or slugs containing it."""
        needle = typed.strip().casefold()
        entries = await self.entries(guild_id)
        if not needle:
            return entries[:limit]
        starts = [e for e in entries if e.name.casefold().startswith(needle)]
        contains = [
            e
            for e in entries
            if e not in starts and (needle in e.name.casefold() or needle in e.slug)
        ]
        return (starts + contains)[:limit]

    async def on_events(self, events: Sequence[AuditEvent]) -> None:
        for guild_id in {e.guild_id for e in events if e.kind in _BADGE_KINDS}:
            await self.renew(guild_id)


class SettingsCache(GuildCache[GuildSettings]):
    """Guild settings (level roles, log channel), read on every command."""

    def __init__(self, service: BadgeService, *, ttl: float = _TTL) -> None:
        super().__init__(service.config.get, ttl=ttl)

    async def on_events(self, events: Sequence[AuditEvent]) -> None:
        for guild_id in {e.guild_id for e in events if e.kind is EventKind.CONFIG_CHANGED}:
            await self.renew(guild_id)


class GateCache(GuildCache[list[Gate]]):
    """The gates of each guild, for the ungate autocomplete (a gated channel may be hidden
    from the admin, so Discord's channel picker would not list it)."""

    def __init__(self, service: BadgeService, *, ttl: float = _TTL) -> None:
        super().__init__(service.gates.of, ttl=ttl)

    async def on_events(self, events: Sequence[AuditEvent]) -> None:
        for guild_id in {e.guild_id for e in events if e.kind in _GATE_KINDS}:
            await self.renew(guild_id)


class PolicyCache(GuildCache[dict[str, AwardPolicy]]):
    """Badges members may give (their policy by slug), for the award autocomplete."""

    def __init__(self, service: BadgeService, *, ttl: float = _TTL) -> None:
        super().__init__(service.rules.givable, ttl=ttl)

    async def on_events(self, events: Sequence[AuditEvent]) -> None:
        kinds = {EventKind.POLICY_CHANGED} | _BADGE_KINDS
        for guild_id in {e.guild_id for e in events if e.kind in kinds}:
            await self.renew(guild_id)


_MEMBER_KINDS = {EventKind.AWARDED, EventKind.REVOKED, EventKind.GIFTED}
"""Changes to one member's badges (their ``user_id``); without one, the whole guild's."""
_GUILD_PAGE_KINDS = _BADGE_KINDS | {EventKind.POLICY_CHANGED}
"""Changes to what every member's page shows of a badge (its name, icon, colour, ...)."""


class PageReader(Protocol):
    """Reads a page of a member's badges from the database (``service.awards.of_member``)."""

    def __call__(
        self, guild_id: int, user_id: int, *, offset: int, limit: int
    ) -> Awaitable[Page[MemberBadge]]: ...


_MemberKey = tuple[int, int]
"""(guild_id, user_id)"""
_PageKey = tuple[int, int, int, int]
"""(guild_id, user_id, offset, limit)"""


@dataclass(slots=True)
class _Read:
    """A read from the database in flight; a drop of its member meanwhile makes it stale."""

    stale: bool = False


class MemberPages:
    """Pages of members' badges, as ``/badges`` and its page buttons show them: the most read
    thing in a server and one that changes seldom, so a member asked about again is answered
    from memory instead of the database.

    A member's pages are dropped when their badges change (awarded, revoked, given), every
    member's of a guild when one of its badges does (renamed, deleted, ...); by this process
    at once, before the command that made the change replies, and by any other through the
    change feed, within a second or two. A read in flight across a drop of its member is not
    stored, and a page expires ``ttl`` seconds after it was read, so a missed change cannot
    show for longer. At most ``pages`` pages are kept, the least recently read dropped first
    (a page of 6 badges at the longest names, descriptions and reasons takes 13 KiB, 38 KiB
    in emoji: 1,000 pages, 13 to 38 MiB at worst, a few MiB in practice)."""

    def __init__(
        self,
        read: PageReader,
        *,
        ttl: float = 60.0,
        pages: int = 1_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read = read
        """The database read the pages come from."""
        self._ttl = ttl
        self._size = pages
        self._clock = clock
        self._pages: OrderedDict[_PageKey, tuple[float, Page[MemberBadge]]] = OrderedDict()
        self._of_member: dict[_MemberKey, set[_PageKey]] = {}
        self._of_guild: dict[int, set[_MemberKey]] = {}
        self._reads: dict[_MemberKey, list[_Read]] = {}

    async def get(
        self, guild_id: int, user_id: int, *, offset: int, limit: int
    ) -> Page[MemberBadge]:
        key = (guild_id, user_id, offset, limit)
        now = self._clock()
        stored = self._pages.get(key)
        if stored is not None:
            read_at, page = stored
            if now - read_at < self._ttl:
                self._pages.move_to_end(key)
                return page
            self._remove(key)
        member = (guild_id, user_id)
        token = _Read()
        self._reads.setdefault(member, []).append(token)
        try:
            page = await self.read(guild_id, user_id, offset=offset, limit=limit)
        finally:
            reads = self._reads[member]
            reads.remove(token)
            if not reads:
                del self._reads[member]
        # a tuple: a caller changing the list it was given cannot change what others see
        page = replace(page, items=tuple(page.items))
        if not token.stale:  # nothing changed while reading
            self._store(key, now, page)
        return page

    def _store(self, key: _PageKey, read_at: float, page: Page[MemberBadge]) -> None:
        if self._size <= 0:
            return
        self._pages[key] = (read_at, page)
        self._pages.move_to_end(key)
        member = (key[0], key[1])
        self._of_member.setdefault(member, set()).add(key)
        self._of_guild.setdefault(key[0], set()).add(member)
        while len(self._pages) > self._size:
            self._remove(next(iter(self._pages)))

    def _remove(self, key: _PageKey) -> None:
        del self._pages[key]
        member = (key[0], key[1])
        keys = self._of_member[member]
        keys.discard(key)
        if not keys:
            del self._of_member[member]
            members = self._of_guild[key[0]]
            members.discard(member)
            if not members:
                del self._of_guild[key[0]]

    def drop_member(self, guild_id: int, user_id: int) -> None:
        member = (guild_id, user_id)
        for token in self._reads.get(member, ()):
            token.stale = True
        for key in list(self._of_member.get(member, ())):
            self._remove(key)

    def drop_guild(self, guild_id: int) -> None:
        reading = {m for m in self._reads if m[0] == guild_id}
        for member in reading | self._of_guild.get(guild_id, set()):
            self.drop_member(*member)

    def forget(self) -> None:
        """Forget every page (a start with nothing in memory)."""
        for reads in self._reads.values():
            for token in reads:
                token.stale = True
        self._pages.clear()
        self._of_member.clear()
        self._of_guild.clear()

    def __len__(self) -> int:
        """The number of pages in memory."""
        return len(self._pages)

    async def on_events(self, events: Sequence[AuditEvent]) -> None:
        for e in events:
            if e.kind in _MEMBER_KINDS and e.user_id is not None:
                self.drop_member(e.guild_id, e.user_id)
            elif e.kind in _MEMBER_KINDS or e.kind in _GUILD_PAGE_KINDS:
                self.drop_guild(e.guild_id)
