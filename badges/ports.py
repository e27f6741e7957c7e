"""What the service needs from storage. The ``db`` package implements these protocols.

Repositories never commit; the unit of work does, once per operation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from badges.activity import ActivityCount
from badges.automation import AwardPolicy, Gift, GiftSummary, MemberRecord, Rule, RuleDraft, Weights
from badges.model import (
    ApiToken,
    AuditEvent,
    Award,
    Backlog,
    Badge,
    Gate,
    GuildSettings,
    MemberBadge,
    NewEvent,
    NewRoleChange,
    Page,
    RoleAction,
    RoleChange,
    RoleDrift,
    Webhook,
)
from badges.permissions import Level
from badges.role_rules import GuildFacts, MemberFacts, RoleFacts


class BadgeRepository(Protocol):
    async def add(self, badge: Badge) -> None: ...
    async def get(self, guild_id: int, badge_id: str, *, lock: bool = False) -> Badge | None:
        """The badge; ``lock`` holds its row until the transaction ends (FOR UPDATE), so
        whatever the operation decides from it stays true until it commits."""
        ...

    async def get_by_slug(self, guild_id: int, slug: str) -> Badge | None: ...
    async def get_by_name(self, guild_id: int, name_key: str) -> Badge | None: ...
    async def slugs_like(self, guild_id: int, base: str) -> set[str]:
        """Slugs of the guild equal to ``base`` or starting with ``base-``."""
        ...

    async def names(self, guild_id: int) -> list[tuple[str, str]]:
        """(name, slug) of every badge of the guild, for suggestions and autocomplete."""
        ...

    async def id_names(self, guild_id: int) -> list[tuple[str, str]]:
        """(name, id) of every badge of the guild."""
        ...

    async def save(self, badge: Badge) -> None:
        """Write the editable fields of an existing badge."""
        ...

    async def delete(self, guild_id: int, badge_id: str) -> None: ...
    async def adjust_count(self, badge_id: str, delta: int) -> int:
        """Add ``delta`` to the badge's awarded_count atomically; return the new count."""
        ...

    async def page(
        self, guild_id: int, *, active: bool | None, offset: int, limit: int
    ) -> Page[Badge]: ...
    async def after(
        self,
        guild_id: int,
        *,
        active: bool | None,
        key: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Badge]:
        """Badges in creation order (created_at, id) after ``key``: a keyset page."""
        ...

    async def by_role(self, guild_id: int, role_id: int, *, lock: bool = False) -> Badge | None: ...
    async def linked(self, guild_id: int) -> list[Badge]:
        """Badges of the guild that have a linked role."""
        ...


class AwardRepository(Protocol):
    async def add(self, award: Award) -> bool:
        """Insert the award; False (and no change) if the member already holds the badge."""
        ...

    async def add_many(self, awards: Sequence[Award]) -> set[int]:
        """Insert awards, skipping members who hold the badge; return the ids inserted."""
        ...

    async def remove(self, guild_id: int, badge_id: str, user_id: int) -> Award | None:
        """Delete and return the award, or None if the member does not hold the badge."""
        ...

    async def remove_all(self, guild_id: int, badge_id: str) -> list[int]:
        """Delete every award of the badge; return the former holders' ids."""
        ...

    async def holders(
        self, guild_id: int, badge_id: str, *, offset: int, limit: int
    ) -> list[Award]:
        """Current awards of the badge, newest first."""
        ...

    async def of_member(
        self, guild_id: int, user_id: int, *, offset: int, limit: int
    ) -> Page[MemberBadge]:
        """A member's badges, newest award first, with their gifts (count, latest giver and
        reason); ``total`` without a count when the page is the last one."""
        ...

    async def holders_after(
        self, guild_id: int, badge_id: str, *, key: tuple[datetime, int] | None, limit: int
    ) -> list[Award]:
        """Current awards of the badge, newest first, after ``key`` (awarded_at, user_id)."""
        ...

    async def of_member_after(
        self, guild_id: int, user_id: int, *, key: tuple[datetime, str] | None, limit: int
    ) -> list[MemberBadge]:
        """A member's badges, newest award first, after ``key`` (awarded_at, badge_id)."""
        ...

    async def holder_ids(self, guild_id: int, badge_id: str) -> set[int]: ...
    async def badge_ids_of(self, guild_id: int, user_id: int) -> set[str]: ...
    async def holder_ids_by(
        self,
        guild_id: int,
        badge_id: str,
        awarded_by_id: int,
        user_ids: Sequence[int] | None = None,
    ) -> set[int]:
        """Holders (of ``user_ids`` if given) whose award was made by ``awarded_by_id``."""
        ...

    async def holding(self, guild_id: int, badge_id: str, user_ids: Sequence[int]) -> set[int]:
        """Those of ``user_ids`` who hold the badge."""
        ...

    async def remove_many(
        self,
        guild_id: int,
        badge_id: str,
        user_ids: Sequence[int],
        *,
        awarded_by_id: int | None = None,
    ) -> set[int]:
        """Delete the awards of those members (only those made by ``awarded_by_id`` if
        given); return the ids that held it."""
        ...


class ActivityRepository(Protocol):
    """Counts per member, channel and day, and what the bot saw of members."""

    async def add(self, counts: Sequence[ActivityCount]) -> None:
        """Add the counts to those stored (one statement per chunk, not one per row)."""
        ...

    async def remember(self, records: Sequence[MemberRecord]) -> None: ...
    async def totals(
        self,
        guild_id: int,
        weights: Weights,
        *,
        since_day: int | None,
        excluded: frozenset[int],
        paced: bool,
        user_ids: Sequence[int] | None = None,
        at_least: float | None = None,
    ) -> dict[int, float]:
        """Weighted activity per member since ``since_day`` (None: all of it), without the
        excluded channels; only ``user_ids`` if given, only totals >= ``at_least`` if given."""
        ...

    async def top(
        self,
        guild_id: int,
        weights: Weights,
        *,
        since_day: int | None,
        excluded: frozenset[int],
        paced: bool,
        limit: int,
    ) -> list[tuple[int, float]]:
        """The most active members, highest first (ties: the earlier id first)."""
        ...

    async def ahead_of(
        self,
        guild_id: int,
        weights: Weights,
        *,
        since_day: int | None,
        excluded: frozenset[int],
        paced: bool,
        score: float,
        user_id: int,
    ) -> int:
        """How many members rank before ``user_id`` with ``score``: more, or as much with a
        lower id (the order ``top`` breaks ties by)."""
        ...

    async def records(
        self, guild_id: int, user_ids: Sequence[int] | None = None
    ) -> dict[int, MemberRecord]: ...
    async def forget(self, guild_id: int, user_id: int) -> None:
        """The member left: they no longer qualify for anything."""
        ...

    async def active_members(self, guild_id: int) -> set[int]:
        """Every member with counted activity or a record."""
        ...

    async def roll_up(self, before_day: int) -> int:
        """Sum counts older than ``before_day`` into one row per member and channel; return
        how many rows were folded."""
        ...


class RuleRepository(Protocol):
    async def add(
        self, guild_id: int, badge_id: str, draft: RuleDraft, by: int, at: datetime
    ) -> Rule: ...
    async def of_badge(self, guild_id: int, badge_id: str) -> list[Rule]: ...
    async def of_guild(self, guild_id: int) -> list[Rule]: ...
    async def remove(self, guild_id: int, rule_id: int) -> Rule | None: ...
    async def guilds(self) -> list[int]:
        """Guilds with at least one rule."""
        ...


class PolicyRepository(Protocol):
    async def get(self, guild_id: int, badge_id: str) -> AwardPolicy: ...
    async def of_guild(self, guild_id: int) -> dict[str, AwardPolicy]:
        """Badges whose policy is not the default."""
        ...

    async def save(self, guild_id: int, policy: AwardPolicy) -> None: ...


class GiftRepository(Protocol):
    async def add(self, gift: Gift) -> bool:
        """False (and no change) if this giver already gave the badge to this member."""
        ...

    async def given_since(self, badge_id: str, giver_id: int, since: datetime) -> int: ...
    async def summary(
        self, guild_id: int, user_id: int, badge_ids: Sequence[str]
    ) -> dict[str, GiftSummary]: ...
    async def remove_of(self, badge_id: str, recipient_ids: Sequence[int]) -> None: ...


class RoleQueue(Protocol):
    """The durable queue (outbox) of role changes to apply in Discord.

    Per member and role it holds at most one live intent, the latest: a new change replaces
    the one there, pending or failed. Each replacement bumps the row's ``version``, and the
    worker's outcome (applied, retry, failed) only counts for the version it applied.
    """

    async def enqueue(self, changes: Sequence[NewRoleChange], now: datetime) -> None:
        """Queue changes; each replaces any change of the same member and role."""
        ...

    async def enqueue_for_holders(
        self,
        guild_id: int,
        badge_id: str,
        role_id: int,
        action: RoleAction,
        reason: str | None,
        now: datetime,
    ) -> int:
        """Queue ``action`` of the role for every holder of the badge; return how many."""
        ...

    async def due(self, guild_id: int, now: datetime, limit: int) -> list[RoleChange]:
        """Pending changes whose time has come, oldest first."""
        ...

    async def in_flight(
        self, guild_id: int, role_id: int, user_id: int | None = None
    ) -> tuple[set[int], set[int]]:
        """Members (or just ``user_id``) with a pending (add, remove) of the role."""
        ...

    async def applied(self, change_id: int, version: int) -> bool:
        """Forget the change if it is still that version; False if a newer one replaced it."""
        ...

    async def retry_at(self, change_id: int, version: int, error: str, when: datetime) -> None: ...
    async def failed(self, change_id: int, version: int, error: str) -> None: ...
    async def fail_role(
        self, guild_id: int, role_id: int, error: str, actions: Sequence[RoleAction]
    ) -> int:
        """Fail every pending change of a role (of these actions); return how many."""
        ...

    async def requeue_failed(self, guild_id: int, now: datetime) -> int:
        """Queue the guild's failed changes again, each re-derived from the awards as they
        are now (never replayed as they were); return how many are pending again."""
        ...

    async def failures(self, guild_id: int, limit: int) -> list[RoleChange]: ...
    async def counts(self, guild_id: int) -> tuple[int, int]:
        """(pending, permanently failed) changes of the guild."""
        ...

    async def progress(self, guild_id: int, badge_id: str) -> tuple[int, int]:
        """(pending, failed) changes of one badge's role."""
        ...

    async def guilds_due(self, now: datetime) -> list[int]: ...
    async def next_attempts(self, guild_id: int | None = None) -> dict[int, datetime]:
        """When the earliest pending change of each guild (or only of ``guild_id``) is due."""
        ...

    async def claim(
        self, guild_id: int, now: datetime, limit: int, holder: str, until: datetime
    ) -> list[RoleChange]:
        """Due changes of the guild that no other process holds, leased to ``holder`` until
        ``until`` (its own earlier claims included); in queue order."""
        ...

    async def release(self, holder: str) -> int:
        """Give up every claim of ``holder`` (it stops); how many it held."""
        ...

    async def renew(self, guild_id: int, holder: str, until: datetime) -> int:
        """Extend ``holder``'s leases in the guild; how many it holds."""
        ...

    async def backlog(self) -> list[Backlog]:
        """Every guild with queued or failed changes (for monitoring)."""
        ...

    async def cancel_role(
        self, guild_id: int, role_id: int, actions: Sequence[RoleAction] | None = None
    ) -> int:
        """Drop the role's changes (of these actions), pending or failed; return how many."""
        ...

    async def drop_guild(self, guild_id: int) -> int: ...


class GateRepository(Protocol):
    async def add(self, gate: Gate) -> None: ...
    async def remove(self, guild_id: int, badge_id: str, channel_id: int) -> Gate | None: ...
    async def of_badge(self, guild_id: int, badge_id: str) -> list[Gate]: ...
    async def of_channel(
        self, guild_id: int, channel_id: int, *, lock: bool = False
    ) -> list[Gate]: ...
    async def of_role(self, guild_id: int, role_id: int) -> list[Gate]: ...
    async def of_guild(self, guild_id: int) -> list[Gate]: ...


class AuditLog(Protocol):
    async def record(self, events: Sequence[NewEvent]) -> list[AuditEvent]:
        """Append events; returns them as recorded (with their ids), in order."""
        ...

    async def since(self, after_id: int, limit: int) -> list[AuditEvent]:
        """Events with an id above ``after_id``, oldest first: the change feed."""
        ...

    async def by_ids(self, ids: Sequence[int]) -> list[AuditEvent]: ...
    async def in_ranges(self, ranges: Sequence[tuple[int, int]]) -> list[AuditEvent]:
        """Events whose id lies in one of the inclusive ``(first, last)`` ranges."""
        ...

    async def last_id(self) -> int: ...
    async def member_history(
        self, guild_id: int, user_id: int, *, offset: int, limit: int
    ) -> Page[AuditEvent]:
        """Awards and revocations of a member, newest first."""
        ...

    async def member_history_before(
        self, guild_id: int, user_id: int, *, before_id: int | None, limit: int
    ) -> list[AuditEvent]:
        """Awards and revocations of a member, newest first, with ids below ``before_id``."""
        ...


class ApiTokenRepository(Protocol):
    async def add(self, token: ApiToken, secret_hash: str) -> ApiToken:
        """Store a token (its id is assigned here) and the hash of its secret."""
        ...

    async def by_hash(self, secret_hash: str) -> ApiToken | None: ...
    async def get(self, guild_id: int, token_id: int) -> ApiToken | None: ...
    async def of_guild(self, guild_id: int) -> list[ApiToken]:
        """The guild's tokens that are not revoked, oldest first."""
        ...

    async def revoke(self, guild_id: int, token_id: int, at: datetime) -> bool:
        """Revoke an active token; False if there is none with that id."""
        ...


class WebhookRepository(Protocol):
    async def add(self, webhook: Webhook, secret: str) -> Webhook: ...
    async def of_guild(self, guild_id: int) -> list[Webhook]: ...
    async def remove(self, guild_id: int, webhook_id: int) -> Webhook | None:
        """Delete the webhook and what it still had to deliver."""
        ...

    async def enqueue(self, events: Sequence[AuditEvent], now: datetime) -> int:
        """Write the deliveries these changes make (one per change and webhook of its guild),
        numbered per guild, in the transaction that made the changes; returns how many."""
        ...


class SettingsRepository(Protocol):
    async def get(self, guild_id: int) -> GuildSettings: ...
    async def set_role_level(self, guild_id: int, role_id: int, level: Level | None) -> None:
        """Map a role to a level, or remove its mapping with None."""
        ...

    async def set_log_channel(self, guild_id: int, channel_id: int | None) -> None: ...
    async def set_role_drift(self, guild_id: int, drift: RoleDrift) -> None: ...
    async def set_api_public_reads(self, guild_id: int, public: bool) -> None: ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without ``commit()`` rolls everything back."""

    badges: BadgeRepository
    awards: AwardRepository
    audit: AuditLog
    settings: SettingsRepository
    role_queue: RoleQueue
    gates: GateRepository
    api_tokens: ApiTokenRepository
    webhooks: WebhookRepository
    activity: ActivityRepository
    rules: RuleRepository
    policies: PolicyRepository
    gifts: GiftRepository

    async def lock(self, key: int) -> None:
        """Serialise this transaction with others that lock the same key (a guild or channel
        id) until it ends. A no-op where writes are serialised anyway (SQLite)."""
        ...

    async def announce(self) -> None:
        """Wake the change feeds of other processes when this transaction commits."""
        ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> UnitOfWork:
        """A new unit of work; ``write=False`` promises that it only reads."""
        ...


class Directory(Protocol):
    """What the adapter knows about a server in Discord: its roles, the bot's standing and its
    members. The role rules are decided in the domain from these facts."""

    async def guild(self, guild_id: int) -> GuildFacts | None:
        """The bot's standing in the server; None when this process cannot tell."""
        ...

    async def role(self, guild_id: int, role_id: int) -> RoleFacts | None:
        """The role, or None if the server has no such role (or it cannot be told)."""
        ...

    async def members(
        self, guild_id: int, user_ids: Sequence[int]
    ) -> dict[int, MemberFacts] | None:
        """Those of ``user_ids`` who are members (ids left out are not), or None when this
        process cannot tell."""
        ...


class NoDirectory:
    """A process with no view of Discord: it can tell nothing."""

    async def guild(self, guild_id: int) -> GuildFacts | None:
        return None

    async def role(self, guild_id: int, role_id: int) -> RoleFacts | None:
        return None

    async def members(
        self, guild_id: int, user_ids: Sequence[int]
    ) -> dict[int, MemberFacts] | None:
        return None
