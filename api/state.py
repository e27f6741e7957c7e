"""What every request of one app shares: the service, settings, rate limits, caches."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from api.auth import TokenBuckets
from api.cache import PageCache
from badges.model import AuditEvent, EventKind
from badges.service import BadgeService
from bot.config import Settings
from db.database import Database
from db.idempotency import IdempotencyStore

PUBLIC_READS_TTL = 2.0
"""Seconds a guild's public-reads setting is trusted; a change made in this process
applies at once, one made elsewhere within this time."""


@dataclass
class ApiState:
    settings: Settings
    database: Database
    service: BadgeService
    buckets: TokenBuckets
    idempotency: IdempotencyStore
    clock: Callable[[], datetime]
    pages: PageCache = field(default_factory=PageCache)
    _public: dict[int, tuple[bool, float]] = field(default_factory=dict)

    async def public_reads(self, guild_id: int) -> bool:
        now = time.monotonic()
        cached = self._public.get(guild_id)
        if cached is not None and now - cached[1] < PUBLIC_READS_TTL:
            return cached[0]
        public = (await self.service.config.get(guild_id)).api_public_reads
        self._public[guild_id] = (public, now)
        return public

    async def on_events(self, events: Sequence[AuditEvent]) -> None:
        """Changes committed here or (through the change feed) elsewhere."""
        for guild_id in {e.guild_id for e in events}:
            self.pages.drop(guild_id)
        for e in events:
            if e.kind is EventKind.CONFIG_CHANGED:
                self._public.pop(e.guild_id, None)
