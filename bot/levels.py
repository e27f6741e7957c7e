"""How a Discord member maps to a badge permission level."""

from __future__ import annotations

import discord

from badges.model import GuildSettings
from badges.permissions import Level


def level_of(member: discord.Member, settings: GuildSettings) -> Level:
    """Owner or Administrator: super admin; Manage Server or an admin role: admin;
    Manage Roles or a moderator role: moderator; anyone else: member."""
    perms = member.guild_permissions
    if member.guild.owner_id == member.id or perms.administrator:
        return Level.SUPER_ADMIN
    role_ids = {role.id for role in member.roles}
    if perms.manage_guild or role_ids & settings.admin_role_ids:
        return Level.ADMIN
    if perms.manage_roles or role_ids & settings.moderator_role_ids:
        return Level.MODERATOR
    return Level.MEMBER
