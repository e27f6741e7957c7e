"""Keeps badge roles in step with Discord events: start, joins, role edits, role deletion,
and a reconciliation every few hours. Needs no command; works best with the members intent."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands, tasks

from badges.service import DISCORD
from bot.roles.members import role_member_ids
from cogs.gates import reopen_channels

if TYPE_CHECKING:
    from bot.app import BadgeBot

log = logging.getLogger(__name__)


class RoleEventsCog(commands.Cog):
    def __init__(self, bot: BadgeBot) -> None:
        self.bot = bot
        self.service = bot.service

    async def cog_load(self) -> None:
        self.bot.role_sync.start()
        self.reconcile_all.start()

    async def cog_unload(self) -> None:
        self.reconcile_all.cancel()
        await self.bot.role_sync.stop()

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        for guild_id in await self.service.queue.guilds_due():
            self.bot.role_sync.kick(guild_id)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        self.bot.role_sync.kick(guild.id)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.bot.role_sync.kick(guild.id)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a server: its pending role changes can never be applied."""
        await self.service.queue.drop_guild(guild.id)

    @tasks.loop(hours=6)
    async def reconcile_all(self) -> None:
        """Fix drift that no event told us about (runs at start and every 6 hours)."""
        await self.bot.wait_until_ready()
        for guild in self.bot.guilds:
            try:
                await self.reconcile_guild(guild)
            except Exception:
                log.exception("reconciling guild %s failed", guild.id)

    async def reconcile_guild(self, guild: discord.Guild) -> int:
        """Reconcile every linked badge of a guild; returns how many changes it made."""
        changes = 0
        for badge in await self.service.roles.linked_badges(guild.id):
            assert badge.role_id is not None
            role = guild.get_role(badge.role_id)
            if role is None:
                await self._role_gone(guild, badge.role_id)
                continue
            members = await role_member_ids(self.bot.intents, guild, role)
            if members is None:
                return 0  # without the members intent there is nothing to compare with
            diff = await self.service.reconcile.badge(
                DISCORD,
                guild.id,
                badge.id,
                members,
                just_changed=self.bot.role_sync.just_changed(guild.id, badge.role_id),
            )
            changes += diff.size
        return changes

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        """A returning member gets the roles of their badges back."""
        roles = {r.id for r in member.roles}
        await self.service.reconcile.member(member.guild.id, member.id, roles, joined=True)

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        roles = {r.id for r in after.roles}
        changed = {r.id for r in before.roles} ^ roles
        if not changed:
            return
        ours = self.bot.role_sync.echoes(after.guild.id, after.id, roles)
        if changed <= ours:
            return  # only the echo of what the role sync just did: nothing to compare
        await self.service.reconcile.member(after.guild.id, after.id, roles, settled=ours)

    @commands.Cog.listener()
    async def on_guild_role_delete(self, role: discord.Role) -> None:
        await self._role_gone(role.guild, role.id)

    async def _role_gone(self, guild: discord.Guild, role_id: int) -> None:
        """A role was deleted: unlink its badge, and reopen the channels it alone gated
        (else they would stay hidden from everyone); say in the log what could not be done."""
        badge, closed = await self.service.roles.role_deleted(guild.id, role_id)
        if badge is not None:
            log.info("role %s of badge %s was deleted; unlinked", role_id, badge.id)
        for problem in await reopen_channels(guild, closed):
            log.warning("guild %s: %s", guild.id, problem)
            await self.bot.log_channel.notice(guild.id, problem)


async def setup(bot: BadgeBot) -> None:
    await bot.add_cog(RoleEventsCog(bot))
