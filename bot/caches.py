"""In-memory per-guild caches that keep autocomplete and permission checks off the database.

Autocomplete must answer within Discord's 3 seconds and cannot defer, so badge names and
gated channels are served from memory. A guild's entry is dropped whenever a change there is
reported, by this process at once and by any other through the change feed. Each drop bumps
the guild's version, and a load that was in flight across a drop is not stored: it may have
read the data from before the change (a removed moderator role must stop granting at once).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from badges.automation import AwardPolicy
from badges.model import AuditEvent, EventKind, Gate, GuildSettings
from badges.service import BadgeService

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
    """One value per guild, loaded on demand, dropped on change, with a time-to-live."""

    def __init__(self, load: Callable[[int], Awaitable[V]], *, ttl: float = _TTL) -> None:
        self._load = load
        self._ttl = ttl
        self._values: dict[int, tuple[float, V]] = {}
        self._versions: dict[int, int] = {}

    async def get(self, guild_id: int) -> V:
        cached = self._values.get(guild_id)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        version = self._versions.get(guild_id, 0)
        value = await self._load(guild_id)
        if self._versions.get(guild_id, 0) == version:  # nothing changed while loading
            self._values[guild_id] = (time.monotonic(), value)
        return value

    def drop(self, guild_id: int) -> None:
        self._versions[guild_id] = self._versions.get(guild_id, 0) + 1
        self._values.pop(guild_id, None)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    name: str
    slug: str


class BadgeCatalog(GuildCache[list[CatalogEntry]]):
    """Badge names and slugs of each guild, for autocomplete."""

    def __init__(self, service: BadgeService, *, ttl: float = _TTL) -> None:
        async def load(guild_id: int) -> list[CatalogEntry]:
            return [CatalogEntry(n, s) for n, s in await service.catalog.names(guild_id)]

        super().__init__(load, ttl=ttl)

    async def entries(self, guild_id: int) -> list[CatalogEntry]:
        return await self.get(guild_id)

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
            self.drop(guild_id)


class SettingsCache(GuildCache[GuildSettings]):
    """Guild settings (level roles, log channel), read on every command."""

    def __init__(self, service: BadgeService, *, ttl: float = _TTL) -> None:
        super().__init__(service.config.get, ttl=ttl)

    async def on_events(self, events: Sequence[AuditEvent]) -> None:
        for guild_id in {e.guild_id for e in events if e.kind is EventKind.CONFIG_CHANGED}:
            self.drop(guild_id)


class GateCache(GuildCache[list[Gate]]):
    """The gates of each guild, for the ungate autocomplete (a gated channel may be hidden
    from the admin, so Discord's channel picker would not list it)."""

    def __init__(self, service: BadgeService, *, ttl: float = _TTL) -> None:
        super().__init__(service.gates.of, ttl=ttl)

    async def on_events(self, events: Sequence[AuditEvent]) -> None:
        for guild_id in {e.guild_id for e in events if e.kind in _GATE_KINDS}:
            self.drop(guild_id)


class PolicyCache(GuildCache[dict[str, AwardPolicy]]):
    """Badges members may give (their policy by slug), for the award autocomplete."""

    def __init__(self, service: BadgeService, *, ttl: float = _TTL) -> None:
        super().__init__(service.rules.givable, ttl=ttl)

    async def on_events(self, events: Sequence[AuditEvent]) -> None:
        kinds = {EventKind.POLICY_CHANGED} | _BADGE_KINDS
        for guild_id in {e.guild_id for e in events if e.kind in kinds}:
            self.drop(guild_id)
