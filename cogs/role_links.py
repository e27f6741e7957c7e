"""/badge link-role, unlink-role, sync and doctor: badges that hand out a role.

Discord-side checks come first, so the bot asks Discord only for what it may do; the service
decides whether the role may be linked (its rules hold for every adapter), records the change
and queues the role updates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from badges.model import Badge
from badges.permissions import Actor, Operation
from bot.roles.doctor import diagnose
from bot.roles.members import role_member_ids
from bot.roles.progress import follow
from bot.ui import embeds
from bot.ui.replies import UserFacingError, defer, responds, send, send_lines
from bot.ui.views import ask
from cogs.gates import reopen_channels
from cogs.options import BadgeArg, badge_index
from cogs.subcommands import BadgeSubcommands

if TYPE_CHECKING:
    from bot.app import BadgeBot


class RoleLinkCommands(BadgeSubcommands):
    @responds(ephemeral=True)
    @app_commands.command(name="link-role", description="Holders of a badge get a role (admins)")
    @app_commands.describe(badge="The badge", role="The role its holders get")
    async def link_role(
        self, interaction: discord.Interaction, badge: BadgeArg, role: discord.Role
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.LINK_ROLE)
        guild = self.guild_of(interaction)
        await defer(interaction, ephemeral=True)
        linked, queued = await self.service.roles.link(actor, guild.id, badge.id, role.id)
        text = f"**{embeds.label(linked)}** is linked to {role.mention}."
        if queued:
            text += f" Giving the role to {embeds.plural(queued, 'holder')}…"
        text += await self._others_with_role(actor, guild, linked, role)
        await send(interaction, content=text)
        if queued:
            await follow(
                interaction,
                self.bot.role_sync,
                lambda: self.service.queue.progress(guild.id, linked.id),
                queued,
                text,
            )

    async def _others_with_role(
        self, actor: Actor, guild: discord.Guild, badge: Badge, role: discord.Role
    ) -> str:
        """A warning when members already have the role without the badge."""
        members = await role_member_ids(self.bot.intents, guild, role)
        if not members:
            return ""
        diff = await self.service.reconcile.badge(actor, guild.id, badge.id, members, dry_run=True)
        if diff.remove:
            who = embeds.members_who(len(diff.remove), "has", "have")
            return (
                f"\n⚠️ {who} {role.mention} without the badge: the next sync takes it from "
                "them. Give them the badge with /badge award-role first, or set "
                "/badge config role-drift to adopt."
            )
        return ""

    @responds(ephemeral=False)
    @app_commands.command(name="unlink-role", description="Stop a badge giving a role (admins)")
    @app_commands.describe(badge="The badge")
    async def unlink_role(self, interaction: discord.Interaction, badge: BadgeArg) -> None:
        actor = await self.bot.actor(interaction, Operation.EDIT_BADGE)
        guild = self.guild_of(interaction)
        if badge.role_id is None:
            raise UserFacingError(f"**{embeds.label(badge)}** has no linked role.")
        await defer(interaction, ephemeral=False)
        badge = await self.service.catalog.get(guild.id, badge.id)  # its holders as of now
        if badge.role_id is None:
            raise UserFacingError(f"**{embeds.label(badge)}** has no linked role.")
        role = f"<@&{badge.role_id}>"

        async def remove(_: discord.Interaction) -> str:
            __, queued = await self.service.roles.unlink(
                actor, guild.id, badge.id, remove_from_holders=True
            )
            return (
                f"Unlinked {role} from **{embeds.label(badge)}**; removing it from "
                f"{embeds.plural(queued, 'holder')}."
            )

        async def keep(_: discord.Interaction) -> str:
            await self.service.roles.unlink(actor, guild.id, badge.id, remove_from_holders=False)
            return f"Unlinked {role} from **{embeds.label(badge)}**; holders keep the role."

        await ask(
            interaction,
            f"Unlink {role} from **{embeds.label(badge)}**? "
            f"{embeds.members_who(badge.awarded_count, 'holds', 'hold')} the badge.",
            [("Remove the role from them", remove), ("Let them keep it", keep)],
            cancelled=f"{role} stays linked to **{embeds.label(badge)}**",
        )

    @responds(ephemeral=True)
    @app_commands.command(name="sync", description="Compare badge roles with Discord and fix")
    @app_commands.describe(badge="Only this badge", dry_run="Only show what would change")
    async def sync(
        self,
        interaction: discord.Interaction,
        badge: BadgeArg | None = None,
        dry_run: bool = False,
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.SYNC_ROLES)
        guild = self.guild_of(interaction)
        if badge is None:  # from memory first: a refusal comes at once
            linked = [
                b
                for b in (await badge_index(self.bot, interaction)).badges
                if b.role_id is not None
            ]
        else:
            linked = [badge] if badge.role_id is not None else []
        if not linked:
            raise UserFacingError("No badge has a linked role: link one with /badge link-role.")
        await defer(interaction, ephemeral=True)
        # as stored now
        stored = (
            await self.service.roles.linked_badges(guild.id)
            if badge is None
            else [await self.service.catalog.get(guild.id, badge.id)]
        )
        badges = [b for b in stored if b.role_id is not None]
        if not badges:
            raise UserFacingError("No badge has a linked role: link one with /badge link-role.")
        lines = []
        if not dry_run and (retried := await self.service.queue.retry_failed(actor, guild.id)):
            lines.append(f"Queued {embeds.plural(retried, 'failed role change')} again.")
        for item in badges:
            lines.append(await self._sync_one(actor, guild, item, dry_run=dry_run))
        head = "Dry run, nothing changed:" if dry_run else "Sync:"
        await send_lines(interaction, [head, *lines])

    async def _sync_one(
        self, actor: Actor, guild: discord.Guild, badge: Badge, *, dry_run: bool
    ) -> str:
        assert badge.role_id is not None
        role = guild.get_role(badge.role_id)
        name = f"**{embeds.label(badge)}**"
        if role is None:
            if dry_run:
                return f"{name}: its role was deleted; it would be unlinked."
            _, closed = await self.service.roles.role_deleted(guild.id, badge.role_id)
            problems = await reopen_channels(guild, closed)
            return " ".join([f"{name}: its role was deleted; unlinked.", *problems])
        members = await role_member_ids(self.bot.intents, guild, role)
        if members is None:
            return (
                f"{name}: I cannot see who has {role.mention} without the Server Members "
                "intent (see /badge doctor); holders get the role as they are awarded it."
            )
        diff = await self.service.reconcile.badge(
            actor,
            guild.id,
            badge.id,
            members,
            dry_run=dry_run,
            just_changed=self.bot.role_sync.just_changed(guild.id, badge.role_id),
        )
        if diff.empty:
            return f"{name}: in step with {role.mention}."
        parts = []
        if diff.grant:
            parts.append(f"{embeds.plural(len(diff.grant), 'holder')} get {role.mention}")
        if diff.remove:
            parts.append(f"{embeds.plural(len(diff.remove), 'member')} lose {role.mention}")
        if diff.award:
            parts.append(f"{embeds.plural(len(diff.award), 'member')} with the role get the badge")
        if diff.revoke:
            parts.append(f"{embeds.plural(len(diff.revoke), 'holder')} without the role lose it")
        return f"{name}: " + "; ".join(parts) + "."

    @responds(ephemeral=True)
    @app_commands.command(name="doctor", description="Check that badge roles and gates can work")
    async def doctor(self, interaction: discord.Interaction) -> None:
        await self.bot.actor(interaction, Operation.DIAGNOSE)
        guild = self.guild_of(interaction)
        await defer(interaction, ephemeral=True)
        await send(interaction, embed=await diagnose(self.bot, guild))


async def setup(bot: BadgeBot) -> None:
    await bot.add_cog(RoleLinkCommands(bot))
