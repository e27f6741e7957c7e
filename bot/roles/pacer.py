"""A process-wide pacer for Discord's global rate limit (50 requests per second per bot).

discord.py learns each route's bucket from response headers and waits before a request
that would exceed it, but it learns of the global limit only from a global 429, after the
fact. With many guilds draining at once their buckets together allow far more than 50/s,
so without a pacer every second ends in a global 429. The role-sync drains of all guilds
share one pacer, set a little under the limit, to leave room for the bot's other requests.
A bot split over several processes paces each to its shards' share of the limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

RATE = 45.0  # role-sync requests per second; Discord allows 50 for the whole bot
BURST = 4  # requests that may go at once after a pause


class Pacer:
    """Spaces requests ``1 / rate`` seconds apart, first come first served, after letting a
    short burst through at once (a pause of ``burst / rate`` seconds earns it back).

    In any second at most ``burst + rate`` requests start (49 with the defaults), and a
    sustained flow is evenly spread: requests bunched together would reach Discord unevenly
    and could land in one of its windows. Each caller reserves its start time and sleeps
    until it; a cancelled caller's slot is simply left unused."""

    def __init__(
        self,
        rate: float = RATE,
        burst: int = BURST,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("need rate > 0 and burst >= 1")
        self.interval = 1.0 / rate
        self._tolerance = (burst - 1) * self.interval
        self._clock = clock
        self._sleep = sleep
        self._next = -float("inf")  # when the flow would send next, evenly spaced

    async def wait(self) -> None:
        """Return when this caller may send its request."""
        now = self._clock()
        due = max(now, self._next)
        self._next = due + self.interval
        start = max(now, due - self._tolerance)
        if start > now:
            await self._sleep(start - now)
