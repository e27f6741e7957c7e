"""/badge policy (who may award a badge) and the "Give badge" context menu on a member."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands

from badges.automation import Awarders, AwardPolicy
from badges.permissions import Actor, Level, Operation
from bot.ui.replies import (
    UserFacingError,
    declare_privacy,
    defer,
    report_error,
    responds,
    send,
)
from bot.ui.text import cut, inert
from bot.ui.views import OwnedView
from cogs.awards import award_and_reply
from cogs.badges import guild_id_of
from cogs.options import BadgeArg, badge_index, givable_badges
from cogs.subcommands import BadgeSubcommands

if TYPE_CHECKING:
    from bot.app import BadgeBot

GIVE_BADGE = "Give badge"
_CHOICES_MAX = 25


def describe_policy(policy: AwardPolicy) -> str:
    match policy.awarders:
        case Awarders.MODERATORS:
            who = "moderators only"
        case Awarders.ROLE:
            who = f"moderators and members with <@&{policy.role_id}>"
        case Awarders.MEMBERS:
            who = "any member, to anyone but themselves, once per recipient"
    limits = []
    if policy.per_day is not None:
        limits.append(f"at most {policy.per_day} a day per member")
    if policy.self_award:
        limits.append("to themselves too")
    return who + (f" ({', '.join(limits)})" if limits else "")


async def give(
    bot: BadgeBot,
    interaction: discord.Interaction,
    actor: Actor,
    slug: str,
    member: discord.Member,
    reason: str | None,
) -> None:
    """Award (or give) the badge and reply in public: the one path of the menu's flow."""
    badge = (await badge_index(bot, interaction)).find(slug)
    await award_and_reply(bot, interaction, actor, badge, member, reason)


class ReasonModal(discord.ui.Modal):
    reason: discord.ui.TextInput[ReasonModal] = discord.ui.TextInput(
        label="Why (shown to everyone)",
        custom_id="reason",
        style=discord.TextStyle.paragraph,
        required=False,
        max_length=500,
    )

    def __init__(self, bot: BadgeBot, actor: Actor, slug: str, name: str, member: discord.Member):
        super().__init__(title=cut(f"Give {name}", 45))
        self.bot, self.actor, self.slug, self.member = bot, actor, slug, member

    async def on_submit(self, interaction: discord.Interaction) -> None:
        declare_privacy(interaction, ephemeral=False)  # the award is announced in public
        actor = await self.bot.actor(interaction)  # as they are now, not when the menu opened
        await give(self.bot, interaction, actor, self.slug, self.member, self.reason.value or None)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception
    ) -> None:
        await report_error(interaction, error)


class BadgePicker(OwnedView):
    """An ephemeral menu of the badges the member may give; picking one asks why."""

    def __init__(
        self, bot: BadgeBot, actor: Actor, member: discord.Member, badges: list[tuple[str, str]]
    ) -> None:
        super().__init__(actor.user_id, timeout=300)
        self.bot, self.actor, self.member = bot, actor, member
        self.names = {slug: name for name, slug in badges}
        select: discord.ui.Select[BadgePicker] = discord.ui.Select(
            placeholder="Pick a badge",
            options=[
                discord.SelectOption(label=cut(name, 100), value=slug)
                for name, slug in badges[:_CHOICES_MAX]
            ],
        )
        select.callback = self._picked  # type: ignore[method-assign]
        self.select = select
        self.add_item(select)

    async def _picked(self, interaction: discord.Interaction) -> None:
        slug = self.select.values[0]
        await interaction.response.send_modal(
            ReasonModal(self.bot, self.actor, slug, self.names.get(slug, slug), self.member)
        )


class GivingCommands(BadgeSubcommands):
    def __init__(self, bot: BadgeBot) -> None:
        super().__init__(bot)
        self.menu = app_commands.ContextMenu(name=GIVE_BADGE, callback=self.give_badge)
        self.menu.allowed_contexts = app_commands.AppCommandContext(guild=True)
        responds(ephemeral=True)(self.menu)

    async def cog_load(self) -> None:
        await super().cog_load()
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        await super().cog_unload()

    @responds(ephemeral=True)
    @app_commands.command(name="policy", description="Who may award a badge (admins)")
    @app_commands.describe(
        badge="The badge",
        awarders="Who may award it: moderators, members with a role, or any member (kudos)",
        role="With awarders:role, the role whose members may award it",
        per_day="At most this many awards a day by each member (not moderators); 0: no limit",
        self_award="With awarders:role, members may award it to themselves",
    )
    async def policy(
        self,
        interaction: discord.Interaction,
        badge: BadgeArg,
        awarders: Literal["moderators", "members", "role"] | None = None,
        role: discord.Role | None = None,
        per_day: app_commands.Range[int, 0, 1000] | None = None,
        self_award: bool | None = None,
    ) -> None:
        guild_id = guild_id_of(interaction)
        if awarders is None and role is None and per_day is None and self_award is None:
            await defer(interaction, ephemeral=True)
            _, current = await self.service.rules.policy(guild_id, badge.id)
            await send(
                interaction,
                content=f"**{inert(badge.name)}** can be awarded by {describe_policy(current)}.",
                ephemeral=True,
            )
            return
        actor = await self.bot.actor(interaction, Operation.MANAGE_RULES)
        if role is not None and awarders not in (None, "role"):
            raise UserFacingError("A role is only used with awarders:role.")
        changes: dict[str, object] = {}
        if awarders is not None:
            changes["awarders"] = Awarders(awarders)
        if per_day is not None:
            changes["per_day"] = per_day or None
        if role is not None:
            changes["role_id"] = role.id
            changes.setdefault("awarders", Awarders.ROLE)
        if self_award is not None:
            changes["self_award"] = self_award
        await defer(interaction, ephemeral=True)
        policy = await self.service.rules.set_policy(actor, guild_id, badge.id, **changes)
        await send(
            interaction,
            content=f"**{inert(badge.name)}** can now be awarded by {describe_policy(policy)}.",
            ephemeral=True,
        )

    async def give_badge(self, interaction: discord.Interaction, member: discord.Member) -> None:
        """Context menu: pick one of the badges you may give, then say why."""
        actor = await self.bot.actor(interaction)
        if member.bot:
            raise UserFacingError("Bots cannot hold badges: pick a member.")
        badges = await givable_badges(self.bot, actor, guild_id_of(interaction), interaction)
        if not badges:
            raise UserFacingError(
                "There is no badge you can give here. Admins choose who may give a badge "
                "with /badge policy."
            )
        if actor.level < Level.MODERATOR and member.id == actor.user_id:
            raise UserFacingError("You cannot give yourself a badge: pick another member.")
        note = ""
        if len(badges) > _CHOICES_MAX:
            note = f" (the first {_CHOICES_MAX}; use /badge award for the others)"
        await send(
            interaction,
            content=f"Which badge do you give {member.mention}?{note}",
            view=BadgePicker(self.bot, actor, member, badges),
            ephemeral=True,
        )


async def setup(bot: BadgeBot) -> None:
    await bot.add_cog(GivingCommands(bot))
