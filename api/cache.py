"""Answers of the badge list, kept per guild until the guild changes.

Every page of ``GET /badges`` is the same for every caller until a badge or an award of the
guild changes, so its serialised body is kept. A change made in this process drops the
guild's pages at once (the service's listeners); one made by another process drops them when
the change feed delivers it (at once on PostgreSQL, woken by NOTIFY; within a second on
SQLite). A page loaded while a change was committing is not kept: each guild has a version,
and a load only stores its answer if the version did not move meanwhile.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

MAX_ENTRIES = 2_000


class PageCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max = max_entries
        self._pages: OrderedDict[tuple[int, Hashable], bytes] = OrderedDict()
        self._versions: dict[int, int] = {}

    def version(self, guild_id: int) -> int:
        return self._versions.get(guild_id, 0)

    def get(self, guild_id: int, key: Hashable) -> bytes | None:
        body = self._pages.get((guild_id, key))
        if body is not None:
            self._pages.move_to_end((guild_id, key))
        return body

    def put(self, guild_id: int, key: Hashable, version: int, body: bytes) -> None:
        """Keep ``body`` unless the guild changed since ``version`` was read."""
        if self.version(guild_id) != version:
            return
        self._pages[(guild_id, key)] = body
        self._pages.move_to_end((guild_id, key))
        while len(self._pages) > self._max:
            self._pages.popitem(last=False)

    def drop(self, guild_id: int) -> None:
        self._versions[guild_id] = self.version(guild_id) + 1
        for entry in [k for k in self._pages if k[0] == guild_id]:
            del self._pages[entry]
