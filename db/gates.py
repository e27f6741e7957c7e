"""Gates in SQL: channels opened by a badge's role, with the overwrites they had before."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from badges.model import Gate, Overwrite
from db.tables import GATES

T = GATES.c


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
            insert(GATES).values(
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
            delete(GATES)
            .where(T.guild_id == guild_id, T.badge_id == badge_id, T.channel_id == channel_id)
            .returning(*GATES.columns)
        )
        row = (await self._s.execute(stmt)).first()
        return None if row is None else _gate(row)

    async def _where(self, *where: Any, lock: bool = False) -> list[Gate]:
        stmt = select(GATES).where(*where).order_by(T.channel_id, T.badge_id)
        if lock:
            stmt = stmt.with_for_update()
        return [_gate(r) for r in (await self._s.execute(stmt)).all()]

    async def of_badge(self, guild_id: int, badge_id: str) -> list[Gate]:
        return await self._where(T.guild_id == guild_id, T.badge_id == badge_id)

    async def of_channel(self, guild_id: int, channel_id: int, *, lock: bool = False) -> list[Gate]:
        return await self._where(T.guild_id == guild_id, T.channel_id == channel_id, lock=lock)

    async def of_role(self, guild_id: int, role_id: int) -> list[Gate]:
        return await self._where(T.guild_id == guild_id, T.role_id == role_id)

    async def of_guild(self, guild_id: int) -> list[Gate]:
        return await self._where(T.guild_id == guild_id)
