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
from dataclasses import dataclass, field
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


@dataclass(slots=True)
class _Member:
    stored_at: float
    guild_version: int
    pages: dict[tuple[int, int], Page[MemberBadge]] = field(default_factory=dict)


class MemberPages:
    """Pages of members' badges, as ``/badges`` and its page buttons show them: the most read
    thing in a server and one that changes seldom, so a member asked about again is answered
    from memory instead of the database.

    A member's pages are dropped when their badges change (awarded, revoked, given), every
    member's of a guild when one of its badges does (renamed, deleted, ...); by this process
    at once, before the command that made the change replies, and by any other through the
    change feed, within a second or two. A read in flight across any drop is not stored, and
    pages expire after ``ttl`` seconds, so a missed change cannot show for longer. At most
    ``members`` members are kept, the least recently read dropped first (a page of 6 badges
    with long descriptions and reasons takes about 9 KiB: 2,000 members, 18 MiB at most)."""

    def __init__(
        self,
        read: PageReader,
        *,
        ttl: float = 60.0,
        members: int = 2_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read = read
        """The database read the pages come from."""
        self._ttl = ttl
        self._size = members
        self._clock = clock
        self._members: OrderedDict[tuple[int, int], _Member] = OrderedDict()
        self._guild_versions: dict[int, int] = {}
        self._drops = 0

    async def get(
        self, guild_id: int, user_id: int, *, offset: int, limit: int
    ) -> Page[MemberBadge]:
        key = (guild_id, user_id)
        version = self._guild_versions.get(guild_id, 0)
        now = self._clock()
        member = self._members.get(key)
        if member is not None and (
            member.guild_version != version or now - member.stored_at >= self._ttl
        ):
            del self._members[key]
            member = None
        if member is not None and (page := member.pages.get((offset, limit))) is not None:
            self._members.move_to_end(key)
            return page
        drops = self._drops
        page = await self.read(guild_id, user_id, offset=offset, limit=limit)
        if self._drops == drops:  # nothing changed while reading
            self._store(key, version, (offset, limit), page)
        return page

    def _store(
        self,
        key: tuple[int, int],
        version: int,
        bounds: tuple[int, int],
        page: Page[MemberBadge],
    ) -> None:
        member = self._members.get(key)
        if member is None:
            member = self._members[key] = _Member(self._clock(), version)
            while len(self._members) > self._size:
                self._members.popitem(last=False)
        member.pages[bounds] = page
        self._members.move_to_end(key)

    def drop_member(self, guild_id: int, user_id: int) -> None:
        self._drops += 1
        self._members.pop((guild_id, user_id), None)

    def drop_guild(self, guild_id: int) -> None:
        self._drops += 1
        self._guild_versions[guild_id] = self._guild_versions.get(guild_id, 0) + 1

    def forget(self) -> None:
        """Forget every member (a start with nothing in memory)."""
        self._drops += 1
        self._members.clear()

    def __len__(self) -> int:
        return len(self._members)

    async def on_events(self, events: Sequence[AuditEvent]) -> None:
        for e in events:
            if e.kind in _MEMBER_KINDS and e.user_id is not None:
                self.drop_member(e.guild_id, e.user_id)
            elif e.kind in _MEMBER_KINDS or e.kind in _GUILD_PAGE_KINDS:
                self.drop_guild(e.guild_id)
