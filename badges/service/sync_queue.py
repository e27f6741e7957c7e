"""The role-sync queue as the worker sees it: what is due, and what became of each change.

Each change carries the version of the intent it was read at; an outcome reported for an old
version is ignored, because a newer decision replaced it meanwhile (the latest decision wins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from badges.model import Backlog, EventKind, NewEvent, RoleAction, RoleChange
from badges.permissions import Actor, Operation, authorize
from badges.role_rules import Problem
from badges.service.core import DISCORD, ServiceCore
from badges.service.role_links import RoleLinks


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the role changes of one badge are: waiting, failed, and the latest reason."""

    pending: int
    failed: int
    error: str | None = None


LEASE = 30.0
"""Seconds a process holds the role changes it claimed; it renews them while it works."""


class SyncQueue:
    def __init__(self, core: ServiceCore, roles: RoleLinks) -> None:
        self._core = core
        self._roles = roles

    async def due(self, guild_id: int, *, limit: int = 50) -> list[RoleChange]:
        """The next role changes the sync worker should apply in this guild."""
        async with self._core.read() as uow:
            return await uow.role_queue.due(guild_id, self._core.clock(), limit)

    async def claim(
        self, guild_id: int, holder: str, *, limit: int = 50, lease: float = LEASE
    ) -> list[RoleChange]:
        """The next role changes ``holder`` (one bot process) should apply in this guild,
        leased to it for ``lease`` seconds: no other process takes them meanwhile, and a
        process that dies leaves them to whoever claims after the lease ran out."""
        now = self._core.clock()
        async with self._core.write() as tx:
            return await tx.uow.role_queue.claim(
                guild_id, now, limit, holder, now + timedelta(seconds=lease)
            )

    async def release(self, holder: str) -> int:
        """``holder`` stops: its claims are free for the next process at once."""
        async with self._core.write() as tx:
            return await tx.uow.role_queue.release(holder)

    async def renew(self, guild_id: int, holder: str, *, lease: float = LEASE) -> int:
        """Keep ``holder``'s claims in the guild for another ``lease`` seconds."""
        until = self._core.clock() + timedelta(seconds=lease)
        async with self._core.write() as tx:
            return await tx.uow.role_queue.renew(guild_id, holder, until)

    async def guilds_due(self) -> list[int]:
        async with self._core.read() as uow:
            return await uow.role_queue.guilds_due(self._core.clock())

    async def backlog(self) -> list[Backlog]:
        """Every guild with changes waiting or failed (monitoring)."""
        async with self._core.read() as uow:
            return await uow.role_queue.backlog()

    async def next_attempts(self, guild_id: int | None = None) -> dict[int, float]:
        """Seconds until the earliest pending change of each guild (or only of ``guild_id``)
        is due; zero or less when it is due already. Guilds with nothing pending are absent."""
        async with self._core.read() as uow:
            found = await uow.role_queue.next_attempts(guild_id)
        now = self._core.clock()
        return {g: (at - now).total_seconds() for g, at in found.items()}

    async def problem(self, change: RoleChange) -> Problem | None:
        """Why this change must not be applied now (the bot cannot, or the role gained power
        since it was linked), or None. Asked before applying, so that Discord is not asked
        for what it will refuse."""
        async with self._core.read() as uow:
            badge = await uow.badges.by_role(change.guild_id, change.role_id)
        return await self._roles.change_problem(
            badge, change.guild_id, change.role_id, change.action
        )

    async def applied(self, change: RoleChange) -> bool:
        """Discord accepted the change. False if a newer intent replaced it meanwhile (that
        one stays queued and is applied next)."""
        async with self._core.write() as tx:
            return await tx.uow.role_queue.applied(change.id, change.version)

    async def retry(self, change: RoleChange, error: str, delay: float) -> None:
        """A temporary failure (rate limit, Discord error): try again after ``delay`` s."""
        when = self._core.clock() + timedelta(seconds=delay)
        async with self._core.write() as tx:
            await tx.uow.role_queue.retry_at(change.id, change.version, error[:1000], when)

    async def failed(self, changes: Sequence[RoleChange], error: str) -> None:
        """Permanent failures: kept with their reason for admins, never retried in a loop."""
        if not changes:
            return
        async with self._core.write() as tx:
            for change in changes:
                await tx.uow.role_queue.failed(change.id, change.version, error[:1000])
            tx.record_all(self._failure_event(c.guild_id, c, error) for c in changes)

    async def blocked(
        self,
        guild_id: int,
        role_id: int,
        error: str,
        actions: Sequence[RoleAction] = tuple(RoleAction),
    ) -> int:
        """Discord will refuse these changes of the role until an admin fixes the cause: fail
        them all at once (one log entry, no requests that count against the bot)."""
        async with self._core.write() as tx:
            failed = await tx.uow.role_queue.fail_role(guild_id, role_id, error[:1000], actions)
            if failed:
                tx.record(
                    self._failure_event(
                        guild_id, None, error, after={"role_id": role_id, "changes": failed}
                    )
                )
        return failed

    def _failure_event(
        self,
        guild_id: int,
        change: RoleChange | None,
        error: str,
        after: dict[str, object] | None = None,
    ) -> NewEvent:
        if change is not None:
            after = {"role_id": change.role_id, "action": change.action.value}
        return NewEvent(
            guild_id=guild_id,
            kind=EventKind.ROLE_SYNC_FAILED,
            actor_id=DISCORD.user_id,
            actor_name=DISCORD.display_name,
            at=self._core.clock(),
            badge_id=change.badge_id if change else None,
            user_id=change.user_id if change else None,
            reason=error[:500],
            after=after,
        )

    async def retry_failed(self, actor: Actor, guild_id: int) -> int:
        """Queue the guild's failed role changes again (after the cause was fixed), each
        re-derived from the awards as they are now: a failed add of a member who lost the
        badge since is dropped, never replayed."""
        authorize(actor, Operation.SYNC_ROLES)
        async with self._core.write() as tx:
            retried = await tx.uow.role_queue.requeue_failed(guild_id, self._core.clock())
            if retried:
                tx.queued_in(guild_id)
        return retried

    async def status(
        self, guild_id: int, *, failures: int = 10
    ) -> tuple[int, int, list[RoleChange]]:
        """(pending, failed, the latest failures) of the guild's role sync."""
        async with self._core.read() as uow:
            pending, failed = await uow.role_queue.counts(guild_id)
            latest = await uow.role_queue.failures(guild_id, failures)
        return pending, failed, latest

    async def progress(self, guild_id: int, badge_id: str) -> Progress:
        async with self._core.read() as uow:
            pending, failed = await uow.role_queue.progress(guild_id, badge_id)
            error = None
            if failed:
                latest = [
                    c for c in await uow.role_queue.failures(guild_id, 50) if c.badge_id == badge_id
                ]
                error = latest[0].error if latest else None
        return Progress(pending, failed, error)

    async def drop_guild(self, guild_id: int) -> int:
        """Forget every queued change of a guild the bot was removed from."""
        async with self._core.write() as tx:
            return await tx.uow.role_queue.drop_guild(guild_id)
