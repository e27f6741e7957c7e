"""API tokens in SQL: the hash of each secret, never the secret."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from badges.model import ApiToken
from badges.permissions import Level
from db.tables import API_TOKENS

T = API_TOKENS.c
_COLUMNS = (
    T.id,
    T.guild_id,
    T.name,
    T.level,
    T.created_by,
    T.created_by_name,
    T.created_at,
    T.revoked_at,
)


def _token(row: Any) -> ApiToken:
    return ApiToken(
        id=row.id,
        guild_id=row.guild_id,
        name=row.name,
        level=Level(row.level),
        created_by=row.created_by,
        created_by_name=row.created_by_name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class SqlApiTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, token: ApiToken, secret_hash: str) -> ApiToken:
        stmt = (
            insert(API_TOKENS)
            .values(
                guild_id=token.guild_id,
                name=token.name,
                level=int(token.level),
                secret_hash=secret_hash,
                created_by=token.created_by,
                created_by_name=token.created_by_name,
                created_at=token.created_at,
            )
            .returning(*_COLUMNS)
        )
        return _token((await self._s.execute(stmt)).one())

    async def by_hash(self, secret_hash: str) -> ApiToken | None:
        row = (await self._s.execute(select(*_COLUMNS).where(T.secret_hash == secret_hash))).first()
        return None if row is None else _token(row)

    async def get(self, guild_id: int, token_id: int) -> ApiToken | None:
        stmt = select(*_COLUMNS).where(T.guild_id == guild_id, T.id == token_id)
        row = (await self._s.execute(stmt)).first()
        return None if row is None else _token(row)

    async def of_guild(self, guild_id: int) -> list[ApiToken]:
        stmt = (
            select(*_COLUMNS)
            .where(T.guild_id == guild_id, T.revoked_at.is_(None))
            .order_by(T.created_at, T.id)
        )
        return [_token(r) for r in (await self._s.execute(stmt)).all()]

    async def revoke(self, guild_id: int, token_id: int, at: datetime) -> bool:
        stmt = (
            update(API_TOKENS)
            .where(T.guild_id == guild_id, T.id == token_id, T.revoked_at.is_(None))
            .values(revoked_at=at)
            .returning(T.id)
        )
        return (await self._s.execute(stmt)).first() is not None
