"""What the emulated Discord knows: guilds with roles, members and channels, and their JSON
payloads as Discord sends them (the shapes discord.py's parsers read)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.GbEmul.emulator-token-not-a-real-one-000"
BOT_ID = 1_000_000_000_000_000_001
APP_ID = BOT_ID
OWNER_ID = 1_000_000_000_000_000_002

ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
MANAGE_ROLES = 1 << 28
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
USE_APPLICATION_COMMANDS = 1 << 31
MEMBER_DEFAULT = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | USE_APPLICATION_COMMANDS
ALL_PERMISSIONS = (1 << 50) - 1

_EPOCH_MS = 1_420_070_400_000
_increment = itertools.count(1)


def snowflake() -> int:
    """A fresh Discord-style id, increasing with time."""
    return ((int(time.time() * 1000) - _EPOCH_MS) << 22) | (next(_increment) & 0x3FFFFF)


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class User:
    id: int
    name: str
    bot: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": None,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class Role:
    id: int
    name: str
    position: int
    permissions: int = 0
    color: int = 0
    managed: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {"primary_color": self.color},
            "hoist": False,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
            "icon": None,
            "unicode_emoji": None,
        }


@dataclass
class Member:
    user: User
    roles: set[int] = field(default_factory=set)
    joined_at: str = field(default_factory=iso_now)

    def payload(self, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in sorted(self.roles)],
            "joined_at": self.joined_at,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "pending": False,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        return data


@dataclass
class Overwrite:
    id: int
    type: int  # 0 role, 1 member
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass
class Channel:
    id: int
    guild_id: int
    name: str
    position: int
    type: int = 0
    overwrites: dict[int, Overwrite] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "guild_id": str(self.guild_id),
            "type": self.type,
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [o.payload() for o in self.overwrites.values()],
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }


@dataclass
class Guild:
    """One server. The bot is always a member, with a role on top that has Manage Roles."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    @property
    def bot_role(self) -> Role:
        return next(r for r in self.roles.values() if r.managed)

    def add_role(
        self, name: str, *, permissions: int = 0, position: int | None = None, color: int = 0
    ) -> Role:
        """A new role; by default just above @everyone (below every other role)."""
        position = 1 if position is None else position
        for role in self.roles.values():
            if role.id != self.id and role.position >= position:
                role.position += 1
        role = Role(snowflake(), name, position, permissions, color)
        self.roles[role.id] = role
        return role

    def move_role(self, role_id: int, position: int) -> None:
        """Put a role at ``position``, shifting the others (as dragging it in the UI does)."""
        moving = self.roles[role_id]
        others = sorted(
            (r for r in self.roles.values() if r.id not in (self.id, role_id)),
            key=lambda r: r.position,
        )
        others.insert(max(0, min(len(others), position - 1)), moving)
        for index, role in enumerate(others, start=1):
            role.position = index

    def add_member(self, user: User, role_ids: set[int] | None = None) -> Member:
        member = Member(user, set(role_ids or ()))
        self.members[user.id] = member
        return member

    def add_channel(self, name: str, *, type: int = 0) -> Channel:
        channel = Channel(snowflake(), self.id, name, len(self.channels), type)
        self.channels[channel.id] = channel
        return channel

    def top_position(self, user_id: int) -> int:
        member = self.members.get(user_id)
        if member is None:
            return -1
        return max((self.roles[r].position for r in member.roles if r in self.roles), default=0)

    def permissions(self, user_id: int) -> int:
        """A member's guild-wide permissions (the owner and Administrator have them all)."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members.get(user_id)
        value = self.everyone.permissions
        for role_id in member.roles if member else ():
            if role_id in self.roles:
                value |= self.roles[role_id].permissions
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value

    def can_manage(self, role_id: int) -> bool:
        """Whether the bot may give or take ``role_id``: Manage Roles and a higher role."""
        role = self.roles.get(role_id)
        if role is None:
            return False
        allowed = self.permissions(BOT_ID) & MANAGE_ROLES
        return bool(allowed) and not role.managed and self.top_position(BOT_ID) > role.position

    def payload(self, *, with_members: bool = True) -> dict[str, Any]:
        members = list(self.members.values()) if with_members else [self.members[BOT_ID]]
        return {
            "id": str(self.id),
            "name": self.name,
            "owner_id": str(self.owner_id),
            "icon": None,
            "member_count": len(self.members),
            "large": len(self.members) > 250,
            "roles": [r.payload() for r in self.roles.values()],
            "members": [m.payload() for m in members],
            "channels": [c.payload() for c in self.channels.values()],
            "threads": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "afk_channel_id": None,
            "system_channel_id": None,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "unavailable": False,
            "joined_at": "2026-01-01T00:00:00+00:00",
        }


BOT_USER = User(BOT_ID, "badgebot", bot=True)


def new_guild(name: str, *, owner: User, guild_id: int | None = None) -> Guild:
    """A guild with @everyone, the bot's managed role on top (Manage Roles), the owner and
    the bot as members, and a #general channel."""
    gid = guild_id or snowflake()
    guild = Guild(gid, name, owner.id)
    guild.roles[gid] = Role(gid, "@everyone", 0, MEMBER_DEFAULT)
    bot_role = Role(snowflake(), "badgebot", 1, MANAGE_ROLES | MANAGE_CHANNELS, managed=True)
    guild.roles[bot_role.id] = bot_role
    guild.add_member(BOT_USER, {bot_role.id})
    guild.add_member(owner)
    guild.add_channel("general")
    return guild
