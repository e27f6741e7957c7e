"""Discord-side checks before the bot asks Discord for something, and the hints this adapter
adds to the service's role refusals. The rules themselves live in ``badges.role_rules``.

Requests Discord refuses (401/403/429) count toward a temporary ban of the bot's IP, so the
bot checks first and tells the admin what to fix."""

from __future__ import annotations

import discord

MAX_ROLES = 250  # Discord's limit per guild (error 30005)

HINTS = {
    "bot_missing_manage_roles": " Server Settings > Roles > my role > turn on Manage Roles.",
    "above_bot": " Server Settings > Roles: drag my role above it.",
    "gained_power": " Edit the role in Server Settings > Roles, or link it again with "
    "/badge link-role (owner or Administrator).",
    "power": " Pick a role that only opens channels, or ask the owner or an Administrator.",
    "level_role": " See /badge config show.",
}


def hint(reason: str) -> str:
    """What this adapter adds to a role refusal: where in Discord to fix it."""
    return HINTS.get(reason, "")


def manage_roles_problem(guild: discord.Guild) -> str | None:
    if guild.me.guild_permissions.manage_roles:
        return None
    return "I need the Manage Roles permission." + hint("bot_missing_manage_roles")


def role_limit_problem(guild: discord.Guild) -> str | None:
    if len(guild.roles) < MAX_ROLES:
        return None
    return (
        f"This server has {len(guild.roles)} roles, Discord's limit is {MAX_ROLES}: delete a "
        "role or link an existing one with the `role` option."
    )
