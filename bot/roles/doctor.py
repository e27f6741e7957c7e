"""/badge doctor: can badge roles and gates work in this server? Each finding says the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from badges.model import RoleAction
from badges.role_rules import names
from bot.roles.checks import MAX_ROLES, hint, manage_roles_problem
from bot.ui.embeds import label
from bot.ui.text import inert

if TYPE_CHECKING:
    from bot.app import BadgeBot

OK, WARN, BAD = "✅", "⚠️", "❌"


async def findings(bot: BadgeBot, guild: discord.Guild) -> list[tuple[str, str]]:
    """(mark, sentence) for everything worth knowing, problems first within each topic."""
    out: list[tuple[str, str]] = []
    missing = manage_roles_problem(guild)
    out.append((BAD, missing) if missing else (OK, "I have Manage Roles."))

    badge_roles: set[int] = set()
    for badge in await bot.service.roles.linked_badges(guild.id):
        assert badge.role_id is not None
        badge_roles.add(badge.role_id)
        role = guild.get_role(badge.role_id)
        name = f"**{label(badge)}**"
        problem = await bot.service.roles.change_problem(
            badge, guild.id, badge.role_id, RoleAction.ADD
        )
        if role is None:
            out.append((BAD, f"{name}: its role is gone. Run /badge sync to unlink."))
        elif problem is not None:
            out.append((BAD, f"{name}: {inert(problem.message)}{hint(problem.reason)}"))
        elif badge.role_power:
            powers = ", ".join(names(badge.role_power))
            out.append(
                (
                    WARN,
                    f"{name} → {role.mention} carries {powers}: only admins can award it, "
                    "and never to themselves.",
                )
            )
        else:
            out.append((OK, f"{name} → {role.mention}: I can give and take it."))

    for gate in await bot.service.gates.of(guild.id):
        channel = guild.get_channel(gate.channel_id)
        if channel is None:
            out.append((WARN, f"A gated channel ({gate.channel_id}) no longer exists."))
            continue
        everyone = channel.overwrites_for(guild.default_role)
        role = guild.get_role(gate.role_id)
        if everyone.view_channel is not False:
            out.append(
                (
                    BAD,
                    f"{channel.mention} is gated but @everyone can see it: deny View Channel to "
                    "@everyone there, or run /badge ungate and /badge gate again.",
                )
            )
        elif role is None or channel.overwrites_for(role).view_channel is not True:
            out.append(
                (
                    BAD,
                    f"{channel.mention} is hidden but the badge role is not allowed in: "
                    "run /badge ungate and /badge gate again.",
                )
            )
        else:
            out.append((OK, f"{channel.mention} is visible only to its badge role."))

    out.extend(_shut_channels(guild, badge_roles))

    used = len(guild.roles)
    mark = OK if used < MAX_ROLES - 10 else WARN if used < MAX_ROLES else BAD
    out.append((mark, f"Roles: {used} of Discord's {MAX_ROLES}."))

    if bot.intents.members:
        out.append(
            (
                OK,
                "Server Members intent is on: roles edited by hand and rejoining members are "
                "reconciled as they happen.",
            )
        )
    else:
        out.append(
            (
                WARN,
                "Server Members intent is off: awards still give roles, but roles edited by hand "
                "and rejoining members are not noticed, and /badge sync and award-role cannot "
                "list members. Turn it on in the developer portal (Bot > Privileged Gateway "
                "Intents) and set BADGEBOT_MEMBERS_INTENT=true.",
            )
        )

    pending, failed, latest = await bot.service.queue.status(guild.id)
    out.append((OK if pending == 0 else WARN, f"Role changes waiting: {pending}."))
    if failed:
        examples = "; ".join(
            f"<@&{c.role_id}> {'to' if c.user_id else ''} {f'<@{c.user_id}>' if c.user_id else ''}"
            f": {c.error}"
            for c in latest[:3]
        )
        out.append(
            (
                BAD,
                f"Role changes that failed: {failed} (latest: {examples}). Fix the cause above, "
                "then run /badge sync to queue them again.",
            )
        )
    else:
        out.append((OK, "No failed role changes."))
    return out


def _shut_channels(guild: discord.Guild, badge_roles: set[int]) -> list[tuple[str, str]]:
    """Channels hidden from @everyone that no role may see: left shut (a deleted gate role, a
    gate undone by hand). Only admins see them; nobody else can get in."""
    out: list[tuple[str, str]] = []
    for channel in guild.channels:
        if channel.overwrites_for(guild.default_role).view_channel is not False:
            continue
        allowed = [
            target
            for target, overwrite in channel.overwrites.items()
            if isinstance(target, discord.Role)
            and not target.is_default()
            and overwrite.view_channel is True
        ]
        if allowed:
            continue
        out.append(
            (
                WARN,
                f"{channel.mention} is hidden from @everyone and no role may see it: if a badge "
                "gated it, gate it again with /badge gate, or allow View Channel to @everyone.",
            )
        )
    return out


async def diagnose(bot: BadgeBot, guild: discord.Guild) -> discord.Embed:
    found = await findings(bot, guild)
    worst = (
        BAD if any(m == BAD for m, _ in found) else WARN if any(m == WARN for m, _ in found) else OK
    )
    title = {OK: "All good", WARN: "Works, with warnings", BAD: "Needs fixing"}[worst]
    embed = discord.Embed(title=f"{worst} Badge roles: {title}", colour=discord.Colour.blurple())
    lines = [f"{mark} {text}" for mark, text in found]
    description = ""
    for line in lines:
        if len(description) + len(line) + 1 > 4000:
            description += f"\n…and {len(lines) - description.count(chr(10)) - 1} more findings."
            break
        description += line + "\n"
    embed.description = description.strip()
    return embed
