"""The role-change outbox in SQL: one live intent per member and role. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from badges.model import Backlog, NewRoleChange, RoleAction, RoleChange
from db.repositories import dialect_insert
from db.tables import AWARDS, BADGES, ROLE_CHANGES

PENDING = "pending"
FAILED = "failed"
_CHUNK = 500
C = ROLE_CHANGES.c
A = AWARDS.c
B = BADGES.c
_INTENT = ["guild_id", "role_id", "user_id"]
_RELEASED: dict[str, Any] = {"claimed_by": None, "lease_until": None}
"""No process holds the change any more (after an outcome, or when its holder stops)."""


def _change(row: Row[Any]) -> RoleChange:
    return RoleChange(
        id=row.id,
        guild_id=row.guild_id,
        role_id=row.role_id,
        action=RoleAction(row.action),
        user_id=row.user_id,
        badge_id=row.badge_id,
        reason=row.reason,
        attempts=row.attempts,
        error=row.error,
        created_at=row.created_at,
        version=row.version,
    )


def _holds_role() -> Any:
    """The member of a queued change holds a badge linked to its role (correlated)."""
    return exists().where(
        A.guild_id == C.guild_id,
        A.user_id == C.user_id,
        A.badge_id == B.id,
        B.guild_id == C.guild_id,
        B.role_id == C.role_id,
    )


def _role_linked() -> Any:
    return exists().where(B.guild_id == C.guild_id, B.role_id == C.role_id)


class SqlRoleQueue:
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._s = session
        self._dialect = dialect

    def _upsert(self) -> Any:
        """INSERT ... ON CONFLICT (member, role) DO UPDATE: the new intent replaces the old
        one, pending or failed, and its version goes up."""
        stmt = dialect_insert(self._dialect, ROLE_CHANGES)
        return stmt.on_conflict_do_update(
            index_elements=_INTENT,
            set_={
                "action": stmt.excluded.action,
                "badge_id": stmt.excluded.badge_id,
                "reason": stmt.excluded.reason,
                "status": PENDING,
                "attempts": 0,
                "error": None,
                "created_at": stmt.excluded.created_at,
                "next_attempt_at": stmt.excluded.next_attempt_at,
                "version": C.version + 1,
            },
        )

    async def enqueue(self, changes: Sequence[NewRoleChange], now: datetime) -> None:
        rows: list[dict[str, Any]] = []
        for c in changes:
            if c.action is RoleAction.DELETE_ROLE:
                await self.cancel_role(c.guild_id, c.role_id)
                await self._s.execute(
                    ROLE_CHANGES.insert().values(
                        guild_id=c.guild_id,
                        role_id=c.role_id,
                        action=c.action.value,
                        user_id=None,
                        badge_id=c.badge_id,
                        reason=c.reason,
                        status=PENDING,
                        attempts=0,
                        created_at=now,
                        next_attempt_at=now,
                        version=0,
                    )
                )
                continue
            rows.append(
                {
                    "guild_id": c.guild_id,
                    "role_id": c.role_id,
                    "action": c.action.value,
                    "user_id": c.user_id,
                    "badge_id": c.badge_id,
                    "reason": c.reason,
                    "status": PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                    "version": 0,
                }
            )
        stmt = self._upsert()
        for start in range(0, len(rows), _CHUNK):
            await self._s.execute(stmt, rows[start : start + _CHUNK])

    async def enqueue_for_holders(
        self,
        guild_id: int,
        badge_id: str,
        role_id: int,
        action: RoleAction,
        reason: str | None,
        now: datetime,
    ) -> int:
        holders = select(
            A.guild_id,
            literal(role_id).label("role_id"),
            literal(action.value).label("action"),
            A.user_id,
            A.badge_id,
            literal(reason).label("reason"),
            literal(PENDING).label("status"),
            literal(0).label("attempts"),
            literal(now, C.created_at.type).label("created_at"),
            literal(now, C.next_attempt_at.type).label("next_attempt_at"),
            literal(0).label("version"),
        ).where(A.guild_id == guild_id, A.badge_id == badge_id)
        columns = [
            "guild_id", "role_id", "action", "user_id", "badge_id", "reason",
            "status", "attempts", "created_at", "next_attempt_at", "version",
        ]  # fmt: skip
        stmt = dialect_insert(self._dialect, ROLE_CHANGES).from_select(columns, holders)
        stmt = stmt.on_conflict_do_update(
            index_elements=_INTENT,
            set_={
                "action": stmt.excluded.action,
                "badge_id": stmt.excluded.badge_id,
                "reason": stmt.excluded.reason,
                "status": PENDING,
                "attempts": 0,
                "error": None,
                "created_at": stmt.excluded.created_at,
                "next_attempt_at": stmt.excluded.next_attempt_at,
                "version": C.version + 1,
            },
        )
        result = await self._s.execute(stmt)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def due(self, guild_id: int, now: datetime, limit: int) -> list[RoleChange]:
        stmt = (
            select(ROLE_CHANGES)
            .where(C.status == PENDING, C.guild_id == guild_id, C.next_attempt_at <= now)
            .order_by(C.next_attempt_at, C.id)
            .limit(limit)
        )
        return [_change(r) for r in (await self._s.execute(stmt)).all()]

    async def claim(
        self, guild_id: int, now: datetime, limit: int, holder: str, until: datetime
    ) -> list[RoleChange]:
        """Due changes nobody else holds, leased to ``holder`` until ``until``. On PostgreSQL
        ``FOR UPDATE SKIP LOCKED``: two processes claiming at once get different rows."""
        free = or_(C.lease_until.is_(None), C.lease_until < now, C.claimed_by == holder)
        pick = (
            select(C.id)
            .where(C.status == PENDING, C.guild_id == guild_id, C.next_attempt_at <= now, free)
            .order_by(C.next_attempt_at, C.id)
            .limit(limit)
        )
        if self._dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        ids = list((await self._s.scalars(pick)).all())
        if not ids:
            return []
        await self._s.execute(
            update(ROLE_CHANGES).where(C.id.in_(ids)).values(claimed_by=holder, lease_until=until)
        )
        rows = await self._s.execute(select(ROLE_CHANGES).where(C.id.in_(ids)))
        order = {change_id: n for n, change_id in enumerate(ids)}
        return sorted((_change(r) for r in rows.all()), key=lambda c: order[c.id])

    async def release(self, holder: str) -> int:
        result = await self._s.execute(
            update(ROLE_CHANGES).where(C.claimed_by == holder).values(**_RELEASED)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def renew(self, guild_id: int, holder: str, until: datetime) -> int:
        result = await self._s.execute(
            update(ROLE_CHANGES)
            .where(C.guild_id == guild_id, C.claimed_by == holder, C.status == PENDING)
            .values(lease_until=until)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def in_flight(
        self, guild_id: int, role_id: int, user_id: int | None = None
    ) -> tuple[set[int], set[int]]:
        stmt = select(C.user_id, C.action).where(
            C.guild_id == guild_id,
            C.role_id == role_id,
            C.status == PENDING,
            C.user_id.is_not(None) if user_id is None else C.user_id == user_id,
        )
        adding: set[int] = set()
        removing: set[int] = set()
        for uid, action in (await self._s.execute(stmt)).all():
            if uid is not None:
                (adding if action == RoleAction.ADD.value else removing).add(uid)
        return adding, removing

    def _this(self, change_id: int, version: int) -> Any:
        return and_(C.id == change_id, C.version == version)

    async def applied(self, change_id: int, version: int) -> bool:
        result = await self._s.execute(delete(ROLE_CHANGES).where(self._this(change_id, version)))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def retry_at(self, change_id: int, version: int, error: str, when: datetime) -> None:
        await self._s.execute(
            update(ROLE_CHANGES)
            .where(self._this(change_id, version))
            .values(
                attempts=C.attempts + 1,
                error=error,
                next_attempt_at=when,
                **_RELEASED,
            )
        )

    async def failed(self, change_id: int, version: int, error: str) -> None:
        await self._s.execute(
            update(ROLE_CHANGES)
            .where(self._this(change_id, version))
            .values(
                attempts=C.attempts + 1,
                error=error,
                status=FAILED,
                **_RELEASED,
            )
        )

    async def fail_role(
        self, guild_id: int, role_id: int, error: str, actions: Sequence[RoleAction]
    ) -> int:
        result = await self._s.execute(
            update(ROLE_CHANGES)
            .where(
                C.guild_id == guild_id,
                C.role_id == role_id,
                C.status == PENDING,
                C.action.in_([a.value for a in actions]),
            )
            .values(
                attempts=C.attempts + 1,
                error=error,
                status=FAILED,
                **_RELEASED,
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def requeue_failed(self, guild_id: int, now: datetime) -> int:
        failed = and_(C.guild_id == guild_id, C.status == FAILED)
        member = C.user_id.is_not(None)
        # what the awards say now: a failed add of someone who no longer holds the badge, or
        # a failed deletion of a role some badge uses again, is dropped, never replayed
        await self._s.execute(
            delete(ROLE_CHANGES).where(
                failed, member, C.action == RoleAction.ADD.value, ~_holds_role()
            )
        )
        await self._s.execute(
            delete(ROLE_CHANGES).where(
                failed, C.action == RoleAction.DELETE_ROLE.value, _role_linked()
            )
        )
        # a failed removal of someone who holds the badge again becomes an add
        await self._s.execute(
            update(ROLE_CHANGES)
            .where(failed, member, C.action == RoleAction.REMOVE.value, _holds_role())
            .values(action=RoleAction.ADD.value)
        )
        result = await self._s.execute(
            update(ROLE_CHANGES)
            .where(failed)
            .values(
                status=PENDING, error=None, attempts=0, next_attempt_at=now, version=C.version + 1
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def failures(self, guild_id: int, limit: int) -> list[RoleChange]:
        stmt = (
            select(ROLE_CHANGES)
            .where(C.guild_id == guild_id, C.status == FAILED)
            .order_by(C.id.desc())
            .limit(limit)
        )
        return [_change(r) for r in (await self._s.execute(stmt)).all()]

    async def counts(self, guild_id: int) -> tuple[int, int]:
        stmt = select(C.status, func.count()).where(C.guild_id == guild_id).group_by(C.status)
        by_status = {str(status): int(n) for status, n in (await self._s.execute(stmt)).all()}
        return by_status.get(PENDING, 0), by_status.get(FAILED, 0)

    async def progress(self, guild_id: int, badge_id: str) -> tuple[int, int]:
        stmt = (
            select(C.status, func.count())
            .where(C.guild_id == guild_id, C.badge_id == badge_id)
            .group_by(C.status)
        )
        by_status = {str(status): int(n) for status, n in (await self._s.execute(stmt)).all()}
        return by_status.get(PENDING, 0), by_status.get(FAILED, 0)

    async def guilds_due(self, now: datetime) -> list[int]:
        stmt = select(C.guild_id).where(C.status == PENDING, C.next_attempt_at <= now).distinct()
        return list((await self._s.scalars(stmt)).all())

    async def backlog(self) -> list[Backlog]:
        stmt = select(C.guild_id, C.status, func.count(), func.min(C.created_at)).group_by(
            C.guild_id, C.status
        )
        found: dict[int, Backlog] = {}
        for guild_id, status, count, oldest in (await self._s.execute(stmt)).all():
            seen = found.get(guild_id) or Backlog(guild_id, 0, 0, None)
            if status == PENDING:
                seen = replace(seen, pending=int(count), oldest_pending=oldest)
            elif status == FAILED:
                seen = replace(seen, failed=int(count))
            found[guild_id] = seen
        return list(found.values())

    async def next_attempts(self, guild_id: int | None = None) -> dict[int, datetime]:
        stmt = (
            select(C.guild_id, func.min(C.next_attempt_at))
            .where(C.status == PENDING)
            .group_by(C.guild_id)
        )
        if guild_id is not None:
            stmt = stmt.where(C.guild_id == guild_id)
        return {int(g): at for g, at in (await self._s.execute(stmt)).all()}

    async def cancel_role(
        self, guild_id: int, role_id: int, actions: Sequence[RoleAction] | None = None
    ) -> int:
        where = [C.guild_id == guild_id, C.role_id == role_id]
        if actions is not None:
            where.append(C.action.in_([a.value for a in actions]))
        result = await self._s.execute(delete(ROLE_CHANGES).where(*where))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def drop_guild(self, guild_id: int) -> int:
        result = await self._s.execute(delete(ROLE_CHANGES).where(C.guild_id == guild_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
