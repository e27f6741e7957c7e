"""A stand-in for what the bot knows about Discord (``badges.ports.Directory``), for storage
tests of the service without a Discord. Cog tests use the real one over SimCord."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from badges.role_rules import GuildFacts, MemberFacts, RoleFacts


@dataclass
class FakeDiscord:
    """Every guild is visible; roles not described are plain roles low in the list; every
    user is a member (high enough to link those roles) unless ``members_by_guild`` lists the
    guild's members."""

    bot_manages_roles: bool = True
    bot_top_position: int = 100
    everyone_permissions: int = 0
    roles: dict[int, RoleFacts] = field(default_factory=dict)
    members_by_guild: dict[int, dict[int, MemberFacts]] = field(default_factory=dict)
    reachable: bool = True

    def role_with(self, role_id: int, *, permissions: int = 0, position: int = 1) -> RoleFacts:
        role = RoleFacts(role_id, f"role-{role_id}", position, permissions)
        self.roles[role_id] = role
        return role

    async def guild(self, guild_id: int) -> GuildFacts | None:
        if not self.reachable:
            return None
        return GuildFacts(self.bot_manages_roles, self.bot_top_position, self.everyone_permissions)

    async def role(self, guild_id: int, role_id: int) -> RoleFacts | None:
        if not self.reachable:
            return None
        return self.roles.get(role_id) or RoleFacts(role_id, f"role-{role_id}", 1, 0)

    async def members(
        self, guild_id: int, user_ids: Sequence[int]
    ) -> dict[int, MemberFacts] | None:
        if not self.reachable:
            return None
        known = self.members_by_guild.get(guild_id)
        if known is None:
            return {uid: MemberFacts(uid, top_position=50) for uid in user_ids}
        return {uid: known[uid] for uid in user_ids if uid in known}
