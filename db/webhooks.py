"""Webhooks in SQL: the guild's URLs, and the outbox of deliveries.

``SqlWebhookRepository`` runs inside the service's transactions (adding webhooks, writing
deliveries beside each change). ``WebhookOutbox`` is what a sender drains, in any process:
deliveries are claimed with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so several
senders never send one twice at the same time, and a sender that dies only delays its claims.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from badges import webhooks
from badges.model import AuditEvent, Delivery, Webhook
from db.repositories import dialect_insert
from db.tables import GUILD_SETTINGS, WEBHOOK_DELIVERIES, WEBHOOKS

if TYPE_CHECKING:
    from db.database import Database

W = WEBHOOKS.c
D = WEBHOOK_DELIVERIES.c
G = GUILD_SETTINGS.c
_COLUMNS = (W.id, W.guild_id, W.url, W.created_by, W.created_by_name, W.created_at)
_CHUNK = 500


def _webhook(row: Any) -> Webhook:
    return Webhook(*row[: len(_COLUMNS)])


class SqlWebhookRepository:
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._s = session
        self._dialect = dialect

    async def add(self, webhook: Webhook, secret: str) -> Webhook:
        stmt = (
            insert(WEBHOOKS)
            .values(
                guild_id=webhook.guild_id,
                url=webhook.url,
                secret=secret,
                created_by=webhook.created_by,
                created_by_name=webhook.created_by_name,
                created_at=webhook.created_at,
            )
            .returning(*_COLUMNS)
        )
        return _webhook((await self._s.execute(stmt)).one())

    async def of_guild(self, guild_id: int) -> list[Webhook]:
        stmt = select(*_COLUMNS).where(W.guild_id == guild_id).order_by(W.id)
        return [_webhook(r) for r in (await self._s.execute(stmt)).all()]

    async def remove(self, guild_id: int, webhook_id: int) -> Webhook | None:
        stmt = (
            delete(WEBHOOKS).where(W.guild_id == guild_id, W.id == webhook_id).returning(*_COLUMNS)
        )
        row = (await self._s.execute(stmt)).first()
        if row is None:
            return None
        # SQLite's foreign keys cascade only with the pragma on; say it for every backend
        await self._s.execute(delete(WEBHOOK_DELIVERIES).where(D.webhook_id == webhook_id))
        return _webhook(row)

    async def enqueue(self, events: Sequence[AuditEvent], now: datetime) -> int:
        sent = [e for e in events if webhooks.event_type(e.kind) is not None]
        if not sent:
            return 0
        rows: list[dict[str, Any]] = []
        for guild_id in sorted({e.guild_id for e in sent}):
            hooks = (await self._s.scalars(select(W.id).where(W.guild_id == guild_id))).all()
            if not hooks:
                continue
            mine = [e for e in sent if e.guild_id == guild_id]
            last = await self._take_sequence(guild_id, len(mine))
            for offset, event in enumerate(mine):
                sequence = last - len(mine) + 1 + offset
                body = json.dumps(
                    webhooks.payload(event, sequence), ensure_ascii=False, separators=(",", ":")
                )
                rows += [
                    {
                        "webhook_id": hook,
                        "guild_id": guild_id,
                        "event_id": webhooks.event_id(event),
                        "event_type": webhooks.EVENT_TYPES[event.kind],
                        "sequence": sequence,
                        "body": body,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for hook in hooks
                ]
        for start in range(0, len(rows), _CHUNK):
            await self._s.execute(insert(WEBHOOK_DELIVERIES), rows[start : start + _CHUNK])
        return len(rows)

    async def _take_sequence(self, guild_id: int, count: int) -> int:
        """Reserve ``count`` sequence numbers of the guild; returns the last. The row stays
        locked until commit, so numbers follow the order the guild's changes commit in."""
        stmt = dialect_insert(self._dialect, GUILD_SETTINGS).values(
            guild_id=guild_id, webhook_sequence=count
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["guild_id"],
            set_={"webhook_sequence": G.webhook_sequence + stmt.excluded.webhook_sequence},
        ).returning(G.webhook_sequence)
        return int((await self._s.execute(stmt)).scalar_one())


class WebhookOutbox:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def claim(self, now: datetime, limit: int, lease: timedelta) -> list[Delivery]:
        """Due deliveries, leased to this sender until ``now + lease``."""
        due = select(D.id).where(
            D.status == "pending",
            D.next_attempt_at <= now,
            (D.lease_until.is_(None)) | (D.lease_until < now),
        )
        async with self._db.engine.connect() as conn:  # most polls find nothing: read first
            if (await conn.execute(due.limit(1))).first() is None:
                return []
        due = due.order_by(D.id).limit(limit).with_for_update(skip_locked=True)
        async with self._db.transaction() as conn:
            claimed = (
                (
                    await conn.execute(
                        update(WEBHOOK_DELIVERIES)
                        .where(D.id.in_(due.scalar_subquery()))
                        .values(lease_until=now + lease, attempts=D.attempts + 1)
                        .returning(D.id)
                    )
                )
                .scalars()
                .all()
            )
            if not claimed:
                return []
            rows = (
                await conn.execute(
                    select(
                        D.id,
                        D.webhook_id,
                        W.url,
                        W.secret,
                        D.event_id,
                        D.event_type,
                        D.body,
                        D.attempts,
                        D.created_at,
                    )
                    .join_from(WEBHOOK_DELIVERIES, WEBHOOKS, D.webhook_id == W.id)
                    .where(D.id.in_(list(claimed)))
                    .order_by(D.id)
                )
            ).all()
        return [Delivery(*r) for r in rows]

    async def delivered(self, delivery_id: int) -> None:
        await self._set(delivery_id, status="delivered", lease_until=None, last_error=None)

    async def retry(self, delivery_id: int, error: str, when: datetime) -> None:
        await self._set(delivery_id, next_attempt_at=when, lease_until=None, last_error=error)

    async def failed(self, delivery_id: int, error: str) -> None:
        await self._set(delivery_id, status="failed", lease_until=None, last_error=error)

    async def _set(self, delivery_id: int, **values: Any) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                update(WEBHOOK_DELIVERIES).where(D.id == delivery_id).values(**values)
            )

    async def purge(self, delivered_before: datetime, failed_before: datetime) -> int:
        """Forget delivered rows after a while, failed ones after longer (to be looked at)."""
        async with self._db.transaction() as conn:
            result = await conn.execute(
                delete(WEBHOOK_DELIVERIES)
                .where(
                    ((D.status == "delivered") & (D.created_at < delivered_before))
                    | ((D.status == "failed") & (D.created_at < failed_before))
                )
                .returning(D.id)
            )
            return len(result.all())

    async def states(self, webhook_id: int | None = None) -> list[tuple[str, int, str | None]]:
        """(status, attempts, last error) of each delivery, oldest first (for tests and
        `/badge webhook list`)."""
        stmt = select(D.status, D.attempts, D.last_error).order_by(D.id)
        if webhook_id is not None:
            stmt = stmt.where(D.webhook_id == webhook_id)
        async with self._db.engine.connect() as conn:
            return [(r[0], r[1], r[2]) for r in (await conn.execute(stmt)).all()]
