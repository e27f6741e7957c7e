"""The engine, its backend quirks, and the unit-of-work factory the service is given."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from db.unit_of_work import SqlUnitOfWork

_WRITE = "badgebot_write"


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Foreign keys on, WAL so readers never wait for the writer, and transactions we begin
    ourselves: BEGIN IMMEDIATE for writers, so two processes never deadlock on upgrade."""

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Database:
    """Owns the engine; calling it opens a unit of work (one transaction).

    SQLite has a single writer: write units take an in-process lock first, so concurrent
    commands queue in asyncio instead of spinning on SQLITE_BUSY.
    """

    def __init__(
        self, url: str, *, echo: bool = False, pool_size: int = 10, pool_timeout: float = 30.0
    ) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        # a unit of work that waits longer than pool_timeout for a connection raises Busy
        kwargs: dict[str, Any] = {"echo": echo, "pool_timeout": pool_timeout}
        if self.dialect != "sqlite":
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine = create_async_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def on_dispose(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run ``closer`` before the engine is disposed (connections held outside the pool)."""
        self._closers.append(closer)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction on a bare connection, for adapter bookkeeping outside the
        domain (idempotency keys); it commits when the block ends without an error."""
        if self._write_lock is not None:
            await self._write_lock.acquire()
        try:
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(**{_WRITE: True})
                async with conn.begin():
                    yield conn
        finally:
            if self._write_lock is not None:
                self._write_lock.release()

    def __call__(self, *, write: bool) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self._sessions,
            dialect=self.dialect,
            options={_WRITE: True} if write else {},
            lock=self._write_lock if write else None,
        )

    async def dispose(self) -> None:
        closers, self._closers = self._closers, []
        for closer in closers:
            await closer()
        await self.engine.dispose()
