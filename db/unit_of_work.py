"""One transaction, with the repositories bound to it."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from badges.ports import (
    AuditLog,
    AwardRepository,
    BadgeRepository,
    GateRepository,
    RoleQueue,
    SettingsRepository,
)
from db.repositories import (
    SqlAuditLog,
    SqlAwardRepository,
    SqlBadgeRepository,
    SqlSettingsRepository,
)
from db.role_queue import SqlGateRepository, SqlRoleQueue


class SqlUnitOfWork:
    """Implements badges.ports.UnitOfWork over one AsyncSession."""

    badges: BadgeRepository
    awards: AwardRepository
    audit: AuditLog
    settings: SettingsRepository
    role_queue: RoleQueue
    gates: GateRepository

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        dialect: str,
        options: dict[str, Any],
        lock: asyncio.Lock | None,
    ) -> None:
        self._sessions = sessions
        self._dialect = dialect
        self._options = options
        self._lock = lock
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        if self._lock is not None:
            await self._lock.acquire()
        session = self._sessions()
        try:
            await session.connection(execution_options=self._options)
        except BaseException:
            await _close(session)
            if self._lock is not None:
                self._lock.release()
            raise
        self._session = session
        self.badges = SqlBadgeRepository(session, self._dialect)
        self.awards = SqlAwardRepository(session, self._dialect)
        self.audit = SqlAuditLog(session)
        self.settings = SqlSettingsRepository(session, self._dialect)
        self.role_queue = SqlRoleQueue(session)
        self.gates = SqlGateRepository(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        session, self._session = self._session, None
        try:
            await _close(session)  # rolls back what was not committed
        finally:
            if self._lock is not None:
                self._lock.release()

    async def commit(self) -> None:
        assert self._session is not None
        await self._session.commit()


async def _close(session: AsyncSession) -> None:
    """Roll back and give the connection back, even if the rollback fails or is cancelled."""
    try:
        await session.rollback()
    finally:
        await asyncio.shield(session.close())
