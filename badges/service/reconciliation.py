"""Reconciliation: bring badge roles in Discord and awards in the database in line, for a
whole badge (sync, schedule) or one member (a join, a role edited by hand)."""

from __future__ import annotations

from collections.abc import Callable, Set

from badges.errors import NotLinked, clip
from badges.model import Badge, EventKind, NewEvent, RoleAction, RoleDrift
from badges.permissions import Actor, Operation, authorize
from badges.reconcile import RoleDiff, plan
from badges.service.core import DISCORD, ServiceCore, Tx

JustChanged = Callable[[Set[int]], Set[int]]
"""Of these members, those whose badge role the bot itself changed in Discord lately."""


class Reconciliation:
    def __init__(self, core: ServiceCore) -> None:
        self._core = core

    async def badge(
        self,
        actor: Actor,
        guild_id: int,
        badge_id: str,
        role_member_ids: set[int],
        *,
        dry_run: bool = False,
        just_changed: JustChanged | None = None,
    ) -> RoleDiff:
        """Compare the badge's holders with the members Discord says have its role, and
        queue (or, in adopt mode, record) what brings them in line.

        ``role_member_ids`` is a snapshot taken before this call: the role sync may apply a
        queued change after it (the change leaves the queue, the snapshot still shows the
        old role). ``just_changed`` closes that gap: given the members that look drifted, it
        returns those whose role the bot itself changed lately; they are left alone (else
        revert mode sends the change again and adopt mode revokes or awards the badge). It
        is asked after the queue is read, so a change applied in between is seen by one or
        the other."""
        authorize(actor, Operation.SYNC_ROLES)
        if dry_run:
            async with self._core.read() as uow:
                return await self._diff(
                    Tx(self._core, uow), guild_id, badge_id, role_member_ids, None, just_changed
                )
        async with self._core.write() as tx:
            badge = await tx.badge(guild_id, badge_id)
            diff = await self._diff(tx, guild_id, badge_id, role_member_ids, badge, just_changed)
            if not diff.empty:
                tx.record_all(await self._apply(tx, badge, diff))
        return diff

    async def _diff(
        self,
        tx: Tx,
        guild_id: int,
        badge_id: str,
        role_member_ids: set[int],
        badge: Badge | None = None,
        just_changed: JustChanged | None = None,
    ) -> RoleDiff:
        badge = badge or await tx.badge(guild_id, badge_id, lock=False)
        if badge.role_id is None:
            raise NotLinked(f"'{clip(badge.name)}' has no linked role to sync.")
        settings = await tx.uow.settings.get(guild_id)
        holders = await tx.uow.awards.holder_ids(guild_id, badge.id)
        adding, removing = await tx.uow.role_queue.in_flight(guild_id, badge.role_id)
        if just_changed is not None:
            drifted = (set(holders) ^ set(role_member_ids)) - adding - removing
            settled = set(just_changed(drifted)) & drifted if drifted else set()
            adding, removing = adding | settled, removing | settled
        return plan(holders, role_member_ids, settings.role_drift, adding=adding, removing=removing)

    async def member(
        self,
        guild_id: int,
        user_id: int,
        role_ids: set[int],
        *,
        joined: bool = False,
        settled: frozenset[int] = frozenset(),
    ) -> list[tuple[Badge, RoleDiff]]:
        """Bring one member's badge roles in line after a Discord event. A member who
        (re)joins gets the roles of their badges back, whatever the drift mode. ``settled``
        are roles the bot itself just changed for this member: their echo is not drift."""
        async with self._core.read() as uow:  # most member events need nothing
            if not await self._member_plan(
                Tx(self._core, uow), guild_id, user_id, role_ids, joined, settled
            ):
                return []
        async with self._core.write() as tx:
            plans = await self._member_plan(
                tx, guild_id, user_id, role_ids, joined, settled, lock=True
            )
            for badge, diff in plans:
                tx.record_all(await self._apply(tx, badge, diff))
        return plans

    async def _member_plan(
        self,
        tx: Tx,
        guild_id: int,
        user_id: int,
        role_ids: set[int],
        joined: bool,
        settled: frozenset[int],
        *,
        lock: bool = False,
    ) -> list[tuple[Badge, RoleDiff]]:
        uow = tx.uow
        linked = [b for b in await uow.badges.linked(guild_id) if b.role_id not in settled]
        if not linked:
            return []
        drift = RoleDrift.REVERT if joined else (await uow.settings.get(guild_id)).role_drift
        held = await uow.awards.badge_ids_of(guild_id, user_id)
        plans: list[tuple[Badge, RoleDiff]] = []
        for listed in linked:  # in name order: concurrent reconciliations lock alike
            badge = await tx.badge(guild_id, listed.id) if lock else listed
            if badge.role_id is None:
                continue
            adding, removing = await uow.role_queue.in_flight(guild_id, badge.role_id, user_id)
            diff = plan(
                {user_id} if badge.id in held else set(),
                {user_id} if badge.role_id in role_ids else set(),
                drift,
                adding=adding,
                removing=removing,
            )
            if joined:
                diff = RoleDiff(grant=diff.grant)
            if not diff.empty:
                plans.append((badge, diff))
        return plans

    async def _apply(self, tx: Tx, badge: Badge, diff: RoleDiff) -> list[NewEvent]:
        """Queue the role changes of a diff and record its adopted awards and revocations."""
        events: list[NewEvent] = []
        why = f"badge {badge.name}"
        await tx.queue_role(badge, RoleAction.ADD, sorted(diff.grant), why)
        await tx.queue_role(badge, RoleAction.REMOVE, sorted(diff.remove), why)
        core, uow = self._core, tx.uow
        if diff.award:
            awards = [core.new_award(DISCORD, badge, uid, None) for uid in sorted(diff.award)]
            added = await uow.awards.add_many(awards)
            await uow.badges.adjust_count(badge.id, len(added))
            events += [
                core.event(DISCORD, EventKind.AWARDED, badge, user_id=uid) for uid in sorted(added)
            ]
        for uid in sorted(diff.revoke):
            if await uow.awards.remove(badge.guild_id, badge.id, uid) is not None:
                await uow.badges.adjust_count(badge.id, -1)
                events.append(
                    core.event(
                        DISCORD,
                        EventKind.REVOKED,
                        badge,
                        user_id=uid,
                        reason="The badge role was removed in Discord",
                    )
                )
        return events
