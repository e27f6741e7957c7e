"""Domain errors: each has a stable ``code`` for machines and a ``message`` for people."""

from __future__ import annotations

from typing import ClassVar

ECHO_MAX = 60


def clip(text: str, limit: int = ECHO_MAX) -> str:
    """User text quoted in a message, cut with a visible ellipsis: a refusal must never
    grow with its input (Discord rejects replies over 2,000 characters)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class BadgeError(Exception):
    """Base of every refusal the domain can give; adapters render it in one place."""

    code: ClassVar[str] = "badge_error"
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(BadgeError):
    """A field broke a validation rule; ``field`` names it."""

    code = "invalid_input"
    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class BadgeNotFound(BadgeError):
    code = "badge_not_found"
    status = 404

    def __init__(self, message: str = "Badge not found", suggestion: str | None = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion


class SlugTaken(BadgeError):
    code = "slug_taken"
    status = 409

    def __init__(self, slug: str) -> None:
        super().__init__(f"Badge with this slug already exists: '{clip(slug)}'.")
        self.slug = slug


class NameTaken(BadgeError):
    code = "name_taken"
    status = 409

    def __init__(self, name: str) -> None:
        super().__init__(f"A badge named '{clip(name)}' already exists in this server.")
        self.name = name


class AlreadyAwarded(BadgeError):
    code = "already_awarded"
    status = 409

    def __init__(self, message: str = "User already has this badge") -> None:
        super().__init__(message)


class NotAwarded(BadgeError):
    code = "not_awarded"
    status = 404

    def __init__(self, message: str = "User does not have this badge") -> None:
        super().__init__(message)


class BadgeInactive(BadgeError):
    code = "badge_inactive"
    status = 400

    def __init__(self, message: str = "Cannot award inactive badge") -> None:
        super().__init__(message)


class Forbidden(BadgeError):
    """The actor's level is below what the operation needs."""

    code = "forbidden"
    status = 403

    def __init__(self, message: str, required: object | None = None) -> None:
        super().__init__(message)
        self.required = required


class RoleTaken(BadgeError):
    """A Discord role can back only one badge."""

    code = "role_taken"
    status = 409

    def __init__(self, badge_name: str) -> None:
        super().__init__(
            f"That role already backs the badge '{clip(badge_name)}': a role can back only "
            "one badge."
        )
        self.badge_name = badge_name


class RoleConflict(BadgeError):
    """The operation does not fit the badge's role link or gates. Subclasses name the case,
    so each adapter can add its own hint (a command to run, a route to call)."""

    code = "role_conflict"
    status = 409


class NotLinked(RoleConflict):
    """The badge has no linked role, and the operation needs one."""

    code = "role_not_linked"


class AlreadyLinked(RoleConflict):
    """The badge is linked to another role already."""

    code = "role_already_linked"


class GatesRemain(RoleConflict):
    """The badge still opens channels: changing its role would leave them shut."""

    code = "gates_remain"


class NotGated(RoleConflict):
    code = "not_gated"
    status = 404


class AlreadyGated(RoleConflict):
    code = "already_gated"


class RoleRefused(BadgeError):
    """A role may not be used as asked (power, hierarchy, a level role, gone, ...).
    ``reason`` is a stable code for the case."""

    code = "role_refused"
    status = 422

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class NotAMember(BadgeError):
    """The user is not a member of the server (or is a bot, which cannot hold badges)."""

    code = "not_a_member"
    status = 422


class LevelRoleConflict(BadgeError):
    """A role cannot both grant a badge-system level and be handed out by a badge."""

    code = "level_role_conflict"
    status = 409


class Unavailable(BadgeError):
    """What Discord knows is needed and cannot be had right now."""

    code = "discord_unavailable"
    status = 503


class Busy(BadgeError):
    """More requests at once than the database's connections can serve in time: nothing
    was done, and the same request may simply be made again a little later."""

    code = "busy"
    status = 503
    retry_after = 5
    """Seconds to wait before asking again."""

    def __init__(self) -> None:
        super().__init__(
            "Too many requests at once right now: nothing was done. "
            f"Try again in {self.retry_after} seconds."
        )


class PreconditionFailed(BadgeError):
    """The badge changed since the client read it (a stale ETag)."""

    code = "precondition_failed"
    status = 412

    def __init__(
        self, message: str = "The badge changed since you read it: read it again first."
    ) -> None:
        super().__init__(message)


class TokenNotFound(BadgeError):
    code = "token_not_found"
    status = 404

    def __init__(self, message: str = "No such API token in this server.") -> None:
        super().__init__(message)


class TokenNameTaken(BadgeError):
    code = "token_name_taken"
    status = 409

    def __init__(self, name: str) -> None:
        super().__init__(f"An API token named '{clip(name)}' already exists in this server.")


class AlreadyGiven(BadgeError):
    """The giver gave this badge to this member before (each giver once per recipient)."""

    code = "already_given"
    status = 409


class QuotaReached(BadgeError):
    """The giver used up the badge's daily allowance."""

    code = "quota_reached"
    status = 409


class RuleNotFound(BadgeError):
    code = "rule_not_found"
    status = 404

    def __init__(self, message: str = "Rule not found") -> None:
        super().__init__(message)


class RequiredByRules(BadgeError):
    """Other badges' rules require this badge: deleting it would loosen them."""

    code = "required_by_rules"
    status = 409
