"""What every area of the service shares: the unit of work, the clock, ids, the directory of
Discord facts, and one transaction helper that opens, writes, records, commits and publishes.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from badges.errors import BadgeNotFound, InvalidInput
from badges.model import AuditEvent, Award, Badge, EventKind, NewEvent, NewRoleChange, RoleAction
from badges.permissions import Actor, Level
from badges.ports import Directory, NoDirectory, UnitOfWork, UnitOfWorkFactory
from badges.webhooks import STRICT, Resolver, UrlPolicy
from badges.webhooks import resolve as resolve_host

log = logging.getLogger("badges.service")

MAX_PAGE = 100
DISCORD = Actor(0, "Discord", Level.SUPER_ADMIN)
"""The actor of changes that come from Discord itself (a role edited by hand, deleted)."""

Listener = Callable[[Sequence[AuditEvent]], Awaitable[None]]
"""Called with the events of every committed change, as recorded (with their ids)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def page_bounds(offset: int, limit: int, most: int = MAX_PAGE) -> tuple[int, int]:
    if offset < 0:
        raise InvalidInput("offset", "The offset cannot be negative.")
    if not 1 <= limit <= most:
        raise InvalidInput("limit", f"The page size must be between 1 and {most}.")
    return offset, limit


WALK_MAX = 100


def walk_bounds(limit: int) -> int:
    if not 1 <= limit <= WALK_MAX:
        raise InvalidInput("limit", f"The page size must be between 1 and {WALK_MAX}.")
    return limit


def keyset(key: tuple[Any, ...] | None, types: tuple[type, ...]) -> Any:
    """A walk's key as the repository needs it; refused if it is not of the walk's shape
    (a cursor from another list)."""
    if key is None:
        return None
    if len(key) != len(types) or not all(_key_part(v, t) for v, t in zip(key, types, strict=True)):
        raise InvalidInput("cursor", "The cursor does not belong to this list.")
    return tuple(key)


def _key_part(value: Any, kind: type) -> bool:
    if kind is int:
        return type(value) is int and 0 <= value < 2**63
    if kind is str:
        return isinstance(value, str) and len(value) <= 64 and value.isprintable()
    return isinstance(value, kind)


class Tx:
    """One write transaction: the unit of work plus what it will record and publish."""

    def __init__(self, core: ServiceCore, uow: UnitOfWork) -> None:
        self.core = core
        self.uow = uow
        self.events: list[NewEvent] = []
        self.queued: set[int] = set()
        self.recorded: list[AuditEvent] = []

    def record(self, *events: NewEvent) -> None:
        self.events.extend(events)

    def record_all(self, events: Iterable[NewEvent]) -> None:
        self.events.extend(events)

    def queued_in(self, guild_id: int) -> None:
        """The transaction added role changes of this guild: wake its role sync at commit."""
        self.queued.add(guild_id)

    async def queue_role(
        self, badge: Badge, action: RoleAction, user_ids: Sequence[int], reason: str | None
    ) -> None:
        """Queue the role changes an award or revocation implies, in this transaction."""
        if badge.role_id is None or not user_ids:
            return
        changes = [
            NewRoleChange(badge.guild_id, badge.role_id, action, uid, badge.id, reason)
            for uid in user_ids
        ]
        await self.uow.role_queue.enqueue(changes, self.core.clock())
        self.queued_in(badge.guild_id)

    async def badge(self, guild_id: int, badge_id: str, *, lock: bool = True) -> Badge:
        """The badge, locked until commit: what is decided from it stays true (PostgreSQL)."""
        badge = await self.uow.badges.get(guild_id, badge_id, lock=lock)
        if badge is None:
            raise BadgeNotFound()
        return badge


class ServiceCore:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        directory: Directory | None = None,
        clock: Callable[[], datetime] = utcnow,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        url_policy: UrlPolicy = STRICT,
        resolve: Resolver = resolve_host,
    ) -> None:
        self.uow = uow
        self.url_policy = url_policy
        """Where webhooks may go (only public https addresses, unless a test says otherwise)."""
        self.resolve = resolve
        self.directory: Directory = directory or NoDirectory()
        self.clock = clock
        self.new_id = new_id
        self.listeners: list[Listener] = []
        self.queue_watchers: list[Callable[[int], None]] = []
        self.outbox_watchers: list[Callable[[], None]] = []

    @asynccontextmanager
    async def read(self) -> AsyncIterator[UnitOfWork]:
        async with self.uow(write=False) as uow:
            yield uow

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        """Open a write transaction. Leaving the block normally records the events, commits,
        wakes the role sync of guilds with new role changes and the webhook sender if webhook
        deliveries were queued (none for a guild without webhooks), and publishes the events; an
        exception rolls everything back and publishes nothing."""
        deliveries = 0
        async with self.uow(write=True) as uow:
            tx = Tx(self, uow)
            yield tx
            if tx.events:
                tx.recorded = await uow.audit.record(tx.events)
                deliveries = await uow.webhooks.enqueue(tx.recorded, self.clock())
                await uow.announce()
            await uow.commit()
        for guild_id in tx.queued:
            self.wake_role_sync(guild_id)
        if deliveries:
            self.wake_outbox()
        if tx.recorded:
            await self.publish(tx.recorded)

    def wake_role_sync(self, guild_id: int) -> None:
        for watcher in list(self.queue_watchers):
            try:
                watcher(guild_id)
            except Exception:  # the change is committed; the sweep will find it anyway
                log.exception("role queue watcher %r failed", watcher)

    def wake_outbox(self) -> None:
        for watcher in list(self.outbox_watchers):
            try:
                watcher()
            except Exception:  # the deliveries are committed; the sender's timer finds them
                log.exception("webhook outbox watcher %r failed", watcher)

    async def publish(self, events: Sequence[AuditEvent]) -> None:
        for listener in list(self.listeners):
            try:
                await listener(events)
            except Exception:  # a listener must never undo a committed change
                log.exception("badge event listener %r failed", listener)

    def new_award(self, actor: Actor, badge: Badge, user_id: int, reason: str | None) -> Award:
        return Award(
            id=self.new_id(),
            guild_id=badge.guild_id,
            badge_id=badge.id,
            user_id=user_id,
            awarded_by_id=actor.user_id,
            awarded_by_name=actor.display_name,
            reason=reason,
            awarded_at=self.clock(),
        )

    def event(
        self,
        actor: Actor,
        kind: EventKind,
        badge: Badge | None,
        *,
        guild_id: int | None = None,
        user_id: int | None = None,
        reason: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> NewEvent:
        gid = badge.guild_id if badge is not None else guild_id
        assert gid is not None
        return NewEvent(
            guild_id=gid,
            kind=kind,
            actor_id=actor.user_id,
            actor_name=actor.display_name,
            at=self.clock(),
            badge_id=badge.id if badge else None,
            badge_name=badge.name if badge else None,
            user_id=user_id,
            reason=reason,
            before=before,
            after=after,
        )


async def badge_names(uow: UnitOfWork, guild_id: int) -> dict[str, str]:
    """badge id -> name, for the guild."""
    return {badge_id: name for name, badge_id in await uow.badges.id_names(guild_id)}


def plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
