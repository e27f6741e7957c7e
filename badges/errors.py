"""Domain errors: each has a stable ``code`` for machines and a ``message`` for people."""

from __future__ import annotations

from typing import ClassVar


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
        super().__init__(f"Badge with this slug already exists: '{slug}'.")
        self.slug = slug


class NameTaken(BadgeError):
    code = "name_taken"
    status = 409

    def __init__(self, name: str) -> None:
        super().__init__(f"A badge named '{name}' already exists in this server.")
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
            f"That role already backs the badge '{badge_name}': a role can back only one badge."
        )
        self.badge_name = badge_name


class RoleConflict(BadgeError):
    """The operation does not fit the badge's role link (none, another one, gates left)."""

    code = "role_conflict"
    status = 409
