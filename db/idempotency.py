"""Idempotency keys in SQL: the first request with a key claims it; retries read its answer.

The key's primary key serialises two requests that arrive at once: on PostgreSQL the second
insert waits for the first to commit its claim, then finds it taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from db.database import Database
from db.repositories import dialect_insert
from db.tables import IDEMPOTENCY_KEYS

K = IDEMPOTENCY_KEYS.c


@dataclass(frozen=True, slots=True)
class Stored:
    """What a key holds: the hash of its request and, once served, the answer."""

    request_hash: str
    status: int | None
    body: str | None
    created_at: datetime


class IdempotencyStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def claim(
        self, token_id: int, key: str, request_hash: str, now: datetime, stale_before: datetime
    ) -> Stored | None:
        """Claim the key for this request (None: serve it, then ``finish``), or return what
        the key holds. A claim left unanswered since ``stale_before`` (its process died) is
        taken over."""
        where = (K.token_id == token_id, K.key == key)
        async with self._db.transaction() as conn:
            stmt = (
                dialect_insert(self._db.dialect, IDEMPOTENCY_KEYS)
                .values(token_id=token_id, key=key, request_hash=request_hash, created_at=now)
                .on_conflict_do_nothing(index_elements=["token_id", "key"])
                .returning(K.key)
            )
            if (await conn.execute(stmt)).first() is not None:
                return None
            row = (
                await conn.execute(
                    select(K.request_hash, K.status, K.body, K.created_at).where(*where)
                )
            ).one()
            stored = Stored(row.request_hash, row.status, row.body, row.created_at)
            if stored.status is None and stored.created_at < stale_before:
                taken = await conn.execute(
                    update(IDEMPOTENCY_KEYS)
                    .where(*where, K.status.is_(None), K.created_at == stored.created_at)
                    .values(request_hash=request_hash, created_at=now)
                    .returning(K.key)
                )
                if taken.first() is not None:
                    return None
            return stored

    async def get(self, token_id: int, key: str) -> Stored | None:
        async with self._db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(K.request_hash, K.status, K.body, K.created_at).where(
                        K.token_id == token_id, K.key == key
                    )
                )
            ).first()
        return None if row is None else Stored(row[0], row[1], row[2], row[3])

    async def finish(self, token_id: int, key: str, status: int, body: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                update(IDEMPOTENCY_KEYS)
                .where(K.token_id == token_id, K.key == key)
                .values(status=status, body=body)
            )

    async def release(self, token_id: int, key: str) -> None:
        """Forget an unanswered claim (the request failed on our side: a retry may run)."""
        async with self._db.transaction() as conn:
            await conn.execute(
                delete(IDEMPOTENCY_KEYS).where(
                    K.token_id == token_id, K.key == key, K.status.is_(None)
                )
            )

    async def purge(self, before: datetime) -> int:
        """Drop keys made before ``before``; returns how many."""
        async with self._db.transaction() as conn:
            result = await conn.execute(
                delete(IDEMPOTENCY_KEYS).where(K.created_at < before).returning(K.key)
            )
            return len(result.all())
