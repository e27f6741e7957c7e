"""Can the bot manage this role here? Checked before asking Discord, because requests that
Discord refuses (401/403/429) count toward a temporary ban of the bot's IP."""

from __future__ import annotations

import discord

from badges.model import GuildSettings
from badges.permissions import Actor, Level

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


# Permissions that let a member moderate or configure the server: a badge that carries them
# would let whoever may award it hand out power.
POWERFUL = discord.Permissions(
    administrator=True,
    manage_guild=True,
    manage_roles=True,
    manage_channels=True,
    manage_webhooks=True,
    manage_messages=True,
    kick_members=True,
    ban_members=True,
    moderate_members=True,
    mention_everyone=True,
)


def grant_problem(
    role: discord.Role,
    member: discord.Member | discord.User,
    actor: Actor,
    settings: GuildSettings,
) -> str | None:
    """Why ``actor`` may not make ``role`` a badge role, or None. Linking a role lets every
    moderator give it out, so it must not carry power, and the admin linking it must be able
    to give it out in Discord themselves (a role below their own highest role)."""
    if role.id in settings.role_levels():
        return (
            f"{role.mention} grants a badge-system level (see /badge config show): a badge "
            "cannot hand it out."
        )
    powers = [name for name, on in (role.permissions & POWERFUL) if on]
    if powers and actor.level < Level.SUPER_ADMIN:
        named = ", ".join(p.replace("_", " ").title() for p in powers)
        return (
            f"{role.mention} carries moderation permissions ({named}): only the owner or an "
            "Administrator can link it to a badge."
        )
    if (
        isinstance(member, discord.Member)
        and member.guild.owner_id != member.id
        and role >= member.top_role
    ):
        return (
            f"{role.mention} is not below your highest role: you can only link roles you could "
            "give in Discord yourself."
        )
    return None
