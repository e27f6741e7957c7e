"""The audit trail in SQL: events recorded in the transaction of their change, read by the
change feed and the history views. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from badges.model import AuditEvent, EventKind, NewEvent, Page
from db.tables import AUDIT_EVENTS

E = AUDIT_EVENTS.c
_CHUNK = 500
_RANGES = 200  # id ranges per query (two bound parameters each)


def _event(row: Row[Any]) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        guild_id=row.guild_id,
        kind=EventKind(row.kind),
        actor_id=row.actor_id,
        actor_name=row.actor_name,
        at=row.at,
        badge_id=row.badge_id,
        badge_name=row.badge_name,
        user_id=row.user_id,
        reason=row.reason,
        before=row.before,
        after=row.after,
    )


def _new_fields(event: NewEvent) -> dict[str, Any]:
    return {f: getattr(event, f) for f in NewEvent.__dataclass_fields__}


class SqlAuditLog:
    _MEMBER_KINDS = (EventKind.AWARDED.value, EventKind.REVOKED.value)

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def record(self, events: Sequence[NewEvent]) -> list[AuditEvent]:
        rows = [
            {
                "guild_id": e.guild_id,
                "kind": e.kind.value,
                "actor_id": e.actor_id,
                "actor_name": e.actor_name,
                "at": e.at,
                "badge_id": e.badge_id,
                "badge_name": e.badge_name,
                "user_id": e.user_id,
                "reason": e.reason,
                "before": e.before,
                "after": e.after,
            }
            for e in events
        ]
        ids: list[int] = []
        if self._s.get_bind().dialect.name == "sqlite":
            # SQLAlchemy sends an ordered RETURNING one row per statement on SQLite (10,000
            # statements for a bulk award); one executemany per chunk instead. This
            # transaction holds SQLite's only write lock from its first row to its commit,
            # so each chunk's ids are the consecutive ones ending at the last rowid.
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start : start + _CHUNK]
                await self._s.execute(insert(AUDIT_EVENTS), chunk)
                last = int((await self._s.execute(select(func.last_insert_rowid()))).scalar_one())
                ids.extend(range(last - len(chunk) + 1, last + 1))
        else:
            stmt = insert(AUDIT_EVENTS).returning(E.id, sort_by_parameter_order=True)
            for start in range(0, len(rows), _CHUNK):
                ids.extend((await self._s.scalars(stmt, rows[start : start + _CHUNK])).all())
        return [AuditEvent(id=i, **_new_fields(e)) for i, e in zip(ids, events, strict=True)]

    async def since(self, after_id: int, limit: int) -> list[AuditEvent]:
        stmt = select(AUDIT_EVENTS).where(E.id > after_id).order_by(E.id).limit(limit)
        return [_event(r) for r in (await self._s.execute(stmt)).all()]

    async def by_ids(self, ids: Sequence[int]) -> list[AuditEvent]:
        if not ids:
            return []
        stmt = select(AUDIT_EVENTS).where(E.id.in_(list(ids))).order_by(E.id)
        return [_event(r) for r in (await self._s.execute(stmt)).all()]

    async def in_ranges(self, ranges: Sequence[tuple[int, int]]) -> list[AuditEvent]:
        found: list[AuditEvent] = []
        for start in range(0, len(ranges), _RANGES):
            chunk = ranges[start : start + _RANGES]
            stmt = select(AUDIT_EVENTS).where(or_(*(E.id.between(a, b) for a, b in chunk)))
            found.extend(_event(r) for r in (await self._s.execute(stmt)).all())
        return sorted(found, key=lambda e: e.id)

    async def last_id(self) -> int:
        return int((await self._s.execute(select(func.coalesce(func.max(E.id), 0)))).scalar_one())

    async def member_history(
        self, guild_id: int, user_id: int, *, offset: int, limit: int
    ) -> Page[AuditEvent]:
        where = and_(
            E.guild_id == guild_id,
            E.user_id == user_id,
            E.kind.in_(self._MEMBER_KINDS),
        )
        total = (await self._s.execute(select(func.count()).where(where))).scalar_one()
        stmt = select(AUDIT_EVENTS).where(where).order_by(E.id.desc()).offset(offset).limit(limit)
        rows = (await self._s.execute(stmt)).all()
        return Page([_event(r) for r in rows], total=total, offset=offset, limit=limit)

    async def member_history_before(
        self, guild_id: int, user_id: int, *, before_id: int | None, limit: int
    ) -> list[AuditEvent]:
        stmt = select(AUDIT_EVENTS).where(
            E.guild_id == guild_id, E.user_id == user_id, E.kind.in_(self._MEMBER_KINDS)
        )
        if before_id is not None:
            stmt = stmt.where(E.id < before_id)
        stmt = stmt.order_by(E.id.desc()).limit(limit)
        return [_event(r) for r in (await self._s.execute(stmt)).all()]
