"""/badge: the group, and defining and reading badges.

Thin adapter: parse options, ask the service, render the result. Every sub-command checks the
caller's level through the service, because Discord's permission hints apply only to the whole
/badge command, which must stay visible to everyone. Other areas of /badge (awards, roles,
gates, configuration) are cogs of their own that attach to this group (``cogs.subcommands``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from badges import validation
from badges.permissions import Operation, authorize
from badges.service import UNSET
from bot.roles.checks import manage_roles_problem, role_limit_problem
from bot.ui import embeds
from bot.ui.cooldowns import public_cooldown
from bot.ui.replies import UserFacingError, defer, responds, send
from bot.ui.views import ask, send_pages
from cogs.options import BadgeArg, cleared

if TYPE_CHECKING:
    from bot.app import BadgeBot

Name = app_commands.Range[str, 1, 100]
Slug = app_commands.Range[str, 1, 64]
Description = app_commands.Range[str, 1, 1000]
Icon = app_commands.Range[str, 1, 512]
Colour = app_commands.Range[str, 1, 7]


def pages(total: int, per_page: int) -> int:
    return max(1, math.ceil(total / per_page))


def guild_id_of(interaction: discord.Interaction) -> int:
    assert interaction.guild_id is not None  # the group is guild_only
    return interaction.guild_id


async def create_linked_role(guild: discord.Guild, name: str, color: str | None) -> discord.Role:
    """Create a role for a new badge (just above @everyone, as Discord places it), with no
    permissions of its own: it only opens the channels its badge gates."""
    colour = discord.Colour(int(color[1:], 16)) if color else discord.Colour.default()
    return await guild.create_role(
        name=name,
        colour=colour,
        permissions=discord.Permissions.none(),
        reason="badgebot: badge role",
    )


@app_commands.guild_only()
class BadgeCog(commands.GroupCog, group_name="badge", group_description="Server badges"):
    def __init__(self, bot: BadgeBot) -> None:
        self.bot = bot
        self.service = bot.service
        super().__init__()

    # -- defining badges -----------------------------------------------------------------

    @responds(ephemeral=True)
    @app_commands.command(name="create", description="Create a badge (admins)")
    @app_commands.describe(
        name="Badge name, unique in this server",
        description="What the badge means",
        icon="An emoji, a server emoji or an https:// image URL",
        color="Hex colour like #FF5733",
        slug="Short id for the API, like early-adopter (made from the name if left out)",
        role="A role its holders get (for example to open gated channels)",
        create_role="Create a role named after the badge, in its colour, for its holders",
    )
    async def create(
        self,
        interaction: discord.Interaction,
        name: Name,
        description: Description | None = None,
        icon: Icon | None = None,
        color: Colour | None = None,
        slug: Slug | None = None,
        role: discord.Role | None = None,
        create_role: bool = False,
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.CREATE_BADGE)
        guild = interaction.guild
        assert guild is not None
        if role is not None and create_role:
            raise UserFacingError("Give either `role` or `create_role`, not both.")
        if role is not None or create_role:  # refuse early, before any role is created
            authorize(actor, Operation.LINK_ROLE)
        if create_role and (problem := manage_roles_problem(guild) or role_limit_problem(guild)):
            raise UserFacingError(problem)
        clean_name, clean_color = validation.name(name), validation.color(color)
        await defer(interaction, ephemeral=True)
        made = await create_linked_role(guild, clean_name, clean_color) if create_role else None
        if made is not None:
            self.bot.directory.remember_role(made)
        linked = made or role
        try:
            badge = await self.service.catalog.create(
                actor,
                guild.id,
                name=name,
                slug=slug,
                description=description,
                icon=icon,
                color=color,
                role_id=linked.id if linked else None,
                role_managed=made is not None,
            )
        except BaseException:
            if made is not None:  # the badge was refused: do not leave its role behind
                await made.delete(reason="badgebot: badge creation failed")
            raise
        await send(
            interaction,
            content=f"Created **{embeds.label(badge)}**. Award it with `/badge award`.",
            embed=embeds.badge_info(badge),
        )

    @responds(ephemeral=True)
    @app_commands.command(name="edit", description="Change a badge (admins)")
    @app_commands.describe(
        badge="The badge to change",
        name="New name (the slug stays unless you give one)",
        description="New description, or - to clear it",
        icon="New emoji or https:// image URL, or - to clear it",
        color="New hex colour like #FF5733, or - to clear it",
        slug="New slug",
        active="Inactive badges stay with their holders but cannot be awarded",
    )
    async def edit(
        self,
        interaction: discord.Interaction,
        badge: BadgeArg,
        name: Name | None = None,
        description: Description | None = None,
        icon: Icon | None = None,
        color: Colour | None = None,
        slug: Slug | None = None,
        active: bool | None = None,
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.EDIT_BADGE)
        given = (name, description, icon, color, slug, active)
        if all(v is None for v in given):
            raise UserFacingError("Nothing to change: give at least one option to edit.")
        await defer(interaction, ephemeral=True)
        updated = await self.service.catalog.update(
            actor,
            guild_id_of(interaction),
            badge.id,
            name=UNSET if name is None else name,
            description=UNSET if description is None else cleared(description),
            icon=UNSET if icon is None else cleared(icon),
            color=UNSET if color is None else cleared(color),
            slug=UNSET if slug is None else slug,
            is_active=UNSET if active is None else active,
        )
        await send(
            interaction,
            content=f"Updated **{embeds.label(updated)}**.",
            embed=embeds.badge_info(updated),
        )

    @responds(ephemeral=False)
    @app_commands.command(name="delete", description="Delete a badge; its holders lose it (admins)")
    @app_commands.describe(badge="The badge to delete")
    async def delete(self, interaction: discord.Interaction, badge: BadgeArg) -> None:
        actor = await self.bot.actor(interaction, Operation.DELETE_BADGE)
        guild_id = guild_id_of(interaction)
        await defer(interaction, ephemeral=False)
        badge = await self.service.catalog.get(guild_id, badge.id)  # its holders as of now

        async def confirmed(click: discord.Interaction) -> str:
            result = await self.service.catalog.delete(actor, guild_id, badge.id)
            lost = embeds.members_who(len(result.holder_ids), "no longer holds", "no longer hold")
            return f"Deleted **{embeds.label(badge)}**. {lost} it; their history keeps it."

        holders = embeds.members_who(badge.awarded_count, "holds", "hold")
        await ask(
            interaction,
            f"Delete **{embeds.label(badge)}**? {holders} it and will lose it. "
            "This cannot be undone.",
            [("Delete badge", confirmed)],
            cancelled=f"Kept **{embeds.label(badge)}**",
        )

    # -- reading -------------------------------------------------------------------------

    @responds(ephemeral=False)
    @app_commands.command(name="info", description="Show a badge")
    @public_cooldown("badge info")
    @app_commands.describe(badge="The badge to show")
    async def info(self, interaction: discord.Interaction, badge: BadgeArg) -> None:
        guild_id = guild_id_of(interaction)
        await defer(interaction, ephemeral=False)
        current = await self.service.catalog.get(guild_id, badge.id)  # holders as of now
        gates = await self.service.gates.of(guild_id, badge.id)
        await send(interaction, embed=embeds.badge_info(current, [g.channel_id for g in gates]))

    @responds(ephemeral=True)
    @app_commands.command(name="list", description="All badges of this server")
    @public_cooldown("badge list")
    @app_commands.describe(include_inactive="Also show badges that can no longer be awarded")
    async def list(self, interaction: discord.Interaction, include_inactive: bool = False) -> None:
        guild_id = guild_id_of(interaction)
        active = None if include_inactive else True
        await defer(interaction, ephemeral=True)

        async def render(page: int) -> tuple[discord.Embed, int]:
            per = embeds.LIST_PER_PAGE
            result = await self.service.catalog.list(
                guild_id, active=active, offset=page * per, limit=per
            )
            count = pages(result.total, per)
            return embeds.badge_list(result.items, page, count, result.total), count

        await send_pages(interaction, render, ephemeral=True)

    @responds(ephemeral=True)
    @app_commands.command(name="holders", description="Members who hold a badge, newest first")
    @public_cooldown("badge holders")
    @app_commands.describe(badge="The badge")
    async def holders(self, interaction: discord.Interaction, badge: BadgeArg) -> None:
        guild_id = guild_id_of(interaction)
        await defer(interaction, ephemeral=True)

        async def render(page: int) -> tuple[discord.Embed, int]:
            per = embeds.HOLDERS_PER_PAGE
            result = await self.service.awards.holders(
                guild_id, badge.id, offset=page * per, limit=per
            )
            current = await self.service.catalog.get(guild_id, badge.id)
            count = pages(result.total, per)
            return embeds.holders(current, result.items, page, count), count

        await send_pages(interaction, render, ephemeral=True)


async def setup(bot: BadgeBot) -> None:
    await bot.add_cog(BadgeCog(bot))
