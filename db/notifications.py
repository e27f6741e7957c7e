"""PostgreSQL LISTEN for the change feed's wake-ups; polling alone covers SQLite."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from db.database import Database
from db.unit_of_work import CHANGES_CHANNEL

log = logging.getLogger(__name__)


async def listen(database: Database, wake: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    """Call ``wake`` whenever another process commits a change; returns a function that
    stops listening. On SQLite it does nothing (the feed polls)."""
    if database.dialect != "postgresql":

        async def nothing() -> None:
            return None

        return nothing
    conn = await database.engine.connect()
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection

    def on_notify(*_: Any) -> None:
        wake()

    await driver.add_listener(CHANGES_CHANNEL, on_notify)

    stopped = False

    async def stop() -> None:
        nonlocal stopped
        if stopped:
            return
        stopped = True
        try:
            await driver.remove_listener(CHANGES_CHANNEL, on_notify)
        except Exception:  # the connection may be gone already
            log.debug("removing the change listener failed", exc_info=True)
        await conn.close()

    database.on_dispose(stop)
    return stop
