"""One transaction, with the repositories bound to it."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Self

import sqlalchemy.exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from badges.errors import Busy
from badges.ports import (
    ActivityRepository,
    ApiTokenRepository,
    AuditLog,
    AwardRepository,
    BadgeRepository,
    GateRepository,
    GiftRepository,
    PolicyRepository,
    RoleQueue,
    RuleRepository,
    SettingsRepository,
    WebhookRepository,
)
from db.activity import SqlActivityRepository
from db.api_tokens import SqlApiTokenRepository
from db.audit_log import SqlAuditLog
from db.automation import SqlGiftRepository, SqlPolicyRepository, SqlRuleRepository
from db.gates import SqlGateRepository
from db.guild_settings import SqlSettingsRepository
from db.repositories import SqlAwardRepository, SqlBadgeRepository
from db.role_queue import SqlRoleQueue
from db.webhooks import SqlWebhookRepository

CHANGES_CHANNEL = "badgebot_changes"


class SqlUnitOfWork:
    """Implements badges.ports.UnitOfWork over one AsyncSession."""

    badges: BadgeRepository
    awards: AwardRepository
    audit: AuditLog
    settings: SettingsRepository
    role_queue: RoleQueue
    gates: GateRepository
    api_tokens: ApiTokenRepository
    webhooks: WebhookRepository
    activity: ActivityRepository
    rules: RuleRepository
    policies: PolicyRepository
    gifts: GiftRepository

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
        except BaseException as exc:
            await _close(session)
            if self._lock is not None:
                self._lock.release()
            if isinstance(exc, sqlalchemy.exc.TimeoutError):  # no connection free in time
                raise Busy() from exc
            raise
        self._session = session
        self.badges = SqlBadgeRepository(session, self._dialect)
        self.awards = SqlAwardRepository(session, self._dialect)
        self.audit = SqlAuditLog(session)
        self.settings = SqlSettingsRepository(session, self._dialect)
        self.role_queue = SqlRoleQueue(session, self._dialect)
        self.gates = SqlGateRepository(session)
        self.api_tokens = SqlApiTokenRepository(session)
        self.webhooks = SqlWebhookRepository(session, self._dialect)
        self.activity = SqlActivityRepository(session, self._dialect)
        self.rules = SqlRuleRepository(session)
        self.policies = SqlPolicyRepository(session, self._dialect)
        self.gifts = SqlGiftRepository(session, self._dialect)
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

    async def lock(self, key: int) -> None:
        """PostgreSQL: a transaction-scoped advisory lock on ``key`` (a guild or channel id:
        snowflakes are unique across Discord, so keys never collide). SQLite serialises
        writers already."""
        assert self._session is not None
        if self._dialect == "postgresql":
            await self._session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    async def announce(self) -> None:
        """PostgreSQL: NOTIFY the change feed's channel; delivered when the transaction commits."""
        assert self._session is not None
        if self._dialect == "postgresql":
            await self._session.execute(text(f"NOTIFY {CHANGES_CHANNEL}"))

    async def commit(self) -> None:
        assert self._session is not None
        await self._session.commit()


async def _close(session: AsyncSession) -> None:
    """Roll back and give the connection back, even if the rollback fails or is cancelled."""
    try:
        await session.rollback()
    finally:
        await asyncio.shield(session.close())
