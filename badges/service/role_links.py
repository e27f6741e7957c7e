"""Role links: which role a badge hands out, checked against the role rules on every path
(link, create, edit, award, the worker), and the role changes each link change implies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from badges import validation
from badges.errors import (
    AlreadyLinked,
    Forbidden,
    GatesRemain,
    LevelRoleConflict,
    NotLinked,
    RoleRefused,
    RoleTaken,
    Unavailable,
    clip,
)
from badges.model import Badge, EventKind, Gate, NewRoleChange, RoleAction
from badges.permissions import Actor, Level, Operation, authorize
from badges.role_rules import (
    GuildFacts,
    Problem,
    RoleFacts,
    bot_problem,
    gained_power,
    gained_power_problem,
    link_problem,
    power,
)
from badges.service.core import DISCORD, ServiceCore, Tx

_MISSING_MANAGE_ROLES = Problem("bot_missing_manage_roles", "I need the Manage Roles permission.")


def _refuse(problem: Problem) -> RoleRefused:
    return RoleRefused(problem.message, problem.reason)


class RoleLinks:
    def __init__(self, core: ServiceCore) -> None:
        self._core = core

    # -- the rules -----------------------------------------------------------------------

    async def _facts(self, guild_id: int, role_id: int) -> tuple[GuildFacts, RoleFacts]:
        directory = self._core.directory
        guild = await directory.guild(guild_id)
        if guild is None:
            raise Unavailable(
                "I cannot see this server in Discord right now, so I cannot check the role."
            )
        role = await directory.role(guild_id, role_id)
        if role is None:
            raise RoleRefused("There is no such role in this server.", "unknown_role")
        return guild, role

    async def vet(self, tx: Tx, actor: Actor, guild_id: int, role_id: int) -> int:
        """Check that ``actor`` may make ``role_id`` a badge role; returns the power (permission
        bits beyond channel access) being approved with it. Locks the guild's configuration so
        that no concurrent change makes the role a level role meanwhile."""
        authorize(actor, Operation.LINK_ROLE)
        validation.snowflake("role", role_id)
        await tx.uow.lock(guild_id)
        guild, role = await self._facts(guild_id, role_id)
        settings = await tx.uow.settings.get(guild_id)
        member = None
        if actor.level < Level.SUPER_ADMIN:
            found = await self._core.directory.members(guild_id, [actor.user_id])
            member = None if found is None else found.get(actor.user_id)
        problem = link_problem(role, guild, actor, member, set(settings.role_levels()))
        if problem is not None:
            raise _refuse(problem)
        return power(role, guild)

    async def power_of(self, badge: Badge) -> int:
        """Permission bits beyond channel access that the badge's role hands out (0 without
        a role); refused outright if the role gained power since it was linked."""
        if badge.role_id is None:
            return 0
        directory = self._core.directory
        guild = await directory.guild(badge.guild_id)
        role = await directory.role(badge.guild_id, badge.role_id) if guild else None
        carried = badge.role_power
        if guild is not None and role is not None:
            extra = gained_power(badge.role_power, role, guild)
            if extra:
                raise _refuse(gained_power_problem(role, extra))
            carried |= power(role, guild)
        return carried

    async def check_award(self, actor: Actor, badge: Badge, user_ids: Sequence[int]) -> None:
        """A badge whose role carries power needs the Admin level to award, and never goes to
        the awarder; a role that gained power since it was linked is not handed out at all."""
        if not await self.power_of(badge):
            return
        authorize(actor, Operation.AWARD_POWER)
        if actor.user_id in user_ids:
            raise Forbidden(
                "This badge's role carries permissions: nobody can award it to themselves.",
                required=Level.ADMIN,
            )

    async def change_problem(
        self, badge: Badge | None, guild_id: int, role_id: int, action: RoleAction
    ) -> Problem | None:
        """Why the worker must not apply this change now, or None. The bot may be unable
        (permission, hierarchy); and a role that gained power since it was linked is not
        given out (removing it is always fine)."""
        directory = self._core.directory
        guild = await directory.guild(guild_id)
        if guild is None:
            return None  # not connected to it: the worker waits for the guild
        if action is RoleAction.DELETE_ROLE:
            return None if guild.bot_manages_roles else _MISSING_MANAGE_ROLES
        role = await directory.role(guild_id, role_id)
        if role is None:
            return None  # Discord will answer for itself (the worker handles 10011)
        if problem := bot_problem(role, guild):
            return problem
        if action is RoleAction.ADD:
            extra = gained_power(badge.role_power if badge else 0, role, guild)
            if extra:
                return gained_power_problem(role, extra)
        return None

    async def check_level_role(self, tx: Tx, guild_id: int, role_id: int) -> None:
        """A badge role cannot also grant a level (badges would hand out moderator power)."""
        await tx.uow.lock(guild_id)
        badge = await tx.uow.badges.by_role(guild_id, role_id)
        if badge is not None:
            raise LevelRoleConflict(
                f"That role is handed out by the badge '{clip(badge.name)}': a "
                "badge role cannot grant a badge-system level. Unlink it from the badge first."
            )

    # -- link changes inside a transaction -------------------------------------------------

    async def relink(
        self,
        tx: Tx,
        actor: Actor,
        badge: Badge,
        role_id: int | None,
        *,
        created: bool = False,
        remove_from_holders: bool = True,
    ) -> tuple[Badge, int]:
        """Point a (locked) badge at another role, or none. Holders get the new role and, if
        asked, lose the old one. Returns the badge as saved and the role changes queued."""
        guild_id = badge.guild_id
        approved = 0
        if role_id is not None:
            approved = await self.vet(tx, actor, guild_id, role_id)
            other = await tx.uow.badges.by_role(guild_id, role_id, lock=True)
            if other is not None and other.id != badge.id:
                raise RoleTaken(other.name)
        if badge.role_id is not None and badge.role_id != role_id:
            await self.refuse_while_gating(tx, badge)
        now = self._core.clock()
        queued = 0
        if badge.role_id is not None and badge.role_id != role_id:
            queue = tx.uow.role_queue
            if remove_from_holders:
                queued += await queue.enqueue_for_holders(
                    guild_id,
                    badge.id,
                    badge.role_id,
                    RoleAction.REMOVE,
                    f"role unlinked from badge {badge.name}",
                    now,
                )
            else:  # holders keep what they have; adds not yet applied are dropped
                await queue.cancel_role(guild_id, badge.role_id, [RoleAction.ADD])
        saved = replace(
            badge,
            role_id=role_id,
            role_managed=created if role_id is not None else False,
            role_power=approved,
            updated_at=now,
        )
        await tx.uow.badges.save(saved)
        if role_id is not None and role_id != badge.role_id:
            queued += await tx.uow.role_queue.enqueue_for_holders(
                guild_id, badge.id, role_id, RoleAction.ADD, f"holds badge {badge.name}", now
            )
        if queued:
            tx.queued_in(guild_id)
        return saved, queued

    async def refuse_while_gating(self, tx: Tx, badge: Badge) -> None:
        """Gated channels would stay hidden from everyone: they must be ungated first."""
        gates = await tx.uow.gates.of_badge(badge.guild_id, badge.id)
        if gates:
            raise GatesRemain(
                f"'{clip(badge.name)}' opens {len(gates)} gated channel"
                f"{'s' if len(gates) > 1 else ''}: remove those gates first."
            )

    # -- operations ------------------------------------------------------------------------

    async def link(
        self, actor: Actor, guild_id: int, badge_id: str, role_id: int, *, created: bool = False
    ) -> tuple[Badge, int]:
        """Link a Discord role to a badge; its holders get the role. Linking the same role
        again re-approves the permissions it carries now. ``created`` marks a role the bot
        made for the badge (deleted with it). Returns the badge and the role changes queued."""
        authorize(actor, Operation.LINK_ROLE)
        validation.snowflake("role", role_id)
        async with self._core.write() as tx:
            badge = await tx.badge(guild_id, badge_id)
            if badge.role_id is not None and badge.role_id != role_id:
                raise AlreadyLinked(
                    f"'{clip(badge.name)}' is already linked to another role: unlink it first."
                )
            if badge.role_id == role_id:
                approved = await self.vet(tx, actor, guild_id, role_id)
                linked = replace(badge, role_power=approved, updated_at=self._core.clock())
                await tx.uow.badges.save(linked)
                queued = 0
            else:
                linked, queued = await self.relink(tx, actor, badge, role_id, created=created)
            tx.record(
                self._core.event(
                    actor,
                    EventKind.ROLE_LINKED,
                    linked,
                    after={"role_id": role_id, "approved_permissions": str(linked.role_power)},
                )
            )
        return linked, queued

    async def unlink(
        self, actor: Actor, guild_id: int, badge_id: str, *, remove_from_holders: bool
    ) -> tuple[Badge, int]:
        """Unlink a badge's role, removing it from the holders or leaving it with them.
        Returns the badge as it was (with its role) and how many removals were queued."""
        authorize(actor, Operation.EDIT_BADGE)
        async with self._core.write() as tx:
            badge = await tx.badge(guild_id, badge_id)
            if badge.role_id is None:
                raise NotLinked(f"'{clip(badge.name)}' has no linked role.")
            _, queued = await self.relink(
                tx, actor, badge, None, remove_from_holders=remove_from_holders
            )
            tx.record(
                self._core.event(
                    actor,
                    EventKind.ROLE_UNLINKED,
                    badge,
                    before={"role_id": badge.role_id},
                    after={"removed_from_holders": remove_from_holders},
                )
            )
        return badge, queued

    async def role_deleted(
        self, guild_id: int, role_id: int
    ) -> tuple[Badge | None, list[tuple[Gate, list[Gate]]]]:
        """A role was deleted in Discord. If a badge used it: unlink the badge and forget the
        role's queue (pending and failed). Gates of the role are forgotten; each comes back
        with the gates left on its channel, so the adapter can reopen channels that no other
        badge gates (else they would stay hidden from everyone)."""
        async with self._core.write() as tx:
            badge = await tx.uow.badges.by_role(guild_id, role_id, lock=True)
            await tx.uow.role_queue.cancel_role(guild_id, role_id)
            closed: list[tuple[Gate, list[Gate]]] = []
            for gate in await tx.uow.gates.of_role(guild_id, role_id):
                await tx.uow.lock(gate.channel_id)
                await tx.uow.gates.remove(guild_id, gate.badge_id, gate.channel_id)
                closed.append((gate, await tx.uow.gates.of_channel(guild_id, gate.channel_id)))
            if badge is None:
                return None, closed
            await tx.uow.badges.save(
                replace(
                    badge,
                    role_id=None,
                    role_managed=False,
                    role_power=0,
                    updated_at=self._core.clock(),
                )
            )
            tx.record(
                self._core.event(
                    DISCORD,
                    EventKind.ROLE_UNLINKED,
                    badge,
                    before={"role_id": role_id},
                    after={"gates_removed": [g.channel_id for g, _ in closed]},
                    reason="The role was deleted in Discord",
                )
            )
        return badge, closed

    async def linked_badges(self, guild_id: int) -> list[Badge]:
        async with self._core.read() as uow:
            return await uow.badges.linked(guild_id)

    def delete_role_change(self, badge: Badge, reason: str) -> NewRoleChange:
        assert badge.role_id is not None
        return NewRoleChange(
            badge.guild_id, badge.role_id, RoleAction.DELETE_ROLE, badge_id=badge.id, reason=reason
        )
