"""Value objects of the badge domain. Frozen: a change goes through the service."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from badges.permissions import Level

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Badge:
    id: str
    guild_id: int
    name: str
    slug: str
    description: str | None
    icon: str | None
    color: str | None
    is_active: bool
    role_id: int | None
    awarded_count: int
    created_at: datetime
    updated_at: datetime
    created_by: int
    role_managed: bool = False
    """True when the bot created the linked role for this badge (and deletes it with it)."""
    role_power: int = 0
    """Permission bits beyond channel access that the linked role carried when a super admin
    linked it: the power that was approved. A role that gains more is not handed out."""

    @property
    def revision(self) -> str:
        """Changes whenever the badge or its holder count does (the API's ETag)."""
        state = f"{self.id}|{self.updated_at.isoformat()}|{self.awarded_count}"
        return hashlib.blake2b(state.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class Award:
    """A member currently holding a badge."""

    id: str
    guild_id: int
    badge_id: str
    user_id: int
    awarded_by_id: int
    awarded_by_name: str
    reason: str | None
    awarded_at: datetime


@dataclass(frozen=True, slots=True)
class MemberBadge:
    """One of a member's badges, with how it was awarded."""

    badge: Badge
    award: Award
    gifts: int = 0
    """How many members gave it (badges members give each other); 0 for other awards."""
    latest_giver: str | None = None
    latest_reason: str | None = None


class EventKind(StrEnum):
    BADGE_CREATED = "badge_created"
    BADGE_UPDATED = "badge_updated"
    BADGE_DELETED = "badge_deleted"
    AWARDED = "awarded"
    REVOKED = "revoked"
    CONFIG_CHANGED = "config_changed"
    ROLE_LINKED = "role_linked"
    ROLE_UNLINKED = "role_unlinked"
    GATE_CHANGED = "gate_changed"
    ROLE_SYNC_FAILED = "role_sync_failed"
    API_TOKEN_CREATED = "api_token_created"
    API_TOKEN_REVOKED = "api_token_revoked"
    GIFTED = "gifted"
    """A member gave a badge the recipient already held (one more giver)."""
    RULES_CHANGED = "rules_changed"
    POLICY_CHANGED = "policy_changed"


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An audit event about to be recorded."""

    guild_id: int
    kind: EventKind
    actor_id: int
    actor_name: str
    at: datetime
    badge_id: str | None = None
    badge_name: str | None = None
    user_id: int | None = None
    reason: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """A recorded event of the audit trail; awards and revocations stay here forever."""

    id: int
    guild_id: int
    kind: EventKind
    actor_id: int
    actor_name: str
    at: datetime
    badge_id: str | None
    badge_name: str | None
    user_id: int | None
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: ``items`` from ``offset``, out of ``total``."""

    items: Sequence[T]
    total: int
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    """One page of a keyset walk: ``items`` after a key, and the key to continue after
    (None on the last page). Items never move, so a walk sees each one once."""

    items: Sequence[T]
    next_key: tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A credential for the REST API: it acts in one guild, at one level, under its name."""

    id: int
    guild_id: int
    name: str
    level: Level
    created_by: int
    created_by_name: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just made, with its secret: shown once, never stored (only its hash is)."""

    token: ApiToken
    secret: str


@dataclass(frozen=True, slots=True)
class Webhook:
    """A URL that receives the guild's badge and award changes, signed with its secret."""

    id: int
    guild_id: int
    url: str
    created_by: int
    created_by_name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedWebhook:
    """A webhook just added, with its signing secret: shown once."""

    webhook: Webhook
    secret: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """One change on its way to one webhook (a row of the durable outbox)."""

    id: int
    webhook_id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    body: str
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BulkAwardResult:
    """What a bulk award did for each member asked for."""

    badge: Badge
    awarded: Sequence[int]
    already_held: Sequence[int]
    refused: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeletedBadge:
    """A deleted badge, its former holders and linked role, so roles can be removed."""

    badge: Badge
    holder_ids: Sequence[int]
    role_id: int | None


class RoleDrift(StrEnum):
    """What a badge role given or taken by hand in Discord means."""

    REVERT = "revert"
    """The database is the truth: the bot undoes hand edits of badge roles."""
    ADOPT = "adopt"
    """A role given by hand is an award (by "Discord"); a role removed by hand revokes."""


class RoleAction(StrEnum):
    ADD = "add"
    REMOVE = "remove"
    DELETE_ROLE = "delete_role"


@dataclass(frozen=True, slots=True)
class NewRoleChange:
    """A change to apply in Discord, queued in the transaction that made it necessary."""

    guild_id: int
    role_id: int
    action: RoleAction
    user_id: int | None = None
    badge_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RoleChange:
    """A queued role change; ``error`` is set on permanent failures."""

    id: int
    guild_id: int
    role_id: int
    action: RoleAction
    user_id: int | None
    badge_id: str | None
    reason: str | None
    attempts: int
    error: str | None
    created_at: datetime
    version: int = 0


@dataclass(frozen=True, slots=True)
class Backlog:
    """One guild's role queue at a glance: what waits, what failed, since when."""

    guild_id: int
    pending: int
    failed: int
    oldest_pending: datetime | None


@dataclass(frozen=True, slots=True)
class Overwrite:
    """A channel permission overwrite as raw allow/deny bit sets."""

    allow: int
    deny: int


@dataclass(frozen=True, slots=True)
class Gate:
    """A channel only the holders of a badge can see, and what it looked like before."""

    guild_id: int
    badge_id: str
    channel_id: int
    role_id: int
    everyone_before: Overwrite | None
    role_before: Overwrite | None


@dataclass(frozen=True, slots=True)
class GuildSettings:
    guild_id: int
    admin_role_ids: frozenset[int] = frozenset()
    moderator_role_ids: frozenset[int] = frozenset()
    log_channel_id: int | None = None
    role_drift: RoleDrift = RoleDrift.REVERT
    api_public_reads: bool = True
    """Whether the REST API answers reads without a token (as the reference does)."""

    def role_levels(self) -> dict[int, Level]:
        """Configured role id -> level it grants."""
        levels = dict.fromkeys(self.moderator_role_ids, Level.MODERATOR)
        levels.update(dict.fromkeys(self.admin_role_ids, Level.ADMIN))
        return levels
