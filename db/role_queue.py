"""The role-change outbox and the gates, in SQL. Like every repository, they never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from badges.model import Gate, NewRoleChange, Overwrite, RoleAction, RoleChange
from db.tables import AwardRow, GateRow, RoleChangeRow

PENDING = "pending"
FAILED = "failed"
_CHUNK = 500


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
    )


class SqlRoleQueue:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def _supersede(self, guild_id: int, role_id: int, user_ids: Sequence[int]) -> None:
        """A new change for a member and role replaces a pending one: adding and removing a
        role state what the member should have, so only the latest counts. (Without this a
        retried add could land after a later remove.)"""
        for start in range(0, len(user_ids), _CHUNK):
            await self._s.execute(
                delete(RoleChangeRow).where(
                    RoleChangeRow.guild_id == guild_id,
                    RoleChangeRow.role_id == role_id,
                    RoleChangeRow.status == PENDING,
                    RoleChangeRow.user_id.in_(user_ids[start : start + _CHUNK]),
                )
            )

    async def enqueue(self, changes: Sequence[NewRoleChange], now: datetime) -> None:
        by_role: dict[tuple[int, int], list[int]] = {}
        for c in changes:
            if c.action is RoleAction.DELETE_ROLE:
                await self.cancel_role(c.guild_id, c.role_id)
            elif c.user_id is not None:
                by_role.setdefault((c.guild_id, c.role_id), []).append(c.user_id)
        for (guild_id, role_id), user_ids in by_role.items():
            await self._supersede(guild_id, role_id, user_ids)
        rows = [
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
            }
            for c in changes
        ]
        for start in range(0, len(rows), _CHUNK):
            await self._s.execute(insert(RoleChangeRow), rows[start : start + _CHUNK])

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
            AwardRow.guild_id,
            literal(role_id).label("role_id"),
            literal(action.value).label("action"),
            AwardRow.user_id,
            AwardRow.badge_id,
            literal(reason).label("reason"),
            literal(PENDING).label("status"),
            literal(0).label("attempts"),
            literal(now, RoleChangeRow.created_at.type).label("created_at"),
            literal(now, RoleChangeRow.next_attempt_at.type).label("next_attempt_at"),
        ).where(AwardRow.guild_id == guild_id, AwardRow.badge_id == badge_id)
        await self._s.execute(
            delete(RoleChangeRow).where(
                RoleChangeRow.guild_id == guild_id,
                RoleChangeRow.role_id == role_id,
                RoleChangeRow.status == PENDING,
                RoleChangeRow.user_id.in_(
                    select(AwardRow.user_id).where(
                        AwardRow.guild_id == guild_id, AwardRow.badge_id == badge_id
                    )
                ),
            )
        )
        columns = [
            "guild_id", "role_id", "action", "user_id", "badge_id", "reason",
            "status", "attempts", "created_at", "next_attempt_at",
        ]  # fmt: skip
        result = await self._s.execute(insert(RoleChangeRow).from_select(columns, holders))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def due(self, guild_id: int, now: datetime, limit: int) -> list[RoleChange]:
        stmt = (
            select(RoleChangeRow.__table__)
            .where(
                RoleChangeRow.status == PENDING,
                RoleChangeRow.guild_id == guild_id,
                RoleChangeRow.next_attempt_at <= now,
            )
            .order_by(RoleChangeRow.id)
            .limit(limit)
        )
        return [_change(r) for r in (await self._s.execute(stmt)).all()]

    async def in_flight(
        self, guild_id: int, role_id: int, user_id: int | None = None
    ) -> tuple[set[int], set[int]]:
        stmt = select(RoleChangeRow.user_id, RoleChangeRow.action).where(
            RoleChangeRow.guild_id == guild_id,
            RoleChangeRow.role_id == role_id,
            RoleChangeRow.status == PENDING,
            RoleChangeRow.user_id.is_not(None)
            if user_id is None
            else RoleChangeRow.user_id == user_id,
        )
        adding: set[int] = set()
        removing: set[int] = set()
        for user_id, action in (await self._s.execute(stmt)).all():
            if user_id is not None:
                (adding if action == RoleAction.ADD.value else removing).add(user_id)
        return adding, removing

    async def applied(self, change_id: int) -> None:
        await self._s.execute(delete(RoleChangeRow).where(RoleChangeRow.id == change_id))

    async def retry_at(self, change_id: int, error: str, when: datetime) -> None:
        await self._s.execute(
            update(RoleChangeRow)
            .where(RoleChangeRow.id == change_id)
            .values(attempts=RoleChangeRow.attempts + 1, error=error, next_attempt_at=when)
        )

    async def failed(self, change_id: int, error: str) -> None:
        await self._s.execute(
            update(RoleChangeRow)
            .where(RoleChangeRow.id == change_id)
            .values(attempts=RoleChangeRow.attempts + 1, error=error, status=FAILED)
        )

    async def fail_role(self, guild_id: int, role_id: int, error: str) -> int:
        result = await self._s.execute(
            update(RoleChangeRow)
            .where(
                RoleChangeRow.guild_id == guild_id,
                RoleChangeRow.role_id == role_id,
                RoleChangeRow.status == PENDING,
            )
            .values(attempts=RoleChangeRow.attempts + 1, error=error, status=FAILED)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def retry_failed(self, guild_id: int, now: datetime) -> int:
        result = await self._s.execute(
            update(RoleChangeRow)
            .where(RoleChangeRow.guild_id == guild_id, RoleChangeRow.status == FAILED)
            .values(status=PENDING, error=None, next_attempt_at=now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def failures(self, guild_id: int, limit: int) -> list[RoleChange]:
        stmt = (
            select(RoleChangeRow.__table__)
            .where(RoleChangeRow.guild_id == guild_id, RoleChangeRow.status == FAILED)
            .order_by(RoleChangeRow.id.desc())
            .limit(limit)
        )
        return [_change(r) for r in (await self._s.execute(stmt)).all()]

    async def counts(self, guild_id: int) -> tuple[int, int]:
        stmt = (
            select(RoleChangeRow.status, func.count())
            .where(RoleChangeRow.guild_id == guild_id)
            .group_by(RoleChangeRow.status)
        )
        by_status = {str(status): int(n) for status, n in (await self._s.execute(stmt)).all()}
        return by_status.get(PENDING, 0), by_status.get(FAILED, 0)

    async def pending_for_badge(self, guild_id: int, badge_id: str) -> int:
        stmt = select(func.count()).where(
            RoleChangeRow.guild_id == guild_id,
            RoleChangeRow.badge_id == badge_id,
            RoleChangeRow.status == PENDING,
        )
        return int((await self._s.execute(stmt)).scalar_one())

    async def guilds_due(self, now: datetime) -> list[int]:
        stmt = (
            select(RoleChangeRow.guild_id)
            .where(RoleChangeRow.status == PENDING, RoleChangeRow.next_attempt_at <= now)
            .distinct()
        )
        return list((await self._s.scalars(stmt)).all())

    async def cancel_role(self, guild_id: int, role_id: int) -> int:
        result = await self._s.execute(
            delete(RoleChangeRow).where(
                RoleChangeRow.guild_id == guild_id,
                RoleChangeRow.role_id == role_id,
                RoleChangeRow.status == PENDING,
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def drop_guild(self, guild_id: int) -> int:
        result = await self._s.execute(
            delete(RoleChangeRow).where(RoleChangeRow.guild_id == guild_id)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def clear_failures(self, guild_id: int) -> int:
        result = await self._s.execute(
            delete(RoleChangeRow).where(
                RoleChangeRow.guild_id == guild_id, RoleChangeRow.status == FAILED
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _overwrite(data: dict[str, Any] | None) -> Overwrite | None:
    return None if data is None else Overwrite(allow=int(data["allow"]), deny=int(data["deny"]))


def _raw(overwrite: Overwrite | None) -> dict[str, Any] | None:
    if overwrite is None:
        return None
    # as strings: permission bit sets exceed what JSON numbers carry safely
    return {"allow": str(overwrite.allow), "deny": str(overwrite.deny)}


def _gate(row: Row[Any]) -> Gate:
    return Gate(
        guild_id=row.guild_id,
        badge_id=row.badge_id,
        channel_id=row.channel_id,
        role_id=row.role_id,
        everyone_before=_overwrite(row.everyone_before),
        role_before=_overwrite(row.role_before),
    )


class SqlGateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, gate: Gate) -> None:
        await self._s.execute(
            insert(GateRow).values(
                guild_id=gate.guild_id,
                badge_id=gate.badge_id,
                channel_id=gate.channel_id,
                role_id=gate.role_id,
                everyone_before=_raw(gate.everyone_before),
                role_before=_raw(gate.role_before),
            )
        )

    async def remove(self, guild_id: int, badge_id: str, channel_id: int) -> Gate | None:
        stmt = (
            delete(GateRow)
            .where(
                GateRow.guild_id == guild_id,
                GateRow.badge_id == badge_id,
                GateRow.channel_id == channel_id,
            )
            .returning(*GateRow.__table__.columns)
        )
        row = (await self._s.execute(stmt)).first()
        return None if row is None else _gate(row)

    async def _where(self, *where: Any) -> list[Gate]:
        stmt = select(GateRow.__table__).where(*where).order_by(GateRow.channel_id)
        return [_gate(r) for r in (await self._s.execute(stmt)).all()]

    async def of_badge(self, guild_id: int, badge_id: str) -> list[Gate]:
        return await self._where(GateRow.guild_id == guild_id, GateRow.badge_id == badge_id)

    async def of_channel(self, guild_id: int, channel_id: int) -> list[Gate]:
        return await self._where(GateRow.guild_id == guild_id, GateRow.channel_id == channel_id)

    async def of_guild(self, guild_id: int) -> list[Gate]:
        return await self._where(GateRow.guild_id == guild_id)
