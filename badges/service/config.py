"""Guild settings: level roles, the log channel, what hand edits of badge roles mean."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from badges import validation
from badges.errors import InvalidInput
from badges.model import EventKind, GuildSettings, RoleDrift
from badges.permissions import Actor, Level, Operation, authorize
from badges.ports import UnitOfWork
from badges.service.core import ServiceCore, Tx
from badges.service.role_links import RoleLinks


class GuildConfig:
    def __init__(self, core: ServiceCore, roles: RoleLinks) -> None:
        self._core = core
        self._roles = roles

    async def get(self, guild_id: int) -> GuildSettings:
        async with self._core.read() as uow:
            return await uow.settings.get(guild_id)

    async def set_role_level(
        self, actor: Actor, guild_id: int, role_id: int, level: Level
    ) -> GuildSettings:
        """Make holders of a Discord role Moderators or Admins of the badge system. A role a
        badge hands out cannot grant a level (and a level role cannot be linked)."""
        if level not in (Level.MODERATOR, Level.ADMIN):
            raise InvalidInput("level", "A role can grant the Moderator or the Admin level.")
        authorize(actor, Operation.CONFIGURE)
        if level is Level.ADMIN:
            authorize(actor, Operation.GRANT_ADMIN_ROLE)
        validation.snowflake("role", role_id)

        async def change(tx: Tx) -> None:
            await self._roles.check_level_role(tx, guild_id, role_id)
            await tx.uow.settings.set_role_level(guild_id, role_id, level)

        return await self._change(
            actor, guild_id, {"role_id": role_id, "level": level.name}, change, guard_role=role_id
        )

    async def unset_role(self, actor: Actor, guild_id: int, role_id: int) -> GuildSettings:
        authorize(actor, Operation.CONFIGURE)
        return await self._change(
            actor,
            guild_id,
            {"role_id": role_id, "level": None},
            lambda tx: tx.uow.settings.set_role_level(guild_id, role_id, None),
            guard_role=role_id,
        )

    async def set_log_channel(
        self, actor: Actor, guild_id: int, channel_id: int | None
    ) -> GuildSettings:
        authorize(actor, Operation.CONFIGURE)
        if channel_id is not None:
            validation.snowflake("channel", channel_id)
        return await self._change(
            actor,
            guild_id,
            {"log_channel_id": channel_id},
            lambda tx: tx.uow.settings.set_log_channel(guild_id, channel_id),
        )

    async def set_role_drift(self, actor: Actor, guild_id: int, drift: RoleDrift) -> GuildSettings:
        """Choose what a badge role given or removed by hand in Discord means."""
        authorize(actor, Operation.CONFIGURE)
        return await self._change(
            actor,
            guild_id,
            {"role_drift": drift.value},
            lambda tx: tx.uow.settings.set_role_drift(guild_id, drift),
        )

    async def set_api_public_reads(
        self, actor: Actor, guild_id: int, public: bool
    ) -> GuildSettings:
        """Whether the REST API answers reads without a token."""
        authorize(actor, Operation.CONFIGURE)
        return await self._change(
            actor,
            guild_id,
            {"api_public_reads": public},
            lambda tx: tx.uow.settings.set_api_public_reads(guild_id, public),
        )

    async def _change(
        self,
        actor: Actor,
        guild_id: int,
        after: dict[str, Any],
        change: Callable[[Tx], Awaitable[None]],
        guard_role: int | None = None,
    ) -> GuildSettings:
        async with self._core.write() as tx:
            await tx.uow.lock(guild_id)
            before = await tx.uow.settings.get(guild_id)
            if guard_role is not None and guard_role in before.admin_role_ids:
                authorize(actor, Operation.CHANGE_ADMIN_ROLE)
            await change(tx)
            settings = await _settings(tx.uow, guild_id)
            tx.record(
                self._core.event(
                    actor, EventKind.CONFIG_CHANGED, None, guild_id=guild_id, after=after
                )
            )
        return settings


async def _settings(uow: UnitOfWork, guild_id: int) -> GuildSettings:
    return await uow.settings.get(guild_id)
