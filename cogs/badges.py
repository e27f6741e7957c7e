"""/badge ...: define, award and inspect badges, and configure the badge system.

Thin adapter: parse options, ask the service, render the result. Every sub-command checks the
caller's level through the service, because Discord's permission hints apply only to the whole
/badge command, which must stay visible to everyone.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from badges import validation
from badges.model import RoleDrift
from badges.permissions import Level, Operation, authorize
from badges.service import UNSET
from bot import embeds
from bot.replies import UserFacingError, defer, send, within_budget
from bot.role_checks import grant_problem, manage_roles_problem, role_limit_problem, role_problem
from bot.views import ask, send_pages
from cogs.options import BadgeArg, cleared
from cogs.role_commands import RoleCommands

if TYPE_CHECKING:
    from bot.app import BadgeBot

Name = app_commands.Range[str, 1, 100]
Slug = app_commands.Range[str, 1, 64]
Description = app_commands.Range[str, 1, 1000]
Icon = app_commands.Range[str, 1, 512]
Colour = app_commands.Range[str, 1, 7]
Reason = app_commands.Range[str, 1, 500]


class LevelChoice(Enum):
    moderator = "moderator"
    admin = "admin"

    @property
    def level(self) -> Level:
        return Level[self.name.upper()]


def _pages(total: int, per_page: int) -> int:
    return max(1, math.ceil(total / per_page))


def _guild(interaction: discord.Interaction) -> int:
    assert interaction.guild_id is not None  # the group is guild_only
    return interaction.guild_id


@app_commands.guild_only()
class BadgeCog(
    RoleCommands, commands.GroupCog, group_name="badge", group_description="Server badges"
):
    config = app_commands.Group(name="config", description="Badge system settings (admins)")

    def __init__(self, bot: BadgeBot) -> None:
        self.bot = bot
        self.service = bot.service
        super().__init__()

    # -- defining badges -----------------------------------------------------------------

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
        if role is not None and (
            problem := role_problem(guild, role)
            or grant_problem(
                role, interaction.user, actor, await self.bot.guild_settings.get(guild.id)
            )
        ):
            raise UserFacingError(problem)
        if create_role and (problem := manage_roles_problem(guild) or role_limit_problem(guild)):
            raise UserFacingError(problem)
        clean_name, clean_color = validation.name(name), validation.color(color)
        await defer(interaction, ephemeral=True)
        made = (
            await self.create_linked_role(guild, clean_name, clean_color) if create_role else None
        )
        linked = made or role
        try:
            badge = await self.service.create_badge(
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
        updated = await self.service.update_badge(
            actor,
            _guild(interaction),
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

    @app_commands.command(name="delete", description="Delete a badge; its holders lose it (admins)")
    @app_commands.describe(badge="The badge to delete")
    async def delete(self, interaction: discord.Interaction, badge: BadgeArg) -> None:
        actor = await self.bot.actor(interaction, Operation.DELETE_BADGE)
        guild_id = _guild(interaction)

        async def confirmed(click: discord.Interaction) -> str:
            result = await self.service.delete_badge(actor, guild_id, badge.id)
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

    @app_commands.command(name="info", description="Show a badge")
    @app_commands.describe(badge="The badge to show")
    async def info(self, interaction: discord.Interaction, badge: BadgeArg) -> None:
        gates = await self.service.gates(_guild(interaction), badge.id)
        await send(interaction, embed=embeds.badge_info(badge, [g.channel_id for g in gates]))

    @app_commands.command(name="list", description="All badges of this server")
    @app_commands.describe(include_inactive="Also show badges that can no longer be awarded")
    async def list(self, interaction: discord.Interaction, include_inactive: bool = False) -> None:
        guild_id = _guild(interaction)
        active = None if include_inactive else True
        await defer(interaction, ephemeral=True)

        async def render(page: int) -> tuple[discord.Embed, int]:
            per = embeds.LIST_PER_PAGE
            result = await self.service.list_badges(
                guild_id, active=active, offset=page * per, limit=per
            )
            pages = _pages(result.total, per)
            return embeds.badge_list(result.items, page, pages, result.total), pages

        await send_pages(interaction, render, ephemeral=True)

    @app_commands.command(name="holders", description="Members who hold a badge, newest first")
    @app_commands.describe(badge="The badge")
    async def holders(self, interaction: discord.Interaction, badge: BadgeArg) -> None:
        guild_id = _guild(interaction)
        await defer(interaction, ephemeral=True)

        async def render(page: int) -> tuple[discord.Embed, int]:
            per = embeds.HOLDERS_PER_PAGE
            result = await self.service.list_holders(
                guild_id, badge.id, offset=page * per, limit=per
            )
            current = await self.service.get_badge(guild_id, badge.id)
            pages = _pages(result.total, per)
            return embeds.holders(current, result.items, page, pages), pages

        await send_pages(interaction, render, ephemeral=True)

    @app_commands.command(name="history", description="A member's awards and revocations")
    @app_commands.describe(member="The member")
    async def history(self, interaction: discord.Interaction, member: discord.User) -> None:
        actor = await self.bot.actor(interaction)
        if member.id != actor.user_id:
            authorize(actor, Operation.READ_OTHERS_HISTORY)
        guild_id = _guild(interaction)
        await defer(interaction, ephemeral=True)

        async def render(page: int) -> tuple[discord.Embed, int]:
            per = embeds.HISTORY_PER_PAGE
            result = await self.service.member_history(
                actor, guild_id, member.id, offset=page * per, limit=per
            )
            pages = _pages(result.total, per)
            return embeds.history(member, result.items, page, pages, result.total), pages

        await send_pages(interaction, render, ephemeral=True)

    # -- awarding ------------------------------------------------------------------------

    @app_commands.command(name="award", description="Award a badge to a member (moderators)")
    @app_commands.describe(
        badge="The badge", member="Who receives it", reason="Why (shown to everyone)"
    )
    async def award(
        self,
        interaction: discord.Interaction,
        badge: BadgeArg,
        member: discord.Member,
        reason: Reason | None = None,
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.AWARD)
        if member.bot:
            raise UserFacingError(
                f"{member.display_name} is a bot, and bots cannot hold badges: pick a member."
            )
        result = await within_budget(
            interaction,
            self.service.award(actor, _guild(interaction), badge.id, member.id, reason=reason),
            ephemeral=False,
        )
        await send(interaction, embed=embeds.awarded(result.badge, member, result.award))

    @app_commands.command(name="revoke", description="Take a badge back from a member (moderators)")
    @app_commands.describe(badge="The badge", member="Who loses it", reason="Why")
    async def revoke(
        self,
        interaction: discord.Interaction,
        badge: BadgeArg,
        member: discord.User,
        reason: Reason | None = None,
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.REVOKE)
        result = await within_budget(
            interaction,
            self.service.revoke(actor, _guild(interaction), badge.id, member.id, reason=reason),
            ephemeral=False,
        )
        await send(
            interaction,
            embed=embeds.revoked(result.badge, member, reason, actor.display_name),
        )

    # -- configuration -------------------------------------------------------------------

    @config.command(name="show", description="Show the badge system settings")
    async def config_show(self, interaction: discord.Interaction) -> None:
        await self.bot.actor(interaction, Operation.CONFIGURE)
        settings = await self.service.get_settings(_guild(interaction))
        await send(interaction, embed=embeds.settings(settings), ephemeral=True)

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
        settings = await self.service.set_role_level(
            actor, _guild(interaction), role.id, level.level
        )
        await send(
            interaction,
            content=f"Members with {role.mention} now have the {level.level.label} level.",
            embed=embeds.settings(settings),
            ephemeral=True,
        )

    @config.command(name="unset-role", description="Stop a role from granting a level")
    @app_commands.describe(role="The role")
    async def config_unset_role(self, interaction: discord.Interaction, role: discord.Role) -> None:
        actor = await self.bot.actor(interaction, Operation.CONFIGURE)
        current = await self.service.get_settings(_guild(interaction))
        if role.id not in current.role_levels():
            raise UserFacingError(f"{role.mention} does not grant a level; nothing to unset.")
        await defer(interaction, ephemeral=True)
        settings = await self.service.unset_role(actor, _guild(interaction), role.id)
        await send(
            interaction,
            content=f"{role.mention} no longer grants a level.",
            embed=embeds.settings(settings),
            ephemeral=True,
        )

    @config.command(name="role-drift", description="What a badge role edited by hand means")
    @app_commands.describe(
        mode="revert: the bot undoes hand edits; adopt: they award or revoke the badge"
    )
    async def config_role_drift(self, interaction: discord.Interaction, mode: RoleDrift) -> None:
        actor = await self.bot.actor(interaction, Operation.CONFIGURE)
        await defer(interaction, ephemeral=True)
        await self.service.set_role_drift(actor, _guild(interaction), mode)
        text = (
            "A badge role given by hand now awards the badge (by Discord), and removing it "
            "by hand revokes the badge."
            if mode is RoleDrift.ADOPT
            else "Badge roles now follow the badges: roles given or removed by hand are undone."
        )
        await send(interaction, content=text, ephemeral=True)

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
        await self.service.set_log_channel(
            actor, _guild(interaction), None if channel is None else channel.id
        )
        text = (
            f"Badge changes will be logged in {channel.mention}."
            if channel
            else "Badge changes are no longer logged."
        )
        await send(interaction, content=text, ephemeral=True)


async def setup(bot: BadgeBot) -> None:
    await bot.add_cog(BadgeCog(bot))
