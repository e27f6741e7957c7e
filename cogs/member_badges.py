"""/badges [member]: anyone's badges, shown in the channel for the community to see."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.ui import embeds
from bot.ui.cooldowns import public_cooldown
from bot.ui.replies import responds
from bot.ui.views import send_pages

if TYPE_CHECKING:
    from bot.app import BadgeBot


class MemberBadgesCog(commands.Cog):
    def __init__(self, bot: BadgeBot) -> None:
        self.bot = bot

    @responds(ephemeral=False)
    @app_commands.command(name="badges", description="Show a member's badges")
    @app_commands.describe(member="Whose badges (yours if left out)")
    @app_commands.guild_only()
    @public_cooldown("badges")
    async def badges(
        self, interaction: discord.Interaction, member: discord.User | None = None
    ) -> None:
        target = member or interaction.user
        assert interaction.guild_id is not None
        guild_id = interaction.guild_id

        async def render(page: int) -> tuple[discord.Embed, int]:
            per = embeds.BADGES_PER_PAGE
            result = await self.bot.member_pages.get(
                guild_id, target.id, offset=page * per, limit=per
            )
            pages = max(1, math.ceil(result.total / per))
            return embeds.member_badges(target, result.items, page, pages, result.total), pages

        # a read-only reply that refuses nothing after this: answered at once when quick
        await send_pages(interaction, render, ephemeral=False, quick=True)


async def setup(bot: BadgeBot) -> None:
    await bot.add_cog(MemberBadgesCog(bot))
