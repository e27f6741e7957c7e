"""The REST API app: ``create_app(settings)`` builds it on the same service and database code
as the bot. Its lifespan opens the database (an SQLite file is upgraded, a PostgreSQL one must
be current), or uses the bot's when it runs in the bot's process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Path

from api import errors, metrics
from api.auth import TokenBuckets
from api.idempotency import KEEP
from api.limits import BodyLimit, RateHeaders
from api.routes import build_router
from api.state import ApiState
from api.webhook_sender import sender_for
from badges.change_feed import ChangeFeed
from badges.service import BadgeService
from badges.service.core import utcnow
from bot.config import Settings
from db import notifications
from db.database import Database
from db.idempotency import IdempotencyStore
from db.migrate import prepare_database

log = logging.getLogger("api")

PREFIX = metrics.GUILD_PREFIX
PURGE_EVERY = 600.0

DESCRIPTION = """\
The badges of a Discord server, for third-party developers: list and read badges, a
member's badges and history; with an API token, create, edit and delete badges and award
and revoke them. Compatible with the badges reference: the same routes, fields and messages.

Reads are public unless the server made them token-only (`/badge config api-public-reads`).
Writes need `Authorization: Bearer <token>`; admins make tokens with `/badge api-token
create`. Every list is paged: `limit` (1-100) and the `nextCursor` of the previous page.
Errors: `{"error": {"code", "message", "details"}}`.
"""


async def _guild_from_path(
    guildId: Annotated[str, Path(pattern=r"^[1-9][0-9]{0,19}$", description="Server id")],
) -> int:
    value = int(guildId)
    if value >= 2**63:
        raise errors.ApiError(404, "guild_not_found", "No such server id.")
    return value


def create_app(
    settings: Settings,
    *,
    service: BadgeService | None = None,
    database: Database | None = None,
) -> FastAPI:
    """The API. Without ``service`` and ``database`` it opens its own from ``settings``."""
    shared = service is not None and database is not None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = (
            database
            if shared
            else Database(settings.database_url, pool_size=settings.database_pool_size)
        )
        assert db is not None
        try:
            if not shared:
                await prepare_database(db)
            svc = service if service is not None else BadgeService(db)
            state = ApiState(
                settings=settings,
                database=db,
                service=svc,
                buckets=TokenBuckets(settings.api_rate_limit, settings.api_rate_burst),
                idempotency=IdempotencyStore(db),
                clock=svc.core.clock,
            )
            svc.subscribe(state.on_events)
            app.state.api = state
            purger = asyncio.create_task(_purge_keys(state))
            # changes made by other processes (the bot, other workers) reach this one's
            # caches through the change feed; in the bot's process the bot follows it
            follower = None if shared else await _follow_changes(svc, db)
            # the bot sends webhooks itself when the API runs inside it
            sender = None if shared else sender_for(svc, db)
            if sender is not None:
                sender.start()
            try:
                yield
            finally:
                purger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await purger
                if follower is not None:
                    await follower()
                if sender is not None:
                    await sender.stop()
                svc.core.listeners.remove(state.on_events)
        finally:
            if not shared:
                await db.dispose()

    app = FastAPI(
        title="badgebot REST API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        redirect_slashes=False,  # a redirect would be built from the client's Host header
    )
    errors.install(app)
    metrics.install(app, settings)
    app.add_middleware(RateHeaders)
    app.add_middleware(BodyLimit)
    app.include_router(build_router(_guild_from_path, include_in_schema=True), prefix=PREFIX)
    default = settings.api_default_guild
    if default is not None:

        async def _default_guild() -> int:
            return default

        app.include_router(build_router(_default_guild, include_in_schema=False))
    return app


FEED_EVERY = 1.0


async def _follow_changes(
    service: BadgeService, database: Database
) -> Callable[[], Awaitable[None]]:
    """Follow the change feed: every second, and at once when PostgreSQL says a change was
    committed. Returns the function that stops following."""
    feed = ChangeFeed(service.core)
    await feed.start()
    wake = asyncio.Event()
    stop_listening = await notifications.listen(database, wake.set)

    async def follow() -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancel that
                # arrives with the event, and stop() would wait forever
                async with asyncio.timeout(FEED_EVERY):
                    await wake.wait()
            wake.clear()
            try:
                await feed.drain()
            except Exception:  # a database hiccup: the next round tries again
                log.exception("following the change feed failed")

    task = asyncio.create_task(follow(), name="badgebot-api-feed")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await stop_listening()

    return stop


async def _purge_keys(state: ApiState) -> None:
    while True:
        try:
            await state.idempotency.purge(utcnow() - KEEP)
        except Exception:  # the next round tries again
            log.exception("purging idempotency keys failed")
        await asyncio.sleep(PURGE_EVERY)


def app_from_environment() -> FastAPI:
    """For `uvicorn --factory` (several workers): settings from the environment and .env."""
    return create_app(Settings())
