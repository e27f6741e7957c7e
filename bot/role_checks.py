"""Can the bot manage this role here? Checked before asking Discord, because requests that
Discord refuses (401/403/429) count toward a temporary ban of the bot's IP."""

from __future__ import annotations

import discord

MAX_ROLES = 250  # Discord's limit per guild (error 30005)


def manage_roles_problem(guild: discord.Guild) -> str | None:
    if guild.me.guild_permissions.manage_roles:
        return None
    return (
        "I need the **Manage Roles** permission: Server Settings > Roles > "
        f"{guild.me.top_role.name} > turn on Manage Roles."
    )


def role_problem(guild: discord.Guild, role: discord.Role) -> str | None:
    """Why the bot cannot give or take ``role``, with the fix; None if it can."""
    if problem := manage_roles_problem(guild):
        return problem
    if role.is_default():
        return "@everyone cannot be a badge role: pick or create a specific role."
    if role.managed:
        return (
            f"{role.mention} is managed by an integration (a bot, a subscription or the "
            "booster role) and cannot be given by hand: pick another role."
        )
    if not role.is_assignable():
        return (
            f"{role.mention} is above my highest role ({guild.me.top_role.mention}): drag my "
            "role above it in Server Settings > Roles."
        )
    return None


def role_limit_problem(guild: discord.Guild) -> str | None:
    if len(guild.roles) < MAX_ROLES:
        return None
    return (
        f"This server has {len(guild.roles)} roles, Discord's limit is {MAX_ROLES}: delete a "
        "role or link an existing one with the `role` option."
    )
