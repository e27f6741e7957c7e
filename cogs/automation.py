"""/badge rule add|list|remove|auto-revoke, /badge progress and /badge leaderboard:
badges that award themselves, and how far members are from them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands

from badges.automation import (
    AwardPolicy,
    BadgeProgress,
    Rule,
    RuleDraft,
    RuleKind,
    RuleProgress,
    Weights,
    describe,
)
from badges.permissions import Operation
from bot.ui.embeds import who
from bot.ui.replies import UserFacingError, defer, responds, send, send_lines
from bot.ui.text import cut, inert
from cogs.badges import guild_id_of
from cogs.options import BadgeArg, picked_id
from cogs.subcommands import BadgeSubcommands

if TYPE_CHECKING:
    from bot.app import BadgeBot

_KINDS = [
    app_commands.Choice(name="messages sent", value=RuleKind.MESSAGES.value),
    app_commands.Choice(name="reactions received", value=RuleKind.REACTIONS.value),
    app_commands.Choice(name="minutes in voice channels", value=RuleKind.VOICE_MINUTES.value),
    app_commands.Choice(name="days since joining the server", value=RuleKind.TENURE_DAYS.value),
    app_commands.Choice(name="days boosting the server", value=RuleKind.BOOST_DAYS.value),
    app_commands.Choice(name="holds another badge", value=RuleKind.HOLDS_BADGE.value),
    app_commands.Choice(name="top N most active members", value=RuleKind.TOP_ACTIVE.value),
]
_CHANNEL_RE = re.compile(r"<#(\d{15,21})>|\b(\d{15,21})\b")
_BAR = 12
Window = Literal["7 days", "30 days", "90 days", "all time"]
_WINDOWS: dict[str, int | None] = {"7 days": 7, "30 days": 30, "90 days": 90, "all time": None}


def parse_channels(text: str | None) -> frozenset[int]:
    """Channel mentions (<#id>) and bare ids."""
    if not text:
        return frozenset()
    found = {int(m or b) for m, b in _CHANNEL_RE.findall(text)}
    if not found:
        raise UserFacingError("Name the channels to leave out as #mentions, separated by spaces.")
    return frozenset(found)


def bar(value: float, target: float) -> str:
    """▰▰▰▱▱▱ and a percentage."""
    share = 1.0 if target <= 0 else max(0.0, min(1.0, value / target))
    filled = round(share * _BAR)
    return f"{'▰' * filled}{'▱' * (_BAR - filled)} {share:.0%}"


def _progress_line(item: RuleProgress, names: dict[str, str]) -> str:
    rule = item.rule
    text = inert(describe(rule, names))
    if rule.kind is RuleKind.HOLDS_BADGE:
        return f"{'✅' if item.met else '⬜'} {text}"
    if rule.kind is RuleKind.TOP_ACTIVE:
        place = f"#{item.rank}" if item.rank else "not ranked yet"
        return (
            f"{'✅' if item.met else '⬜'} {text}\n{bar(item.value, item.target)} · "
            f"you: {item.value:,.0f} ({place}), place {rule.threshold}: {item.target:,.0f}"
        )
    return (
        f"{'✅' if item.met else '⬜'} {text}\n"
        f"{bar(item.value, item.target)} · {item.value:,.0f} / {item.target:,.0f}"
    )


_EMBED_BUDGET = 5_600
"""Discord refuses embeds over 6,000 characters: room left for the title and the footer."""


def progress_embed(
    member: discord.abc.User, badges: list[BadgeProgress], names: dict[str, str]
) -> discord.Embed:
    embed = discord.Embed(
        title=cut(f"Progress of {who(member)}", 256), colour=discord.Colour.blurple()
    )
    used = len(embed.title or "")
    shown = 0
    for badge in badges[:25]:
        head = cut(f"{'🏅 ' if badge.held else ''}{inert(badge.badge_name)}", 256)
        value = cut("\n".join(_progress_line(item, names) for item in badge.rules), 1024)
        if used + len(head) + len(value) > _EMBED_BUDGET:
            break
        embed.add_field(name=head, value=value, inline=False)
        used += len(head) + len(value)
        shown += 1
    if shown < len(badges):
        embed.set_footer(text=f"{len(badges) - shown} more badges: pick one with the badge option.")
    return embed


def _rule_line(rule: Rule, names: dict[str, str]) -> str:
    return f"`#{rule.id}` {inert(describe(rule, names))}"


async def _rule_choices(
    interaction: discord.Interaction, value: str
) -> list[app_commands.Choice[str]]:
    bot: BadgeBot = interaction.client  # type: ignore[assignment]
    if interaction.guild_id is None:
        return []
    try:
        await bot.actor(interaction, Operation.MANAGE_RULES)
        rules = await bot.service.rules.of_guild(interaction.guild_id)
        names = await bot.service.rules.names(interaction.guild_id)
    except Exception:
        return []
    picked = getattr(interaction.namespace, "badge", None)
    wanted = None
    if picked:
        try:
            wanted = (await bot.catalog.get(interaction.guild_id)).find(str(picked)).id
        except Exception:
            wanted = None
    needle = value.strip().casefold()
    choices = []
    for rule in rules:
        badge_name = names.get(rule.badge_id, "?")
        if wanted is not None and rule.badge_id != wanted:
            continue
        text = f"#{rule.id} {badge_name}: {describe(rule, names)}"
        if needle in text.casefold():
            choices.append(app_commands.Choice(name=cut(text, 100), value=str(rule.id)))
    return choices[:25]


class AutomationCommands(BadgeSubcommands):
    rule = app_commands.Group(name="rule", description="Badges members earn by themselves")

    @responds(ephemeral=True)
    @rule.command(name="add", description="Award a badge automatically when a rule holds (admins)")
    @app_commands.describe(
        badge="The badge",
        kind="What is counted",
        threshold="How many (messages, reactions, minutes, days; N for top N)",
        window_days="Count only the last N days (activity rules; top N: 30 by default)",
        required_badge="For 'holds another badge': the badge a member must hold",
        replace="For 'holds another badge': take the lower badge back when this one is earned",
        cooldown="Messages count at most once a minute (a burst of one-word messages is one)",
        exclude="Channels that don't count, as #mentions",
        message_weight="Top N: what one message counts (1 by default)",
        reaction_weight="Top N: what one reaction received counts (0 by default)",
        voice_weight="Top N: what one minute in voice counts (0 by default)",
    )
    @app_commands.choices(kind=_KINDS)
    async def add(
        self,
        interaction: discord.Interaction,
        badge: BadgeArg,
        kind: app_commands.Choice[str],
        threshold: app_commands.Range[int, 1, 10_000_000],
        window_days: app_commands.Range[int, 1, 365] | None = None,
        required_badge: BadgeArg | None = None,
        replace: bool = False,
        cooldown: bool = False,
        exclude: app_commands.Range[str, 1, 1000] | None = None,
        message_weight: app_commands.Range[float, 0, 100] | None = None,
        reaction_weight: app_commands.Range[float, 0, 100] | None = None,
        voice_weight: app_commands.Range[float, 0, 100] | None = None,
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.MANAGE_RULES)
        rule_kind = RuleKind(kind.value)
        weights = Weights()
        if rule_kind is RuleKind.TOP_ACTIVE:
            weights = Weights(
                1.0 if message_weight is None else message_weight,
                reaction_weight or 0.0,
                voice_weight or 0.0,
            )
        elif (message_weight, reaction_weight, voice_weight) != (None, None, None):
            raise UserFacingError("Weights are for a 'top N most active members' rule only.")
        draft = RuleDraft(
            kind=rule_kind,
            threshold=threshold,
            window_days=window_days,
            excluded_channel_ids=parse_channels(exclude),
            cooldown=cooldown,
            weights=weights,
            required_badge_id=required_badge.id if required_badge else None,
            replaces=replace,
        )
        await defer(interaction, ephemeral=True)
        guild_id = guild_id_of(interaction)
        added = await self.service.rules.add(actor, guild_id, badge.id, draft)
        names = await self.service.rules.names(guild_id)
        report = added.report
        text = (
            f"Rule `#{added.rule.id}` added to **{inert(badge.name)}**: "
            f"{inert(describe(added.rule, names))}.\n"
            f"Checked everyone counted so far: {report.awarded} member"
            f"{'s' if report.awarded != 1 else ''} received it now."
        )
        if report.refused:
            text += f"\n⚠️ {inert(cut(next(iter(report.refused.values())), 300))}"
        await send(interaction, content=text, ephemeral=True)

    @responds(ephemeral=True)
    @rule.command(name="list", description="The rules of automatic badges")
    @app_commands.describe(badge="Only this badge's rules")
    async def list_rules(
        self, interaction: discord.Interaction, badge: BadgeArg | None = None
    ) -> None:
        await defer(interaction, ephemeral=True)
        guild_id = guild_id_of(interaction)
        rules = await self.service.rules.of_guild(guild_id)
        if badge is not None:
            rules = [r for r in rules if r.badge_id == badge.id]
        if not rules:
            await send(
                interaction,
                content="No automatic badges yet: add a rule with /badge rule add.",
                ephemeral=True,
            )
            return
        names = await self.service.rules.names(guild_id)
        policies = await self.service.rules.policies(guild_id)
        lines: list[str] = []
        for badge_id in dict.fromkeys(r.badge_id for r in rules):
            policy = policies.get(badge_id, AwardPolicy(badge_id))
            revoke = " · taken back when no longer met" if policy.auto_revoke else ""
            lines.append(f"**{inert(names.get(badge_id, '?'))}**{revoke}")
            lines.extend(f"• {_rule_line(r, names)}" for r in rules if r.badge_id == badge_id)
        await send_lines(interaction, lines, ephemeral=True)

    @responds(ephemeral=True)
    @rule.command(name="remove", description="Remove a rule of an automatic badge (admins)")
    @app_commands.describe(badge="The badge", rule="The rule (pick it from the list)")
    @app_commands.autocomplete(rule=_rule_choices)
    async def remove(self, interaction: discord.Interaction, badge: BadgeArg, rule: str) -> None:
        actor = await self.bot.actor(interaction, Operation.MANAGE_RULES)
        rule_id = picked_id(rule, "rule")
        await defer(interaction, ephemeral=True)
        guild_id = guild_id_of(interaction)
        removed = await self.service.rules.remove(actor, guild_id, badge.id, rule_id)
        names = await self.service.rules.names(guild_id)
        await send(
            interaction,
            content=(
                f"Removed rule `#{removed.id}` of **{inert(badge.name)}** "
                f"({inert(describe(removed, names))}). Members who hold the badge keep it."
            ),
            ephemeral=True,
        )

    @responds(ephemeral=True)
    @rule.command(
        name="auto-revoke", description="Take an automatic badge back when it is no longer met"
    )
    @app_commands.describe(
        badge="The badge",
        enabled="Take it back from members who no longer meet its rules",
        every_hours="Top N badges: re-rank this often (24 by default)",
    )
    async def auto_revoke(
        self,
        interaction: discord.Interaction,
        badge: BadgeArg,
        enabled: bool,
        every_hours: app_commands.Range[int, 1, 2160] | None = None,
    ) -> None:
        actor = await self.bot.actor(interaction, Operation.MANAGE_RULES)
        await defer(interaction, ephemeral=True)
        changes: dict[str, object] = {"auto_revoke": enabled}
        if every_hours is not None:
            changes["rotation_hours"] = every_hours
        policy = await self.service.rules.set_policy(
            actor, guild_id_of(interaction), badge.id, **changes
        )
        text = (
            f"**{inert(badge.name)}** is now taken back from members who no longer meet its "
            f"rules (awards made by hand stay). Top N rules re-rank every "
            f"{policy.rotation_hours} h."
            if policy.auto_revoke
            else f"**{inert(badge.name)}** now stays with members once earned."
        )
        await send(interaction, content=text, ephemeral=True)

    @responds(ephemeral=True)
    @app_commands.command(name="progress", description="How far you are from automatic badges")
    @app_commands.describe(badge="Only this badge")
    async def progress(
        self, interaction: discord.Interaction, badge: BadgeArg | None = None
    ) -> None:
        await defer(interaction, ephemeral=True)
        guild_id = guild_id_of(interaction)
        items = await self.service.rules.progress(
            guild_id, interaction.user.id, badge.id if badge else None
        )
        if not items:
            what = f"**{inert(badge.name)}** is not" if badge else "No badge is"
            await send(
                interaction,
                content=f"{what} earned automatically here.",
                ephemeral=True,
            )
            return
        names = await self.service.rules.names(guild_id)
        await send(
            interaction, embed=progress_embed(interaction.user, items, names), ephemeral=True
        )

    @responds(ephemeral=False)
    @app_commands.command(name="leaderboard", description="The most active members")
    @app_commands.describe(window="Over which period (30 days by default)")
    async def leaderboard(
        self, interaction: discord.Interaction, window: Window = "30 days"
    ) -> None:
        guild_id = guild_id_of(interaction)
        await defer(interaction, ephemeral=False)
        standings = await self.service.activity.leaderboard(
            guild_id, window_days=_WINDOWS[window], limit=10
        )
        embed = discord.Embed(title=f"Most active members · {window}", colour=discord.Colour.gold())
        medals = ["🥇", "🥈", "🥉"]
        embed.description = (
            "\n".join(
                f"{medals[i] if i < 3 else f'`{i + 1}.`'} <@{s.user_id}> · {s.score:,.1f}"
                for i, s in enumerate(standings)
            )
            or "No activity counted yet."
        )
        embed.set_footer(text="A message counts 1, a reaction received 0.5, a minute in voice 0.1.")
        await send(interaction, embed=embed)


async def setup(bot: BadgeBot) -> None:
    await bot.add_cog(AutomationCommands(bot))
