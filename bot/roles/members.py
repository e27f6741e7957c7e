"""Who has a role, as far as the bot can know."""

from __future__ import annotations

import discord


async def role_member_ids(
    intents: discord.Intents, guild: discord.Guild, role: discord.Role
) -> set[int] | None:
    """Members holding ``role``, or None when the bot cannot see member lists (without the
    privileged Server Members intent Discord sends no member list and no role updates)."""
    if not intents.members:
        return None
    if not guild.chunked:
        await guild.chunk(cache=True)  # Discord allows this about once per 30 s per guild
    return {m.id for m in role.members}
