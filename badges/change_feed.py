"""The change feed: every process follows the audit trail, so a change committed by any of
them (the bot, the REST API, another bot process) reaches this process's listeners (caches,
log channel, role sync) within a second or two. Changes made in this process reach them at
once through the service's fast path; the feed skips those.

The feed polls by id. Ids are handed out before commit, so on PostgreSQL a later id can
become visible before an earlier one: an id skipped over is a hole, looked for again for a
while (it may belong to a transaction still committing) and given up after ``hole_ttl``
seconds (a rolled-back transaction leaves one for good). A wake-up (PostgreSQL NOTIFY) makes
it poll at once instead of at the next interval. The runtime calls ``poll`` on a schedule.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from badges.model import AuditEvent
from badges.service.core import ServiceCore

log = logging.getLogger(__name__)

BATCH = 500


def runs(ids: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted ids as inclusive ``(first, last)`` runs of consecutive ids."""
    found: list[tuple[int, int]] = []
    for i in ids:
        if found and found[-1][1] == i - 1:
            found[-1] = (found[-1][0], i)
        else:
            found.append((i, i))
    return found


class ChangeFeed:
    def __init__(self, core: ServiceCore, *, hole_ttl: float = 30.0) -> None:
        self._core = core
        self._hole_ttl = hole_ttl
        self._last: int | None = None
        self._holes: dict[int, float] = {}
        self._local: set[int] = set()
        core.listeners.insert(0, self._published_here)

    async def _published_here(self, events: Sequence[AuditEvent]) -> None:
        self._local.update(e.id for e in events)

    async def start(self) -> None:
        """Follow from the newest change on (what came before was seen at start-up)."""
        async with self._core.read() as uow:
            self._last = await uow.audit.last_id()

    async def drain(self) -> None:
        """Poll until caught up (a poll reads at most ``BATCH`` rows)."""
        while await self.poll() == BATCH:
            pass

    async def poll(self) -> int:
        """Deliver the changes committed elsewhere since the last poll; returns how many new
        rows were read."""
        if self._last is None:
            async with self._core.read() as uow:
                self._last = await uow.audit.last_id()
        now = time.monotonic()
        self._holes = {i: t for i, t in self._holes.items() if now - t < self._hole_ttl}
        async with self._core.read() as uow:
            fresh = await uow.audit.since(self._last, BATCH)
            # by ranges: a rolled-back bulk change leaves thousands of consecutive holes
            late = await uow.audit.in_ranges(runs(sorted(self._holes))) if self._holes else []
        for event in late:
            self._holes.pop(event.id, None)
        expected = self._last + 1
        for event in fresh:
            for missing in range(expected, event.id):
                if missing not in self._local:
                    self._holes[missing] = now
            expected = event.id + 1
        if fresh:
            self._last = fresh[-1].id
        remote = [e for e in sorted([*late, *fresh], key=lambda e: e.id) if e.id not in self._local]
        floor = min([self._last, *self._holes])
        self._local = {i for i in self._local if i > floor}
        if remote:
            for guild_id in {e.guild_id for e in remote}:
                self._core.wake_role_sync(guild_id)
            listeners = [fn for fn in self._core.listeners if fn != self._published_here]
            for listener in listeners:
                try:
                    await listener(remote)
                except Exception:
                    log.exception("change feed listener %r failed", listener)
        return len(fresh)
