"""What the bot knows about each server in Discord, for the service's role rules
(``badges.ports.Directory``): roles, the bot's standing, and who is a member."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence

import discord

from badges.role_rules import GuildFacts, MemberFacts, RoleFacts

log = logging.getLogger(__name__)

_RESOLVED_MAX = 200_000
"""Members seen in interactions, messages and look-ups (about 100 bytes each)."""
_QUERY_CHUNK = 100  # Discord's limit of user ids per member request


def _member(member: discord.Member) -> MemberFacts:
    return MemberFacts(
        id=member.id,
        is_bot=member.bot,
        is_owner=member.guild.owner_id == member.id,
        top_position=member.top_role.position,
    )


class DiscordDirectory:
    """Reads discord.py's cache; asks Discord only for members it has not seen."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client
        self._resolved: OrderedDict[tuple[int, int], MemberFacts] = OrderedDict()
        self._created: dict[tuple[int, int], discord.Role] = {}

    def remember(self, member: discord.Member) -> None:
        """A member Discord resolved in an interaction (without the members intent the cache
        does not keep them): no request is needed to know they are a member."""
        key = (member.guild.id, member.id)
        self._resolved[key] = _member(member)
        self._resolved.move_to_end(key)
        while len(self._resolved) > _RESOLVED_MAX:
            self._resolved.popitem(last=False)

    def remember_role(self, role: discord.Role) -> None:
        """A role the bot just created: Discord's ROLE_CREATE event may not have come yet."""
        self._created[(role.guild.id, role.id)] = role
        if len(self._created) > 100:
            self._created.pop(next(iter(self._created)))

    async def guild(self, guild_id: int) -> GuildFacts | None:
        guild = self._client.get_guild(guild_id)
        if guild is None or guild.me is None:
            return None
        me = guild.me
        return GuildFacts(
            bot_manages_roles=me.guild_permissions.manage_roles,
            bot_top_position=me.top_role.position,
            everyone_permissions=guild.default_role.permissions.value,
            role_count=len(guild.roles),
        )

    async def role(self, guild_id: int, role_id: int) -> RoleFacts | None:
        guild = self._client.get_guild(guild_id)
        role = guild.get_role(role_id) if guild is not None else None
        if role is None and guild is not None:
            role = self._created.get((guild_id, role_id))
        if role is None:
            return None
        return RoleFacts(
            id=role.id,
            name=role.name,
            position=role.position,
            permissions=role.permissions.value,
            managed=role.managed,
            is_everyone=role.is_default(),
        )

    async def members(
        self, guild_id: int, user_ids: Sequence[int]
    ) -> dict[int, MemberFacts] | None:
        guild = self._client.get_guild(guild_id)
        if guild is None:
            return None
        found: dict[int, MemberFacts] = {}
        unknown: list[int] = []
        for uid in user_ids:
            member = guild.get_member(uid)
            if member is not None:
                found[uid] = _member(member)
            elif (facts := self._resolved.get((guild_id, uid))) is not None:
                found[uid] = facts
            else:
                unknown.append(uid)
        if unknown and not (self._client.intents.members and guild.chunked):
            try:
                for start in range(0, len(unknown), _QUERY_CHUNK):
                    chunk = unknown[start : start + _QUERY_CHUNK]
                    members = await guild.query_members(
                        user_ids=chunk, limit=len(chunk), cache=False
                    )
                    for member in members:
                        found[member.id] = _member(member)
                        self.remember(member)  # asked once: not again on the next pass
            except (TimeoutError, RuntimeError, discord.ClientException, discord.HTTPException):
                # RuntimeError: no gateway connection for this guild (not connected yet)
                log.warning("could not look up %d members of guild %s", len(unknown), guild_id)
                return None
        return found
