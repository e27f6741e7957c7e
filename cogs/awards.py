"""/badge award, revoke, history, award-role and award-many: giving and taking badges."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from badges.automation import AwardPolicy
from badges.errors import BadgeInactive, NotAMember, clip
from badges.model import Badge
from badges.permissions import Actor, Operation, authorize
from badges.service.awards import may_give
from bot.roles.members import role_member_ids
from bot.roles.progress import follow
from bot.ui import embeds
from bot.ui.replies import UserFacingError, acknowledge, defer, responds, send
from bot.ui.text import inert
from bot.ui.views import send_pages
from cogs.badges import guild_id_of, pages
from cogs.options import BadgeArg
from cogs.subcommands import BadgeSubcommands

if TYPE_CHECKING:
    from bot.app import BadgeBot

Reason = app_commands.Range[str, 1, 500]
# member mentions, or bare ids that are not part of a channel, role or emoji mention
_ID_RE = re.compile(r"<@!?(\d{15,21})>|(?<![#&:\d])\b(\d{15,21})\b(?!>)")
MAX_LIST_BYTES = 512 * 1024
NO_MEMBER_FOUND = "I found no member in that: paste mentions (@name) or ids (18-19 digits)."


def parse_member_ids(text: str) -> list[int]:
    """Mentions (<@id>, <@!id>) and bare ids, in order, once each."""
    seen: dict[int, None] = {}
    for mention, bare in _ID_RE.findall(text):
        seen.setdefault(int(mention or bare))
    return list(seen)


def refuse_inactive(badge: Badge) -> None:
    if not badge.is_active:
        raise BadgeInactive(f"Cannot award inactive badge '{clip(badge.name)}'.")


async def refuse_award_early(
    bot: BadgeBot,
    interaction: discord.Interaction,
    actor: Actor,
    badge: Badge,
    member: discord.Member,
) -> None:
    """Refuse from memory, before acknowledging, what the service would refuse: the badge's
    policy, a bot, an inactive badge. A hint only: the service checks all of it again."""
    policies = bot.policy_cache.peek(badge.guild_id)
    if policies is None:
        await acknowledge(interaction)
        policies = await bot.policy_cache.get(badge.guild_id)
    may_give(actor, policies.get(badge.slug, AwardPolicy(badge.id)), member.id)
    if member.bot:
        raise NotAMember("Bots cannot hold badges: pick a member.")
    refuse_inactive(badge)


async def award_and_reply(
    bot: BadgeBot,
    interaction: discord.Interaction,
    actor: Actor,
    badge: Badge,
    member: discord.Member,
    reason: str | None,
) -> None:
    """Award (or give) the badge, replying in public: refused from memory at once, else
    acknowledged before the write, so a write never happens for an interaction Discord
    has already given up on (a failed deferral raises before it)."""
    await refuse_award_early(bot, interaction, actor, badge, member)
    bot.directory.remember(member)  # resolved by Discord: no lookup needed
    await defer(interaction, ephemeral=False)
    result = await bot.service.awards.award(
        actor, guild_id_of(interaction), badge.id, member.id, reason=reason
    )
    embed = (
        embeds.given(result.badge, member, result)
        if result.latest_giver
        else embeds.awarded(result.badge, member, result.award)
    )
    await send(interaction, embed=embed)


class AwardCommands(BadgeSubcommands):
    @responds(ephemeral=True)
    @app_commands.command(name="history", description="A member's awards and revocations")
    @app_commands.describe(member="The member")
    async def history(self, interaction: discord.Interaction, member: discord.User) -> None:
        actor = await self.bot.actor(interaction)
        if member.id != actor.user_id:
            authorize(actor, Operation.READ_OTHERS_HISTORY)
        guild_id = guild_id_of(interaction)
        await defer(interaction, ephemeral=True)

        async def render(page: int) -> tuple[discord.Embed, int]:
            per = embeds.HISTORY_PER_PAGE
            result = await self.service.awards.history(
                actor, guild_id, member.id, offset=page * per, limit=per
            )
            count = pages(result.total, per)
            return embeds.history(member, result.items, page, count, result.total), count

        await send_pages(interaction, render, ephemeral=True)

    @responds(ephemeral=False)
    @app_commands.command(
        name="award", description="Award a badge to a member (moderators, or as a badge allows)"
    )
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
        # no level check here: a badge's policy may let members give it
        actor = await self.bot.actor(interaction)
        await award_and_reply(self.bot, interaction, actor, badge, member, reason)

    @responds(ephemeral=False)
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
        await defer(interaction, ephemeral=False)
        result = await self.service.awards.revoke(
            actor, guild_id_of(interaction), badge.id, member.id, reason=reason
        )
        await send(
            interaction,
            embed=embeds.revoked(result.badge, member, reason, actor.display_name),
        )

    @responds(ephemeral=False)
    @app_commands.command(name="award-role", description="Award a badge to everyone with a role")
    @app_commands.describe(badge="The badge", role="Everyone with this role receives it")
    async def award_role(
        self, interaction: discord.Interaction, badge: BadgeArg, role: discord.Role
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.AWARD)
        guild = self.guild_of(interaction)
        if role.is_default():
            raise UserFacingError("Award to @everyone? Pick a specific role.")
        refuse_inactive(badge)
        await defer(interaction, ephemeral=False)
        members = await role_member_ids(self.bot.intents, guild, role)
        if members is None:
            raise UserFacingError(
                "I cannot see who has a role without the Server Members intent: "
                "use /badge award-many with the members instead (see /badge doctor)."
            )
        await self._bulk(interaction, actor, badge, sorted(members))

    @responds(ephemeral=False)
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
        if file is not None and file.size > MAX_LIST_BYTES:
            raise UserFacingError("That file is over 512 KB: split the list.")
        ids = parse_member_ids(members or "")
        if file is None and not ids:
            raise UserFacingError(NO_MEMBER_FOUND)
        refuse_inactive(badge)
        await defer(interaction, ephemeral=False)  # reading the file asks Discord's CDN
        if file is not None:
            data = await file.read()
            text = (members or "") + "\n" + data.decode("utf-8", errors="replace")
            ids = parse_member_ids(text)
            if not ids:
                raise UserFacingError(NO_MEMBER_FOUND)
        await self._bulk(interaction, actor, badge, ids)

    async def _bulk(
        self,
        interaction: discord.Interaction,
        actor: Actor,
        badge: Badge,
        user_ids: list[int],
    ) -> None:
        guild = self.guild_of(interaction)
        result = await self.service.awards.bulk_award(actor, guild.id, badge.id, user_ids)
        summary = (
            f"**{embeds.label(result.badge)}**: {embeds.plural(len(result.awarded), 'member')} "
            f"awarded, {len(result.already_held)} already held it"
        )
        if result.refused:
            shown = ", ".join(
                f"<@{uid}> ({inert(why)})" for uid, why in list(result.refused.items())[:10]
            )
            more = len(result.refused) - 10
            summary += f", {len(result.refused)} refused: {shown}"
            summary += f" and {more} more" if more > 0 else ""
        summary += "."
        await send(interaction, content=summary)
        if result.badge.role_id is not None and result.awarded:
            await follow(
                interaction,
                self.bot.role_sync,
                lambda: self.service.queue.progress(guild.id, badge.id),
                len(result.awarded),
                summary,
            )


async def setup(bot: BadgeBot) -> None:
    await bot.add_cog(AwardCommands(bot))
