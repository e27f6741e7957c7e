"""Permission levels and the actor who performs an operation."""

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
    """Who is acting: a user id, a display name for the audit trail and their level."""

    user_id: int
    display_name: str
    level: Level


class Operation(Enum):
    """What each operation needs: (level, the end of "You need the X level to ...")."""

    CREATE_BADGE = (Level.ADMIN, "create badges")
    EDIT_BADGE = (Level.ADMIN, "edit badges")
    DELETE_BADGE = (Level.ADMIN, "delete badges")
    AWARD = (Level.MODERATOR, "award badges")
    REVOKE = (Level.MODERATOR, "revoke badges")
    READ_OTHERS_HISTORY = (Level.MODERATOR, "see another member's badge history")
    CONFIGURE = (Level.ADMIN, "configure the badge system")
    GRANT_ADMIN_ROLE = (Level.SUPER_ADMIN, "give a role the Admin level")
    CHANGE_ADMIN_ROLE = (Level.SUPER_ADMIN, "change an Admin role")

    @property
    def level(self) -> Level:
        return self.value[0]

    @property
    def action(self) -> str:
        return self.value[1]


def authorize(actor: Actor, operation: Operation) -> None:
    """Raise Forbidden unless ``actor`` may perform ``operation``."""
    require(actor, operation.level, operation.action)


def require(actor: Actor, level: Level, action: str) -> None:
    """Raise Forbidden unless ``actor`` has at least ``level``; ``action`` completes the
    sentence "You need the X level to ..."."""
    if actor.level < level:
        raise Forbidden(f"You need the {level.label} level to {action}.", required=level)
