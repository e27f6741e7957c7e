"""Permission levels, the actor who performs an operation, and what each operation needs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

from badges.errors import Forbidden


class Level(IntEnum):
    """Ordered permission levels: a higher level can do all a lower one can."""

    MEMBER = 0
    MODERATOR = 1
    ADMIN = 2
    SUPER_ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").title()


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a user id, a display name for the audit trail and their level.

    ``manages_roles`` says whether the actor may change roles and channel permissions in the
    server themselves (Discord's Manage Roles); operations that make the bot change Discord
    permissions on their behalf need it, as Discord itself would. A super admin always has it.
    """

    user_id: int
    display_name: str
    level: Level
    manages_roles: bool = False
    role_ids: frozenset[int] = frozenset()
    """The actor's Discord roles, where known (a badge's policy may name one)."""

    @property
    def may_manage_roles(self) -> bool:
        return self.manages_roles or self.level >= Level.SUPER_ADMIN


class Operation(Enum):
    """What each operation needs: (level, the end of "You need the X level to ...", and
    whether the actor must also be able to manage roles themselves)."""

    CREATE_BADGE = (Level.ADMIN, "create badges", False)
    EDIT_BADGE = (Level.ADMIN, "edit badges", False)
    DELETE_BADGE = (Level.ADMIN, "delete badges", False)
    AWARD = (Level.MODERATOR, "award badges", False)
    AWARD_POWER = (Level.ADMIN, "award a badge whose role carries permissions", False)
    REVOKE = (Level.MODERATOR, "revoke badges", False)
    READ_OTHERS_HISTORY = (Level.MODERATOR, "see another member's badge history", False)
    CONFIGURE = (Level.ADMIN, "configure the badge system", False)
    GRANT_ADMIN_ROLE = (Level.SUPER_ADMIN, "give a role the Admin level", False)
    CHANGE_ADMIN_ROLE = (Level.SUPER_ADMIN, "change an Admin role", False)
    LINK_ROLE = (Level.ADMIN, "link roles to badges", True)
    GATE_CHANNEL = (Level.ADMIN, "change who sees a channel", True)
    SYNC_ROLES = (Level.MODERATOR, "sync badge roles with the server", False)
    DIAGNOSE = (Level.MODERATOR, "check how badge roles work here", False)
    MANAGE_RULES = (Level.ADMIN, "change how badges are earned and given", False)
    MANAGE_TOKENS = (Level.ADMIN, "manage API tokens", False)
    ISSUE_ADMIN_TOKEN = (Level.SUPER_ADMIN, "make an API token with the Admin level", False)

    @property
    def level(self) -> Level:
        return self.value[0]

    @property
    def action(self) -> str:
        return str(self.value[1])

    @property
    def needs_manage_roles(self) -> bool:
        return bool(self.value[2])


def authorize(actor: Actor, operation: Operation) -> None:
    """Raise Forbidden unless ``actor`` may perform ``operation``."""
    require(actor, operation.level, operation.action)
    if operation.needs_manage_roles and not actor.may_manage_roles:
        raise Forbidden(
            f"You need the Manage Roles permission in this server to {operation.action}.",
            required="manage_roles",
        )


def require(actor: Actor, level: Level, action: str) -> None:
    """Raise Forbidden unless ``actor`` has at least ``level``; ``action`` completes the
    sentence "You need the X level to ..."."""
    if actor.level < level:
        raise Forbidden(f"You need the {level.label} level to {action}.", required=level)
