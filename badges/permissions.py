"""Permission levels and the actor who performs an operation."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

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


def require(actor: Actor, level: Level, action: str) -> None:
    """Raise Forbidden unless ``actor`` has at least ``level``; ``action`` completes the
    sentence "You need the X level to ..."."""
    if actor.level < level:
        raise Forbidden(f"You need the {level.label} level to {action}.", required=level)
