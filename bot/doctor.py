"""/badge doctor: can badge roles and gates work in this server? Each finding says the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.role_checks import MAX_ROLES, manage_roles_problem, role_problem

if TYPE_CHECKING:
    from bot.app import BadgeBot

OK, WARN, BAD = "✅", "⚠️", "❌"


async def findings(bot: BadgeBot, guild: discord.Guild) -> list[tuple[str, str]]:
    """(mark, sentence) for everything worth knowing, problems first within each topic."""
    out: list[tuple[str, str]] = []
    problem = manage_roles_problem(guild)
    out.append((BAD, problem) if problem else (OK, "I have Manage Roles."))

    for badge in await bot.service.linked_badges(guild.id):
        assert badge.role_id is not None
        role = guild.get_role(badge.role_id)
        if role is None:
            out.append((BAD, f"**{badge.name}**: its role is gone. Run /badge sync to unlink."))
        elif why := role_problem(guild, role):
            out.append((BAD, f"**{badge.name}**: {why}"))
        else:
            out.append((OK, f"**{badge.name}** → {role.mention}: I can give and take it."))

    for gate in await bot.service.gates(guild.id):
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

    pending, failed, latest = await bot.service.role_sync_status(guild.id)
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
