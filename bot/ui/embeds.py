"""How badges look in Discord. Pure functions from domain objects to embeds.

Domain limits keep every piece inside Discord's (names 100, reasons 500, descriptions 1000
characters), and lists are split into pages of a size that stays under the 6,000-character
and 25-field embed limits.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord
from discord.utils import format_dt

from badges.automation import AUTOMATIC_ID
from badges.model import AuditEvent, Award, Badge, EventKind, GuildSettings, MemberBadge
from bot.ui.text import cut, inert

DEFAULT_COLOUR = discord.Colour.blurple()
BADGES_PER_PAGE = 6  # member badges: one field each, up to ~800 characters with a reason
LIST_PER_PAGE = 15
HOLDERS_PER_PAGE = 20
HISTORY_PER_PAGE = 6


def colour(badge: Badge) -> discord.Colour:
    return discord.Colour(int(badge.color[1:], 16)) if badge.color else DEFAULT_COLOUR


def is_url(icon: str | None) -> bool:
    return icon is not None and icon.startswith("https://")


def label(badge: Badge) -> str:
    """The badge's name, as text (never markdown), with its emoji in front if it has one."""
    if badge.icon and not is_url(badge.icon):
        return f"{badge.icon} {inert(badge.name)}"
    return inert(badge.name)


def who(user: discord.abc.User) -> str:
    """A member's display name, as text."""
    return inert(user.display_name)


def _with_icon(embed: discord.Embed, badge: Badge) -> discord.Embed:
    if is_url(badge.icon):
        embed.set_thumbnail(url=badge.icon)
    return embed


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def members_who(n: int, verb_singular: str, verb_plural: str) -> str:
    """ "1 member holds", "3 members hold": a count of members with its verb agreeing."""
    return f"{plural(n, 'member')} {verb_singular if n == 1 else verb_plural}"


def page_footer(embed: discord.Embed, page: int, pages: int, total: int, noun: str) -> None:
    """``noun`` is singular; the footer counts the whole list and names the page."""
    if pages > 1:
        embed.set_footer(text=f"Page {page + 1} of {pages} · {plural(total, noun)}")
    else:
        embed.set_footer(text=plural(total, noun))


def badge_info(badge: Badge, gated_channel_ids: Sequence[int] = ()) -> discord.Embed:
    embed = discord.Embed(
        title=label(badge),
        description=inert(badge.description) if badge.description else "*No description.*",
        colour=colour(badge),
    )
    embed.add_field(name="Slug", value=f"`{badge.slug}`")
    embed.add_field(name="Holders", value=str(badge.awarded_count))
    embed.add_field(
        name="Status", value="Active" if badge.is_active else "Inactive (no new awards)"
    )
    if badge.role_id:
        embed.add_field(name="Role", value=f"<@&{badge.role_id}>")
    if gated_channel_ids:
        embed.add_field(name="Opens", value=" ".join(f"<#{c}>" for c in gated_channel_ids))
    embed.add_field(name="Created", value=format_dt(badge.created_at, "D"))
    return _with_icon(embed, badge)


def badge_list(badges: Sequence[Badge], page: int, pages: int, total: int) -> discord.Embed:
    embed = discord.Embed(title="Badges of this server", colour=DEFAULT_COLOUR)
    if not badges:
        embed.description = "No badges yet. An admin can create one with `/badge create`."
    else:
        lines = []
        for b in badges:
            state = "" if b.is_active else " · *inactive*"
            lines.append(
                f"**{label(b)}** (`{b.slug}`) · {plural(b.awarded_count, 'holder')}{state}"
            )
        embed.description = "\n".join(lines)
    page_footer(embed, page, pages, total, "badge")
    return embed


def holders(badge: Badge, awards: Sequence[Award], page: int, pages: int) -> discord.Embed:
    embed = discord.Embed(title=f"Holders of {label(badge)}", colour=colour(badge))
    if not awards:
        embed.description = "Nobody holds this badge yet."
    else:
        embed.description = "\n".join(
            f"<@{a.user_id}> · {format_dt(a.awarded_at, 'R')} by {inert(a.awarded_by_name)}"
            for a in awards
        )
    page_footer(embed, page, pages, badge.awarded_count, "holder")
    return _with_icon(embed, badge)


def member_badges(
    member: discord.abc.User, items: Sequence[MemberBadge], page: int, pages: int, total: int
) -> discord.Embed:
    first = items[0].badge if items else None
    embed = discord.Embed(
        title=cut(f"Badges of {who(member)}", 256),
        colour=colour(first) if first and len(items) == 1 else DEFAULT_COLOUR,
    )
    embed.set_author(name=member.display_name, icon_url=member.display_avatar.url)
    if not items:
        embed.description = f"{member.mention} has no badges yet."
    for item in items:
        award = item.award
        value = f"{format_dt(award.awarded_at, 'D')} by {inert(award.awarded_by_name)}"
        reason = award.reason
        if item.gifts > 1 and item.latest_giver:
            others = item.gifts - 1
            value = (
                f"{format_dt(award.awarded_at, 'D')} · given by {inert(item.latest_giver)} "
                f"and {plural(others, 'other member')}"
            )
            reason = item.latest_reason
        if reason:
            value += f"\n> {inert(reason)}"
        embed.add_field(name=cut(label(item.badge), 256), value=cut(value, 1024), inline=False)
    page_footer(embed, page, pages, total, "badge")
    return embed


_VERBS = {EventKind.AWARDED: "awarded", EventKind.REVOKED: "revoked"}


def history(
    member: discord.abc.User, events: Sequence[AuditEvent], page: int, pages: int, total: int
) -> discord.Embed:
    embed = discord.Embed(title=cut(f"Badge history of {who(member)}", 256), colour=DEFAULT_COLOUR)
    if not events:
        embed.description = f"{member.mention} has never been awarded a badge."
    for e in events:
        mark = "🏅" if e.kind is EventKind.AWARDED else "✖️"
        value = f"{format_dt(e.at, 'f')} by {inert(e.actor_name)}"
        if e.reason:
            value += f"\n> {inert(e.reason)}"
        embed.add_field(
            name=cut(
                f"{mark} {_VERBS.get(e.kind, e.kind.value)}: {inert(e.badge_name or '?')}", 256
            ),
            value=cut(value, 1024),
            inline=False,
        )
    page_footer(embed, page, pages, total, "event")
    return embed


def awarded(badge: Badge, member: discord.abc.User, award: Award) -> discord.Embed:
    embed = discord.Embed(
        title=cut(f"🏅 {who(member)} received {label(badge)}", 256),
        description=inert(award.reason) if award.reason else None,
        colour=colour(badge),
    )
    embed.set_footer(text=f"Awarded by {award.awarded_by_name}")  # footers show no markdown
    return _with_icon(embed, badge)


def given(badge: Badge, member: discord.abc.User, result: MemberBadge) -> discord.Embed:
    """A member gave a badge (a members' badge may have many givers)."""
    giver = result.latest_giver or result.award.awarded_by_name
    embed = discord.Embed(
        title=cut(f"🎁 {who(member)} received {label(badge)}", 256),
        description=inert(result.award.reason) if result.award.reason else None,
        colour=colour(badge),
    )
    footer = f"Given by {giver}"
    if result.gifts > 1:
        footer += f" · {result.gifts} members have given it"
    embed.set_footer(text=cut(footer, 2048))
    return _with_icon(embed, badge)


def revoked(badge: Badge, member: discord.abc.User, reason: str | None, by: str) -> discord.Embed:
    embed = discord.Embed(
        title=cut(f"{who(member)} no longer holds {label(badge)}", 256),
        description=inert(reason) if reason else None,
        colour=colour(badge),
    )
    embed.set_footer(text=f"Revoked by {by}")
    return embed


def settings(config: GuildSettings) -> discord.Embed:
    def roles(ids: frozenset[int]) -> str:
        return " ".join(f"<@&{r}>" for r in sorted(ids)) or "*none*"

    embed = discord.Embed(title="Badge system settings", colour=DEFAULT_COLOUR)
    embed.add_field(name="Admin roles", value=roles(config.admin_role_ids), inline=False)
    embed.add_field(name="Moderator roles", value=roles(config.moderator_role_ids), inline=False)
    log = f"<#{config.log_channel_id}>" if config.log_channel_id else "*not set*"
    embed.add_field(name="Log channel", value=log, inline=False)
    embed.add_field(name="Roles edited by hand", value=config.role_drift.value, inline=False)
    embed.add_field(
        name="REST API reads",
        value="public" if config.api_public_reads else "API token only",
        inline=False,
    )
    embed.set_footer(
        text="Also: owner and Administrator = Super Admin, Manage Server = Admin, "
        "Manage Roles = Moderator."
    )
    return embed


_LOG_TITLES = {
    EventKind.BADGE_CREATED: "Badge created",
    EventKind.BADGE_UPDATED: "Badge edited",
    EventKind.BADGE_DELETED: "Badge deleted",
    EventKind.AWARDED: "Badge awarded",
    EventKind.REVOKED: "Badge revoked",
    EventKind.CONFIG_CHANGED: "Settings changed",
    EventKind.ROLE_LINKED: "Role linked",
    EventKind.ROLE_UNLINKED: "Role unlinked",
    EventKind.GATE_CHANGED: "Gate changed",
    EventKind.ROLE_SYNC_FAILED: "Role sync failed",
    EventKind.API_TOKEN_CREATED: "API token created",
    EventKind.API_TOKEN_REVOKED: "API token revoked",
    EventKind.GIFTED: "Badge given",
    EventKind.RULES_CHANGED: "Automatic rules changed",
    EventKind.POLICY_CHANGED: "Who may award changed",
}


def _change(value: object) -> str:
    """A changed value for the log; long ones are shortened with a visible ellipsis."""
    text = "—" if value is None or value == "" else str(value)
    return text if len(text) <= 300 else text[:299] + "…"


def _fit(text: str, limit: int = 1024) -> str:
    """Within an embed field's limit; a cut is marked with an ellipsis."""
    return cut(text, limit)


def log_entry(event: AuditEvent) -> discord.Embed:
    """One audit event as posted to the guild's log channel: who, what, reason."""
    embed = discord.Embed(
        title=_LOG_TITLES.get(event.kind, event.kind.value),
        colour=DEFAULT_COLOUR,
        timestamp=event.at,
    )
    if event.badge_name:
        embed.add_field(name="Badge", value=inert(event.badge_name))
    if event.user_id:
        embed.add_field(name="Member", value=f"<@{event.user_id}>")
    by = inert(event.actor_name)
    embed.add_field(
        name="By",
        value=cut(f"<@{event.actor_id}> ({by})" if event.actor_id > AUTOMATIC_ID else by, 1024),
    )
    if event.reason:
        embed.add_field(name="Reason", value=cut(inert(event.reason), 1024), inline=False)
    if event.kind is EventKind.BADGE_UPDATED and event.after:
        before = event.before or {}
        lines = [
            f"{k}: {inert(_change(before.get(k)))} → {inert(_change(v))}"
            for k, v in event.after.items()
        ]
        embed.add_field(name="Changes", value=_fit("\n".join(lines)), inline=False)
    elif event.kind is EventKind.ROLE_SYNC_FAILED and event.after:
        embed.add_field(name="Role", value=f"<@&{event.after['role_id']}>")
        embed.add_field(name="Fix", value="See /badge doctor, then run /badge sync.", inline=False)
    elif event.kind in (
        EventKind.CONFIG_CHANGED,
        EventKind.ROLE_LINKED,
        EventKind.GATE_CHANGED,
        EventKind.API_TOKEN_CREATED,
        EventKind.API_TOKEN_REVOKED,
        EventKind.RULES_CHANGED,
        EventKind.POLICY_CHANGED,
    ) and (event.after or event.before):
        shown = event.after or event.before or {}
        lines = [f"{k}: {inert(_change(v))}" for k, v in shown.items()]
        embed.add_field(name="Changes", value=_fit("\n".join(lines)), inline=False)
    return embed


def _summary_title(kind: EventKind, n: int) -> str:
    if kind is EventKind.ROLE_SYNC_FAILED:
        return f"Role sync failed for {n} members"
    verb = "awarded to" if kind is EventKind.AWARDED else "revoked from"
    return f"Badge {verb} {n} members"


def log_summary(events: Sequence[AuditEvent]) -> discord.Embed:
    """Many awards of one badge at once (a bulk award), as a single log entry."""
    first = events[0]
    embed = discord.Embed(
        title=_summary_title(first.kind, len(events)),
        colour=DEFAULT_COLOUR,
        timestamp=first.at,
    )
    embed.add_field(name="Badge", value=inert(first.badge_name or "?"))
    embed.add_field(name="By", value=cut(f"<@{first.actor_id}> ({inert(first.actor_name)})", 1024))
    if first.reason:
        embed.add_field(name="Reason", value=cut(inert(first.reason), 1024), inline=False)
    return embed


def log_overflow(dropped: int) -> discord.Embed:
    """The log channel fell behind: what was left out (the history keeps everything)."""
    return discord.Embed(
        title=f"{plural(dropped, 'change')} not posted",
        description="The log channel could not keep up; /badge history still shows every "
        "award and revocation.",
        colour=discord.Colour.orange(),
    )


def log_notice(text: str) -> discord.Embed:
    """Something the admins must fix by hand, posted to the log channel."""
    return discord.Embed(
        title="Needs an admin", description=cut(text, 4000), colour=discord.Colour.red()
    )
