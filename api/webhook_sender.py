"""The webhook sender: drains the outbox in whatever process runs it (`badgebot api`, or the
bot when it serves the API), POSTs each change signed with the webhook's secret, and retries
with backoff for a day. It never runs inside a change's transaction, so a slow or dead
receiver never holds up an award.

Addresses are checked when a connection is made, not only when the webhook was added: the
resolver below refuses to connect to anything but public addresses, so a name that later
resolves to 127.0.0.1 or 169.254.169.254 (DNS rebinding) is refused too. Redirects are not
followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from badges import webhooks
from badges.model import Delivery
from badges.service import BadgeService
from badges.webhooks import STRICT, UrlPolicy
from bot import metrics
from db.database import Database
from db.webhooks import WebhookOutbox

log = logging.getLogger("api.webhooks")

BATCH = 50
CONCURRENCY = 10
LEASE = timedelta(seconds=60)
TIMEOUT = 10.0
IDLE = 1.0
"""Seconds between polls when nothing is due."""
USER_AGENT = "badgebot-webhooks/1"


class RefusedAddress(aiohttp.ClientConnectionError):
    pass


class _CheckedResolver(AbstractResolver):
    """The system resolver, refusing any answer that is not a public address."""

    def __init__(self, policy: UrlPolicy) -> None:
        self._inner = DefaultResolver()
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        problem = webhooks.address_problem([r["host"] for r in found], self._policy)
        if problem is not None:
            raise RefusedAddress(problem)
        return found

    async def close(self) -> None:
        await self._inner.close()


class WebhookSender:
    def __init__(
        self,
        outbox: WebhookOutbox,
        clock: Callable[[], datetime],
        *,
        policy: UrlPolicy = STRICT,
    ) -> None:
        self._outbox = outbox
        self._clock = clock
        self._policy = policy
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_purge = 0.0
        self.on_kick: Callable[[], None] | None = None
        """Called on a wake-up, for a runner of its own (the bot's task loop)."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="badgebot-webhooks")

    def kick(self) -> None:
        self._wake.set()
        if self.on_kick is not None:
            self.on_kick()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(resolver=_CheckedResolver(self._policy), limit=50)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=TIMEOUT),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.round()
            except Exception:  # the database hiccuped: the next round tries again
                log.exception("webhook round failed")
                sent = 0
            if sent == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancel that
                    # arrives with the event, and stop() would wait forever
                    async with asyncio.timeout(IDLE):
                        await self._wake.wait()

    async def round(self) -> int:
        """Send what is due now; returns how many deliveries were tried."""
        now = self._clock()
        if time.monotonic() - self._last_purge > 600:
            self._last_purge = time.monotonic()
            await self._outbox.purge(now - timedelta(days=1), now - timedelta(days=7))
        due = await self._outbox.claim(now, BATCH, LEASE)
        if not due:
            return 0
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(delivery: Delivery) -> None:
            async with gate:
                await self._deliver(delivery)

        await asyncio.gather(*(one(d) for d in due))
        return len(due)

    async def _deliver(self, delivery: Delivery) -> None:
        problem = webhooks.url_problem(delivery.url, self._policy)
        if problem is not None:
            await self._outbox.failed(delivery.id, f"refused: {problem}")
            metrics.WEBHOOK_DELIVERIES.labels("failed").inc()
            return
        body = delivery.body.encode()
        stamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "Badgebot-Event": delivery.event_type,
            "Badgebot-Delivery": delivery.event_id,
            webhooks.SIGNATURE_HEADER: webhooks.signature(delivery.secret, stamp, body),
        }
        try:
            async with self._http().post(
                delivery.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                ok = 200 <= response.status < 300
                error = None if ok else f"HTTP {response.status}"
        except RefusedAddress as exc:
            await self._outbox.failed(delivery.id, f"refused: {exc}")
            metrics.WEBHOOK_DELIVERIES.labels("failed").inc()
            return
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        if error is None:
            await self._outbox.delivered(delivery.id)
            metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
            return
        now = self._clock()
        if now - delivery.created_at >= webhooks.RETRY_FOR:
            await self._outbox.failed(delivery.id, f"gave up after a day: {error}")
            metrics.WEBHOOK_DELIVERIES.labels("failed").inc()
            log.warning("webhook delivery %s gave up: %s", delivery.event_id, error)
        else:
            await self._outbox.retry(delivery.id, error, now + webhooks.backoff(delivery.attempts))
            metrics.WEBHOOK_DELIVERIES.labels("retry").inc()


def sender_for(service: BadgeService, database: Database) -> WebhookSender:
    """The sender of this process, woken by every change made here that queued deliveries
    (a change in a guild without webhooks queues none, and costs the sender no round). The
    caller runs it: ``start()``, or its own loop calling ``round()``."""
    sender = WebhookSender(
        WebhookOutbox(database), service.core.clock, policy=service.core.url_policy
    )
    service.watch_outbox(sender.kick)
    return sender
