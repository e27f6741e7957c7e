"""/badge link-role, unlink-role, gate, ungate, sync, award-role, award-many, doctor.

A mixin of the /badge group cog (Discord allows one /badge command, so its sub-commands
live in one cog). Discord-side checks come first, so the bot asks Discord only for what it
is allowed to do; the service records the change and queues the role updates.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from badges.model import Badge, Overwrite
from badges.permissions import Actor, Operation
from bot import embeds
from bot.doctor import diagnose
from bot.members import role_member_ids
from bot.progress import follow
from bot.replies import UserFacingError, defer, send, send_lines, within_budget
from bot.role_checks import grant_problem, role_problem
from bot.views import ask
from cogs.options import BadgeArg

if TYPE_CHECKING:
    from badges.service import BadgeService
    from bot.app import BadgeBot

GateChannel = (
    discord.TextChannel | discord.VoiceChannel | discord.ForumChannel | discord.CategoryChannel
)
# member mentions, or bare ids that are not part of a channel, role or emoji mention
_ID_RE = re.compile(r"<@!?(\d{15,21})>|(?<![#&:\d])\b(\d{15,21})\b(?!>)")
MAX_LIST_BYTES = 512 * 1024


def parse_member_ids(text: str) -> list[int]:
    """Mentions (<@id>, <@!id>) and bare ids, in order, once each."""
    seen: dict[int, None] = {}
    for mention, bare in _ID_RE.findall(text):
        seen.setdefault(int(mention or bare))
    return list(seen)


def _overwrite(channel: GateChannel, target: discord.Role | discord.Member) -> Overwrite | None:
    existing = channel.overwrites.get(target)
    if existing is None:
        return None
    allow, deny = existing.pair()
    return Overwrite(allow=allow.value, deny=deny.value)


def _as_discord(overwrite: Overwrite) -> discord.PermissionOverwrite:
    return discord.PermissionOverwrite.from_pair(
        discord.Permissions(overwrite.allow), discord.Permissions(overwrite.deny)
    )


async def _restore(
    channel: GateChannel,
    target: discord.Role | discord.Member,
    before: Overwrite | None,
    reason: str,
    *,
    quiet: bool = True,
) -> None:
    """Put back a target's overwrite as it was (none, if it had none)."""
    overwrite = None if before is None else _as_discord(before)
    try:
        await channel.set_permissions(target, overwrite=overwrite, reason=reason)
    except discord.HTTPException:
        if not quiet:
            raise


class RoleCommands(commands.Cog):
    """Sub-commands of /badge about roles; mixed into the /badge group cog."""

    bot: BadgeBot
    service: BadgeService

    def _guild(self, interaction: discord.Interaction) -> discord.Guild:
        if interaction.guild is None:
            raise UserFacingError("Use this command in a server.")
        return interaction.guild

    # -- linking -------------------------------------------------------------------------

    @app_commands.command(name="link-role", description="Holders of a badge get a role (admins)")
    @app_commands.describe(badge="The badge", role="The role its holders get")
    async def link_role(
        self, interaction: discord.Interaction, badge: BadgeArg, role: discord.Role
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.EDIT_BADGE)
        guild = self._guild(interaction)
        settings = await self.bot.guild_settings.get(guild.id)
        if problem := role_problem(guild, role) or grant_problem(
            role, interaction.user, actor, settings
        ):
            raise UserFacingError(problem)
        await defer(interaction, ephemeral=True)
        linked, queued = await self.service.link_role(actor, guild.id, badge.id, role.id)
        text = f"**{embeds.label(linked)}** is linked to {role.mention}."
        if queued:
            text += f" Giving the role to {embeds.plural(queued, 'holder')}…"
        text += await self._others_with_role(actor, guild, linked, role)
        await send(interaction, content=text)
        if queued:
            await follow(
                interaction,
                self.bot.role_sync,
                lambda: self.service.pending_role_changes(guild.id, linked.id),
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
        diff = await self.service.reconcile_badge(actor, guild.id, badge.id, members, dry_run=True)
        if diff.remove:
            who = embeds.members_who(len(diff.remove), "has", "have")
            return (
                f"\n⚠️ {who} {role.mention} without the badge: the next sync takes it from "
                "them. Give them the badge with /badge award-role first, or set "
                "/badge config role-drift to adopt."
            )
        return ""

    async def create_linked_role(
        self, guild: discord.Guild, name: str, color: str | None
    ) -> discord.Role:
        """Create a role for a new badge (just above @everyone, as Discord places it)."""
        colour = discord.Colour(int(color[1:], 16)) if color else discord.Colour.default()
        return await guild.create_role(name=name, colour=colour, reason="badgebot: badge role")

    @app_commands.command(name="unlink-role", description="Stop a badge giving a role (admins)")
    @app_commands.describe(badge="The badge")
    async def unlink_role(self, interaction: discord.Interaction, badge: BadgeArg) -> None:
        actor = await self.bot.actor(interaction, Operation.EDIT_BADGE)
        guild = self._guild(interaction)
        if badge.role_id is None:
            raise UserFacingError(f"**{embeds.label(badge)}** has no linked role.")
        role = f"<@&{badge.role_id}>"

        async def remove(_: discord.Interaction) -> str:
            __, queued = await self.service.unlink_role(
                actor, guild.id, badge.id, remove_from_holders=True
            )
            return (
                f"Unlinked {role} from **{embeds.label(badge)}**; removing it from "
                f"{embeds.plural(queued, 'holder')}."
            )

        async def keep(_: discord.Interaction) -> str:
            await self.service.unlink_role(actor, guild.id, badge.id, remove_from_holders=False)
            return f"Unlinked {role} from **{embeds.label(badge)}**; holders keep the role."

        await ask(
            interaction,
            f"Unlink {role} from **{embeds.label(badge)}**? "
            f"{embeds.members_who(badge.awarded_count, 'holds', 'hold')} the badge.",
            [("Remove the role from them", remove), ("Let them keep it", keep)],
            cancelled=f"{role} stays linked to **{embeds.label(badge)}**",
        )

    # -- gates ---------------------------------------------------------------------------

    @app_commands.command(name="gate", description="Open a channel only to a badge's holders")
    @app_commands.describe(badge="The badge (it needs a linked role)", channel="The channel")
    async def gate(
        self, interaction: discord.Interaction, badge: BadgeArg, channel: GateChannel
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.EDIT_BADGE)
        guild = self._guild(interaction)
        role = guild.get_role(badge.role_id) if badge.role_id else None
        if role is None:
            raise UserFacingError(
                f"**{embeds.label(badge)}** has no role to open {channel.mention} with: "
                "link one first with /badge link-role."
            )
        perms = channel.permissions_for(guild.me)
        if not (perms.manage_roles and perms.view_channel):
            raise UserFacingError(
                f"I cannot change who sees {channel.mention}: I need View Channel and Manage "
                "Permissions there. Grant them in the channel's permissions, then try again."
            )
        if any(g.channel_id == channel.id for g in await self.service.gates(guild.id, badge.id)):
            raise UserFacingError(f"{channel.mention} is already gated by **{badge.name}**.")
        await defer(interaction, ephemeral=True)
        everyone, me = guild.default_role, guild.me
        before = {t: _overwrite(channel, t) for t in (me, role, everyone)}
        reason = f"badgebot: only holders of {badge.name} see this channel"
        changes: list[tuple[discord.Role | discord.Member, bool]] = [
            (me, True),  # the bot must keep seeing the channel it manages
            (role, True),
            (everyone, False),  # last: nobody loses the channel before the role has it
        ]
        try:
            for target, visible in changes:
                overwrite = channel.overwrites_for(target)
                overwrite.update(view_channel=visible)
                await channel.set_permissions(target, overwrite=overwrite, reason=reason)
            await self.service.add_gate(
                actor,
                guild.id,
                badge.id,
                channel.id,
                everyone_before=before[everyone],
                role_before=before[role],
            )
        except BaseException:
            # a failed command changes nothing: put back what this one changed
            for target, _ in reversed(changes):
                await _restore(channel, target, before[target], reason)
            raise
        await send(
            interaction,
            content=f"{channel.mention} is now visible only to holders of "
            f"**{embeds.label(badge)}** ({role.mention}).",
        )

    @app_commands.command(name="ungate", description="Restore a gated channel as it was")
    @app_commands.describe(badge="The badge", channel="The channel")
    async def ungate(
        self, interaction: discord.Interaction, badge: BadgeArg, channel: GateChannel
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.EDIT_BADGE)
        guild = self._guild(interaction)
        if not channel.permissions_for(guild.me).manage_roles:
            raise UserFacingError(f"I need Manage Permissions in {channel.mention} to restore it.")
        await defer(interaction, ephemeral=True)
        gates = [g for g in await self.service.gates(guild.id) if g.channel_id == channel.id]
        gate = next((g for g in gates if g.badge_id == badge.id), None)
        if gate is None:
            raise UserFacingError(f"{channel.mention} is not gated by '{badge.name}'.")
        remaining = [g for g in gates if g is not gate]
        reason = f"badgebot: {badge.name} no longer gates this channel"
        # Discord first: if it refuses, the gate stays recorded and can be ungated again
        if (role := guild.get_role(gate.role_id)) is not None:
            await _restore(channel, role, gate.role_before, reason, quiet=False)
        if not remaining:
            await _restore(channel, guild.default_role, gate.everyone_before, reason, quiet=False)
        await self.service.remove_gate(actor, guild.id, badge.id, channel.id)
        text = f"{channel.mention} is no longer gated by **{embeds.label(badge)}**."
        if remaining:
            text += f" It stays hidden: {embeds.plural(len(remaining), 'other badge')} gate it."
        await send(interaction, content=text)

    # -- sync and health -----------------------------------------------------------------

    @app_commands.command(name="sync", description="Compare badge roles with Discord and fix")
    @app_commands.describe(badge="Only this badge", dry_run="Only show what would change")
    async def sync(
        self,
        interaction: discord.Interaction,
        badge: BadgeArg | None = None,
        dry_run: bool = False,
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.AWARD)
        guild = self._guild(interaction)
        badges = [badge] if badge else await self.service.linked_badges(guild.id)
        badges = [b for b in badges if b.role_id is not None]
        if not badges:
            raise UserFacingError("No badge has a linked role: link one with /badge link-role.")
        await defer(interaction, ephemeral=True)
        lines = []
        if not dry_run and (
            retried := await self.service.retry_failed_role_changes(actor, guild.id)
        ):
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
            if not dry_run:
                await self.service.role_deleted(guild.id, badge.role_id)
            return f"{name}: its role was deleted; {'it would be' if dry_run else ''} unlinked."
        members = await role_member_ids(self.bot.intents, guild, role)
        if members is None:
            return (
                f"{name}: I cannot see who has {role.mention} without the Server Members "
                "intent (see /badge doctor); holders get the role as they are awarded it."
            )
        diff = await self.service.reconcile_badge(
            actor, guild.id, badge.id, members, dry_run=dry_run
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

    @app_commands.command(name="doctor", description="Check that badge roles and gates can work")
    async def doctor(self, interaction: discord.Interaction) -> None:
        await self.bot.actor(interaction, Operation.AWARD)
        guild = self._guild(interaction)
        await defer(interaction, ephemeral=True)
        await send(interaction, embed=await diagnose(self.bot, guild))

    # -- bulk awards ---------------------------------------------------------------------

    @app_commands.command(name="award-role", description="Award a badge to everyone with a role")
    @app_commands.describe(badge="The badge", role="Everyone with this role receives it")
    async def award_role(
        self, interaction: discord.Interaction, badge: BadgeArg, role: discord.Role
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.AWARD)
        guild = self._guild(interaction)
        if role.is_default():
            raise UserFacingError("Award to @everyone? Pick a specific role.")
        await defer(interaction, ephemeral=False)
        members = await role_member_ids(self.bot.intents, guild, role)
        if members is None:
            raise UserFacingError(
                "I cannot see who has a role without the Server Members intent: "
                "use /badge award-many with the members instead (see /badge doctor)."
            )
        bots = {m.id: "is a bot" for m in role.members if m.bot}
        await self._bulk(interaction, actor, badge, sorted(members - set(bots)), bots)

    @app_commands.command(name="award-many", description="Award a badge to many members")
    @app_commands.describe(
        badge="The badge",
        members="Mentions or ids, separated by anything",
        file="A text file of mentions or ids, for long lists",
    )
    async def award_many(
        self,
        interaction: discord.Interaction,
        badge: BadgeArg,
        members: str | None = None,
        file: discord.Attachment | None = None,
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.AWARD)
        text = members or ""
        if file is not None:
            if file.size > MAX_LIST_BYTES:
                raise UserFacingError("That file is over 512 KB: split the list.")
            data = await within_budget(interaction, file.read(), ephemeral=False)
            text += "\n" + data.decode("utf-8", errors="replace")
        ids = parse_member_ids(text)
        if not ids:
            raise UserFacingError(
                "I found no member in that: paste mentions (@name) or ids (18-19 digits)."
            )
        await defer(interaction, ephemeral=False)
        guild = self._guild(interaction)
        bots = {
            uid: "is a bot"
            for uid in ids
            if (member := guild.get_member(uid)) is not None and member.bot
        }
        await self._bulk(interaction, actor, badge, [i for i in ids if i not in bots], bots)

    async def _bulk(
        self,
        interaction: discord.Interaction,
        actor: Actor,
        badge: Badge,
        user_ids: list[int],
        refused: dict[int, str],
    ) -> None:
        guild = self._guild(interaction)
        result = await self.service.bulk_award(actor, guild.id, badge.id, user_ids, refused=refused)
        summary = (
            f"**{embeds.label(result.badge)}**: {embeds.plural(len(result.awarded), 'member')} "
            f"awarded, {len(result.already_held)} already held it"
        )
        if result.refused:
            shown = ", ".join(f"<@{uid}> ({why})" for uid, why in list(result.refused.items())[:10])
            more = len(result.refused) - 10
            summary += f", {len(result.refused)} refused: {shown}"
            summary += f" and {more} more" if more > 0 else ""
        summary += "."
        await send(interaction, content=summary)
        if result.badge.role_id is not None and result.awarded:
            await follow(
                interaction,
                self.bot.role_sync,
                lambda: self.service.pending_role_changes(guild.id, badge.id),
                len(result.awarded),
                summary,
            )
