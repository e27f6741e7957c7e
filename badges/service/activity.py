"""Activity: the counts the bot gathers, written in batches, and the leaderboard."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from badges.activity import ActivityCount
from badges.automation import MAX_WINDOW, MemberRecord, Standing, Weights, day_number, window_start
from badges.errors import InvalidInput
from badges.service.core import ServiceCore

log = logging.getLogger("badges.activity")

LEADERBOARD_WEIGHTS = Weights(messages=1.0, reactions=0.5, voice_minutes=0.1)
"""The leaderboard's score: a message is 1, a reaction received 0.5, a minute in voice 0.1."""
LEADERBOARD_MAX = 25
ROLL_UP_LOCK = 1
"""The advisory lock key of the roll-up (no Discord id is this small)."""


class Activity:
    """service.activity"""

    def __init__(self, core: ServiceCore) -> None:
        self._core = core

    async def record(
        self, counts: Sequence[ActivityCount], members: Sequence[MemberRecord] = ()
    ) -> None:
        """Add a batch of counts (and what was seen of members) in one transaction."""
        if not counts and not members:
            return
        async with self._core.write() as tx:
            await tx.uow.activity.add(counts)
            await tx.uow.activity.remember(members)

    async def forget(self, guild_id: int, user_id: int) -> None:
        """A member left: they stop qualifying for automatic badges (their counts stay, and
        count again if they come back)."""
        async with self._core.write() as tx:
            await tx.uow.activity.forget(guild_id, user_id)

    async def leaderboard(
        self, guild_id: int, *, window_days: int | None = None, limit: int = 10
    ) -> list[Standing]:
        """The most active members over the last ``window_days`` (None: ever)."""
        if window_days is not None and not 1 <= window_days <= MAX_WINDOW:
            raise InvalidInput("window", f"The window is 1-{MAX_WINDOW} days.")
        if not 1 <= limit <= LEADERBOARD_MAX:
            raise InvalidInput("limit", f"A leaderboard shows 1-{LEADERBOARD_MAX} members.")
        since = window_start(day_number(self._core.clock()), window_days)
        async with self._core.read() as uow:
            top = await uow.activity.top(
                guild_id,
                LEADERBOARD_WEIGHTS,
                since_day=since,
                excluded=frozenset(),
                paced=False,
                limit=limit,
            )
        return [Standing(uid, score) for uid, score in top]

    async def roll_up(self) -> int:
        """Fold daily counts older than the longest window into one row per member and
        channel, so storage stays bounded; returns the rows folded."""
        before = day_number(self._core.clock()) - MAX_WINDOW
        async with self._core.write() as tx:
            await tx.uow.lock(ROLL_UP_LOCK)  # two processes at once would add the sums twice
            folded = await tx.uow.activity.roll_up(before)
        if folded:
            log.info("rolled up %d daily activity rows older than %d days", folded, MAX_WINDOW)
        return folded
