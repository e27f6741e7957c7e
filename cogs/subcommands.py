"""Sub-commands of /badge that live in their own cog.

Discord allows one /badge command, and its sub-commands are split by area across cogs. The
/badge group belongs to ``cogs.badges.BadgeCog``; a ``BadgeSubcommands`` cog hands its own
app commands to that group when it loads (they stay bound to it) and takes them back when it
unloads, so the tree always holds exactly the commands of the loaded cogs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.ui.replies import UserFacingError

if TYPE_CHECKING:
    from badges.service import BadgeService
    from bot.app import BadgeBot

GROUP_COG = "BadgeCog"


class BadgeSubcommands(commands.Cog):
    def __init__(self, bot: BadgeBot) -> None:
        self.bot = bot
        self.service: BadgeService = bot.service
        self._attached: list[app_commands.Command[Any, ..., Any] | app_commands.Group] = []

    def _group(self) -> app_commands.Group:
        owner = self.bot.get_cog(GROUP_COG)
        group = getattr(owner, "app_command", None)
        if not isinstance(group, app_commands.Group):
            raise RuntimeError("load cogs.badges (the /badge group) before its sub-commands")
        return group

    async def cog_load(self) -> None:
        group = self._group()
        for command in self.__cog_app_commands__:
            group.add_command(command)
            self._attached.append(command)
        # they are the group's now: the cog must not also add them to the tree's top level
        self.__cog_app_commands__ = []

    async def cog_unload(self) -> None:
        owner = self.bot.get_cog(GROUP_COG)
        group = getattr(owner, "app_command", None)
        if isinstance(group, app_commands.Group):
            for command in self._attached:
                group.remove_command(command.name)
        self._attached.clear()

    @staticmethod
    def guild_of(interaction: discord.Interaction) -> discord.Guild:
        if interaction.guild is None:
            raise UserFacingError("Use this command in a server.")
        return interaction.guild
