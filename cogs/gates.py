"""/badge gate and ungate: channels only the holders of a badge can see."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from badges.errors import AlreadyGated, NotLinked, clip
from badges.model import Gate, Overwrite
from badges.permissions import Operation
from bot.ui import embeds
from bot.ui.replies import UserFacingError, defer, responds, send
from cogs.options import BadgeArg, GatedChannelArg
from cogs.subcommands import BadgeSubcommands

if TYPE_CHECKING:
    from bot.app import BadgeBot

GateChannel = (
    discord.TextChannel | discord.VoiceChannel | discord.ForumChannel | discord.CategoryChannel
)
GATE_TYPES = (
    discord.TextChannel,
    discord.VoiceChannel,
    discord.ForumChannel,
    discord.CategoryChannel,
)


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


async def restore(
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


async def reopen_channels(guild: discord.Guild, closed: list[tuple[Gate, list[Gate]]]) -> list[str]:
    """Gates the service forgot because their role was deleted: a channel no other badge
    gates gets @everyone's overwrite back, else it would stay hidden from everyone. Returns
    what could not be done, each with what the admins should do."""
    problems: list[str] = []
    for gate, remaining in closed:
        channel = guild.get_channel(gate.channel_id)
        if remaining or not isinstance(channel, GATE_TYPES):
            continue
        try:
            await restore(
                channel,
                guild.default_role,
                gate.everyone_before,
                "badgebot: its gating badge role was deleted",
                quiet=False,
            )
        except discord.HTTPException:
            problems.append(
                f"{channel.mention} stays hidden from everyone: I could not restore it. Allow "
                "View Channel to @everyone there (or gate it with another badge)."
            )
    return problems


class GateCommands(BadgeSubcommands):
    @responds(ephemeral=True)
    @app_commands.command(name="gate", description="Open a channel only to a badge's holders")
    @app_commands.describe(badge="The badge (it needs a linked role)", channel="The channel")
    async def gate(
        self, interaction: discord.Interaction, badge: BadgeArg, channel: GateChannel
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.GATE_CHANNEL)
        guild = self.guild_of(interaction)
        # from memory first, so a refusal comes at once; the service checks again below
        if badge.role_id is None:
            raise NotLinked(
                f"'{clip(badge.name)}' has no role to open channels with: link one first."
            )
        gates = self.bot.gate_cache.peek(guild.id) or []
        if any(g.badge_id == badge.id and g.channel_id == channel.id for g in gates):
            raise AlreadyGated(f"That channel is already gated by '{clip(badge.name)}'.")
        role = guild.get_role(badge.role_id)
        if role is None:
            raise UserFacingError(
                f"The role of **{embeds.label(badge)}** is gone: run /badge sync, then link one."
            )
        perms = channel.permissions_for(guild.me)
        if not (perms.manage_roles and perms.view_channel):
            raise UserFacingError(
                f"I cannot change who sees {channel.mention}: I need View Channel and Manage "
                "Permissions there. Grant them in the channel's permissions, then try again."
            )
        await defer(interaction, ephemeral=True)
        # as stored now, before Discord is changed
        stored = await self.service.gates.check(actor, guild.id, badge.id, channel.id)
        if stored.role_id != role.id:  # linked to another role meanwhile
            relinked = guild.get_role(stored.role_id) if stored.role_id else None
            if relinked is None:
                raise UserFacingError(
                    f"The role of **{embeds.label(badge)}** is gone: run /badge sync, then "
                    "link one."
                )
            role = relinked
        everyone, me = guild.default_role, guild.me
        before = {t: _overwrite(channel, t) for t in (me, role, everyone)}
        reason = "badgebot: only holders of a badge see this channel"
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
            await self.service.gates.add(
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
                await restore(channel, target, before[target], reason)
            raise
        await send(
            interaction,
            content=f"{channel.mention} is now visible only to holders of "
            f"**{embeds.label(badge)}** ({role.mention}).",
        )

    @responds(ephemeral=True)
    @app_commands.command(name="ungate", description="Restore a gated channel as it was")
    @app_commands.describe(
        badge="The badge", channel="The gated channel (listed even if you cannot see it)"
    )
    async def ungate(
        self, interaction: discord.Interaction, badge: BadgeArg, channel: GatedChannelArg
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.GATE_CHANNEL)
        guild = self.guild_of(interaction)
        if not isinstance(channel, GATE_TYPES):
            raise UserFacingError("That is not a channel a badge can gate.")
        if not channel.permissions_for(guild.me).manage_roles:
            raise UserFacingError(f"I need Manage Permissions in {channel.mention} to restore it.")
        await defer(interaction, ephemeral=True)
        # the database first, with the channel's gates locked: of two ungates at once, exactly
        # one sees no gate left and reopens the channel to everyone
        gate, remaining = await self.service.gates.remove(actor, guild.id, badge.id, channel.id)
        reason = "badgebot: a badge no longer gates this channel"
        try:
            if (role := guild.get_role(gate.role_id)) is not None:
                await restore(channel, role, gate.role_before, reason, quiet=False)
            if not remaining:
                await restore(
                    channel, guild.default_role, gate.everyone_before, reason, quiet=False
                )
        except BaseException:
            # Discord refused: the gate stays recorded, so ungating can be tried again
            await self.service.gates.add(
                actor,
                guild.id,
                badge.id,
                channel.id,
                everyone_before=gate.everyone_before,
                role_before=gate.role_before,
            )
            raise
        text = f"{channel.mention} is no longer gated by **{embeds.label(badge)}**."
        if remaining:
            text += f" It stays hidden: {embeds.plural(len(remaining), 'other badge')} gate it."
        await send(interaction, content=text)


async def setup(bot: BadgeBot) -> None:
    await bot.add_cog(GateCommands(bot))
