"""Guild settings and level roles in SQL. Never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from badges.model import GuildSettings, RoleDrift
from badges.permissions import Level
from db.repositories import dialect_insert
from db.tables import GUILD_SETTINGS, LEVEL_ROLES

G = GUILD_SETTINGS.c
L = LEVEL_ROLES.c


class SqlSettingsRepository:
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._s = session
        self._dialect = dialect

    async def get(self, guild_id: int) -> GuildSettings:
        row = (
            await self._s.execute(
                select(G.log_channel_id, G.role_drift, G.api_public_reads).where(
                    G.guild_id == guild_id
                )
            )
        ).first()
        log_channel, drift = (row[0], RoleDrift(row[1])) if row else (None, RoleDrift.REVERT)
        public_reads = bool(row[2]) if row else True
        roles = (
            await self._s.execute(select(L.role_id, L.level).where(L.guild_id == guild_id))
        ).all()
        return GuildSettings(
            guild_id=guild_id,
            admin_role_ids=frozenset(r for r, lv in roles if lv == Level.ADMIN),
            moderator_role_ids=frozenset(r for r, lv in roles if lv == Level.MODERATOR),
            log_channel_id=log_channel,
            role_drift=drift,
            api_public_reads=public_reads,
        )

    async def set_role_level(self, guild_id: int, role_id: int, level: Level | None) -> None:
        await self._s.execute(
            delete(LEVEL_ROLES).where(L.guild_id == guild_id, L.role_id == role_id)
        )
        if level is not None:
            await self._s.execute(
                insert(LEVEL_ROLES).values(guild_id=guild_id, role_id=role_id, level=int(level))
            )

    async def set_role_drift(self, guild_id: int, drift: RoleDrift) -> None:
        await self._upsert(guild_id, role_drift=drift.value)

    async def set_api_public_reads(self, guild_id: int, public: bool) -> None:
        await self._upsert(guild_id, api_public_reads=public)

    async def set_log_channel(self, guild_id: int, channel_id: int | None) -> None:
        await self._upsert(guild_id, log_channel_id=channel_id)

    async def _upsert(self, guild_id: int, **values: Any) -> None:
        stmt = dialect_insert(self._dialect, GUILD_SETTINGS).values(guild_id=guild_id, **values)
        await self._s.execute(stmt.on_conflict_do_update(index_elements=["guild_id"], set_=values))
