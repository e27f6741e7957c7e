"""/badge config ...: level roles, the log channel, what hand edits of badge roles mean."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from badges.model import RoleDrift
from badges.permissions import Level, Operation
from bot.ui import embeds
from bot.ui.replies import UserFacingError, defer, responds, send
from cogs.badges import guild_id_of
from cogs.subcommands import BadgeSubcommands

if TYPE_CHECKING:
    from bot.app import BadgeBot


class LevelChoice(Enum):
    moderator = "moderator"
    admin = "admin"

    @property
    def level(self) -> Level:
        return Level[self.name.upper()]


class OnOff(Enum):
    on = "on"
    off = "off"


class ConfigCommands(BadgeSubcommands):
    config = app_commands.Group(name="config", description="Badge system settings (admins)")

    @responds(ephemeral=True)
    @config.command(name="show", description="Show the badge system settings")
    async def config_show(self, interaction: discord.Interaction) -> None:
        await self.bot.actor(interaction, Operation.CONFIGURE)
        await defer(interaction, ephemeral=True)
        settings = await self.service.config.get(guild_id_of(interaction))
        await send(interaction, embed=embeds.settings(settings), ephemeral=True)

    @responds(ephemeral=True)
    @config.command(name="set-role", description="Give a role the Moderator or Admin level")
    @app_commands.describe(level="The level the role grants", role="The role")
    async def config_set_role(
        self, interaction: discord.Interaction, level: LevelChoice, role: discord.Role
    ) -> None:
        actor = await self.bot.actor(interaction)
        if role.is_default():
            raise UserFacingError(
                "@everyone cannot be given a level: that would make every member "
                f"a {level.level.label}. Pick a specific role."
            )
        await defer(interaction, ephemeral=True)
        settings = await self.service.config.set_role_level(
            actor, guild_id_of(interaction), role.id, level.level
        )
        await send(
            interaction,
            content=f"Members with {role.mention} now have the {level.level.label} level.",
            embed=embeds.settings(settings),
            ephemeral=True,
        )

    @responds(ephemeral=True)
    @config.command(name="unset-role", description="Stop a role from granting a level")
    @app_commands.describe(role="The role")
    async def config_unset_role(self, interaction: discord.Interaction, role: discord.Role) -> None:
        actor = await self.bot.actor(interaction, Operation.CONFIGURE)
        current = await self.bot.guild_config(interaction)  # a hint: the service decides
        if role.id not in current.role_levels():
            raise UserFacingError(f"{role.mention} does not grant a level; nothing to unset.")
        await defer(interaction, ephemeral=True)
        settings = await self.service.config.unset_role(actor, guild_id_of(interaction), role.id)
        await send(
            interaction,
            content=f"{role.mention} no longer grants a level.",
            embed=embeds.settings(settings),
            ephemeral=True,
        )

    @responds(ephemeral=True)
    @config.command(name="role-drift", description="What a badge role edited by hand means")
    @app_commands.describe(
        mode="revert: the bot undoes hand edits; adopt: they award or revoke the badge"
    )
    async def config_role_drift(self, interaction: discord.Interaction, mode: RoleDrift) -> None:
        actor = await self.bot.actor(interaction, Operation.CONFIGURE)
        await defer(interaction, ephemeral=True)
        await self.service.config.set_role_drift(actor, guild_id_of(interaction), mode)
        text = (
            "A badge role given by hand now awards the badge (by Discord), and removing it "
            "by hand revokes the badge."
            if mode is RoleDrift.ADOPT
            else "Badge roles now follow the badges: roles given or removed by hand are undone."
        )
        await send(interaction, content=text, ephemeral=True)

    @responds(ephemeral=True)
    @config.command(name="log-channel", description="Where badge changes are logged")
    @app_commands.describe(channel="The channel; leave out to stop logging")
    async def config_log_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.CONFIGURE)
        if channel is not None:
            me = channel.guild.me
            perms = channel.permissions_for(me)
            missing = [
                label
                for label, ok in (
                    ("View Channel", perms.view_channel),
                    ("Send Messages", perms.send_messages),
                    ("Embed Links", perms.embed_links),
                )
                if not ok
            ]
            if missing:
                raise UserFacingError(
                    f"I cannot post in {channel.mention}: I need {', '.join(missing)} there. "
                    "Grant it in the channel's permissions, then run this again."
                )
        await defer(interaction, ephemeral=True)
        await self.service.config.set_log_channel(
            actor, guild_id_of(interaction), None if channel is None else channel.id
        )
        text = (
            f"Badge changes will be logged in {channel.mention}."
            if channel
            else "Badge changes are no longer logged."
        )
        await send(interaction, content=text, ephemeral=True)

    @responds(ephemeral=True)
    @config.command(name="api-public-reads", description="Whether the REST API reads need a token")
    @app_commands.describe(
        mode="on: anyone may read badges through the API (as the reference); off: tokens only"
    )
    async def config_api_public_reads(self, interaction: discord.Interaction, mode: OnOff) -> None:
        actor = await self.bot.actor(interaction, Operation.CONFIGURE)
        await defer(interaction, ephemeral=True)
        public = mode is OnOff.on
        await self.service.config.set_api_public_reads(actor, guild_id_of(interaction), public)
        text = (
            "Anyone can now read this server's badges through the REST API."
            if public
            else "Reading this server's badges through the REST API now needs an API token."
        )
        await send(interaction, content=text, ephemeral=True)


async def setup(bot: BadgeBot) -> None:
    await bot.add_cog(ConfigCommands(bot))
