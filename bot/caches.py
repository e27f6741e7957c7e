"""In-memory per-guild caches that keep autocomplete and permission checks off the database.

Autocomplete must answer within Discord's 3 seconds and cannot defer, so badge names are served
from memory. Both caches drop a guild's entry when the service reports a change there; a short
time-to-live covers changes made by another process (the REST API).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from badges.model import EventKind, GuildSettings, NewEvent
from badges.service import BadgeService

_TTL = 300.0
_BADGE_KINDS = {EventKind.BADGE_CREATED, EventKind.BADGE_UPDATED, EventKind.BADGE_DELETED}


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    name: str
    slug: str


class BadgeCatalog:
    """Badge names and slugs of each guild, for autocomplete."""

    def __init__(self, service: BadgeService, *, ttl: float = _TTL) -> None:
        self._service = service
        self._ttl = ttl
        self._entries: dict[int, tuple[float, list[CatalogEntry]]] = {}

    async def entries(self, guild_id: int) -> list[CatalogEntry]:
        cached = self._entries.get(guild_id)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        entries = [CatalogEntry(n, s) for n, s in await self._service.badge_names(guild_id)]
        self._entries[guild_id] = (time.monotonic(), entries)
        return entries

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

    async def on_events(self, events: Sequence[NewEvent]) -> None:
        for guild_id in {e.guild_id for e in events if e.kind in _BADGE_KINDS}:
            self._entries.pop(guild_id, None)


class SettingsCache:
    """Guild settings (level roles, log channel), read on every command."""

    def __init__(self, service: BadgeService, *, ttl: float = _TTL) -> None:
        self._service = service
        self._ttl = ttl
        self._settings: dict[int, tuple[float, GuildSettings]] = {}

    async def get(self, guild_id: int) -> GuildSettings:
        cached = self._settings.get(guild_id)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        settings = await self._service.get_settings(guild_id)
        self._settings[guild_id] = (time.monotonic(), settings)
        return settings

    async def on_events(self, events: Sequence[NewEvent]) -> None:
        for guild_id in {e.guild_id for e in events if e.kind is EventKind.CONFIG_CHANGED}:
            self._settings.pop(guild_id, None)
