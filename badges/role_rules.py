"""Which Discord roles a badge may hand out, and who may award such a badge. Pure functions
over facts the adapter reports (``badges.ports.RoleFacts``); no Discord library here.

A badge role is given out by whoever may award the badge, so it must never carry power by
accident. Permissions are Discord's bit values (API v10); "access" permissions are those of
seeing and talking in channels. Anything else a role adds beyond @everyone is power.
"""

from __future__ import annotations

from dataclasses import dataclass

from badges.permissions import Actor, Level

# Discord permission bits, by the names the API documents.
PERMISSIONS: dict[str, int] = {
    "create_instant_invite": 1 << 0,
    "kick_members": 1 << 1,
    "ban_members": 1 << 2,
    "administrator": 1 << 3,
    "manage_channels": 1 << 4,
    "manage_guild": 1 << 5,
    "add_reactions": 1 << 6,
    "view_audit_log": 1 << 7,
    "priority_speaker": 1 << 8,
    "stream": 1 << 9,
    "view_channel": 1 << 10,
    "send_messages": 1 << 11,
    "send_tts_messages": 1 << 12,
    "manage_messages": 1 << 13,
    "embed_links": 1 << 14,
    "attach_files": 1 << 15,
    "read_message_history": 1 << 16,
    "mention_everyone": 1 << 17,
    "use_external_emojis": 1 << 18,
    "view_guild_insights": 1 << 19,
    "connect": 1 << 20,
    "speak": 1 << 21,
    "mute_members": 1 << 22,
    "deafen_members": 1 << 23,
    "move_members": 1 << 24,
    "use_vad": 1 << 25,
    "change_nickname": 1 << 26,
    "manage_nicknames": 1 << 27,
    "manage_roles": 1 << 28,
    "manage_webhooks": 1 << 29,
    "manage_expressions": 1 << 30,
    "use_application_commands": 1 << 31,
    "request_to_speak": 1 << 32,
    "manage_events": 1 << 33,
    "manage_threads": 1 << 34,
    "create_public_threads": 1 << 35,
    "create_private_threads": 1 << 36,
    "use_external_stickers": 1 << 37,
    "send_messages_in_threads": 1 << 38,
    "use_embedded_activities": 1 << 39,
    "moderate_members": 1 << 40,
    "view_creator_monetization_analytics": 1 << 41,
    "use_soundboard": 1 << 42,
    "create_expressions": 1 << 43,
    "create_events": 1 << 44,
    "use_external_sounds": 1 << 45,
    "send_voice_messages": 1 << 46,
    "send_polls": 1 << 49,
    "use_external_apps": 1 << 50,
}

ACCESS = 0
for _name in (
    "create_instant_invite", "add_reactions", "stream", "view_channel", "send_messages",
    "send_tts_messages", "embed_links", "attach_files", "read_message_history",
    "use_external_emojis", "connect", "speak", "use_vad", "change_nickname",
    "use_application_commands", "request_to_speak", "create_public_threads",
    "create_private_threads", "use_external_stickers", "send_messages_in_threads",
    "use_embedded_activities", "use_soundboard", "use_external_sounds",
    "send_voice_messages", "send_polls", "use_external_apps",
):  # fmt: skip
    ACCESS |= PERMISSIONS[_name]
"""Seeing and talking in channels: what a plain badge role may carry."""


@dataclass(frozen=True, slots=True)
class RoleFacts:
    """A Discord role as the adapter sees it now."""

    id: int
    name: str
    position: int
    permissions: int
    managed: bool = False
    is_everyone: bool = False


@dataclass(frozen=True, slots=True)
class GuildFacts:
    """The bot's standing in a server, and what @everyone may do there."""

    bot_manages_roles: bool
    bot_top_position: int
    everyone_permissions: int
    role_count: int = 0


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """A member of the server."""

    id: int
    is_bot: bool = False
    is_owner: bool = False
    top_position: int = 0


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a role cannot be used as asked: a stable ``reason`` and a plain sentence."""

    reason: str
    message: str


def names(bits: int) -> list[str]:
    """Readable names of permission bits: ``manage_roles`` -> ``Manage Roles``."""
    return [n.replace("_", " ").title() for n, bit in PERMISSIONS.items() if bits & bit]


def power(role: RoleFacts, guild: GuildFacts) -> int:
    """Permission bits the role adds beyond @everyone that are more than channel access."""
    return role.permissions & ~guild.everyone_permissions & ~ACCESS


def bot_problem(role: RoleFacts, guild: GuildFacts) -> Problem | None:
    """Why the bot cannot give or take ``role`` at all, or None."""
    if not guild.bot_manages_roles:
        return Problem("bot_missing_manage_roles", "I need the Manage Roles permission.")
    if role.is_everyone:
        return Problem("everyone", "@everyone cannot be a badge role: pick a specific role.")
    if role.managed:
        return Problem(
            "managed",
            f"The role '{role.name}' is managed by an integration (a bot, a subscription or "
            "the booster role) and cannot be given by hand: pick another role.",
        )
    if role.position >= guild.bot_top_position:
        return Problem(
            "above_bot",
            f"The role '{role.name}' is not below my highest role, so Discord will not let me "
            "give it: move my role above it.",
        )
    return None


def link_problem(
    role: RoleFacts,
    guild: GuildFacts,
    actor: Actor,
    actor_member: MemberFacts | None,
    level_role_ids: set[int],
) -> Problem | None:
    """Why ``actor`` may not make ``role`` a badge role, or None."""
    if problem := bot_problem(role, guild):
        return problem
    if role.id in level_role_ids:
        return Problem(
            "level_role",
            f"The role '{role.name}' grants a badge-system level: a badge cannot hand it out.",
        )
    extra = power(role, guild)
    if extra and actor.level < Level.SUPER_ADMIN:
        return Problem(
            "power",
            f"The role '{role.name}' carries permissions beyond seeing and talking in channels "
            f"({', '.join(names(extra))}): only the owner or an Administrator can link it to "
            "a badge.",
        )
    if actor.level < Level.SUPER_ADMIN:
        if actor_member is None:
            return Problem(
                "actor_unknown",
                "I cannot check your roles in this server, so I cannot tell whether you could "
                "give this role yourself.",
            )
        if not actor_member.is_owner and role.position >= actor_member.top_position:
            return Problem(
                "above_actor",
                f"The role '{role.name}' is not below your highest role: you can only link "
                "roles you could give yourself.",
            )
    return None


def gained_power(approved: int, role: RoleFacts, guild: GuildFacts) -> int:
    """Power the role carries now that was not approved when it was linked."""
    return power(role, guild) & ~approved


def gained_power_problem(role: RoleFacts, extra: int) -> Problem:
    return Problem(
        "gained_power",
        f"The role '{role.name}' gained permissions after it was linked "
        f"({', '.join(names(extra))}): I no longer give it out. Remove those permissions "
        "from the role, or have the owner or an Administrator link it again.",
    )
