"""Tables. Constraint names follow one convention so migrations match on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only makes INTEGER PRIMARY KEY an auto-increment alias of the rowid.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, int: BigInteger}


class BadgeRow(Base):
    __tablename__ = "badges"
    __table_args__ = (
        UniqueConstraint("guild_id", "slug"),
        UniqueConstraint("guild_id", "name_key"),
        UniqueConstraint("guild_id", "role_id"),
        Index("ix_badges_guild_created", "guild_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    guild_id: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(400))
    """The name as compared: look-alikes (case, invisible characters, confusables) collide."""
    slug: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    icon: Mapped[str | None] = mapped_column(String(512))
    color: Mapped[str | None] = mapped_column(String(7))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    role_id: Mapped[int | None]
    awarded_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_by: Mapped[int]
    role_managed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    role_power: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Permission bits beyond channel access approved with the linked role."""


class AwardRow(Base):
    """A current award. Ended awards live on in the audit trail only."""

    __tablename__ = "awards"
    __table_args__ = (
        UniqueConstraint("badge_id", "user_id"),
        Index("ix_awards_guild_user", "guild_id", "user_id", "awarded_at"),
        Index("ix_awards_badge_newest", "badge_id", "awarded_at", "user_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    guild_id: Mapped[int]
    badge_id: Mapped[str] = mapped_column(ForeignKey("badges.id", ondelete="CASCADE"))
    user_id: Mapped[int]
    awarded_by_id: Mapped[int]
    awarded_by_name: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(500))
    awarded_at: Mapped[datetime]


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_guild_user", "guild_id", "user_id", "id"),
        Index("ix_audit_events_guild_badge", "guild_id", "badge_id"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int]
    actor_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    badge_id: Mapped[str | None] = mapped_column(String(36))
    badge_name: Mapped[str | None] = mapped_column(String(100))
    user_id: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(String(500))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class GuildSettingsRow(Base):
    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    log_channel_id: Mapped[int | None]
    role_drift: Mapped[str] = mapped_column(String(16), default="revert", server_default="revert")
    api_public_reads: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    webhook_sequence: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """The last sequence number given to a webhook delivery of the guild."""


class LevelRoleRow(Base):
    """A Discord role that grants a permission level in one guild."""

    __tablename__ = "level_roles"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    role_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    level: Mapped[int] = mapped_column(SmallInteger)


class BotStateRow(Base):
    """Small facts the bot keeps between runs (for example the synced command tree's hash)."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RoleChangeRow(Base):
    """The outbox: role changes to apply in Discord. One live intent per member and role
    (unique); a newer change replaces it and bumps ``version``. Applied rows are deleted;
    permanent failures stay with their error until they are retried or replaced."""

    __tablename__ = "role_changes"
    __table_args__ = (
        Index("ix_role_changes_due", "status", "guild_id", "next_attempt_at", "id"),
        Index("ix_role_changes_guild_role", "guild_id", "role_id", "status"),
        Index("uq_role_changes_intent", "guild_id", "role_id", "user_id", unique=True),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int]
    role_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None]
    badge_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # the bot process working on it, until when; another may take it over after that
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]


class GateRow(Base):
    """A channel opened by a badge's role, with the overwrites it had before."""

    __tablename__ = "gates"
    __table_args__ = (Index("ix_gates_guild_channel", "guild_id", "channel_id"),)

    badge_id: Mapped[str] = mapped_column(
        ForeignKey("badges.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    guild_id: Mapped[int]
    role_id: Mapped[int]
    everyone_before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    role_before: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ApiTokenRow(Base):
    """A REST API credential; only the hash of its secret is kept. Revoked tokens stay, so
    history can still name them."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        UniqueConstraint("secret_hash"),
        Index("ix_api_tokens_guild", "guild_id", "revoked_at"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(SmallInteger)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int]
    created_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class IdempotencyKeyRow(Base):
    """The first answer to a request made with an ``Idempotency-Key``, replayed to retries
    for a day. ``status`` is null while the first request is still being served."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_created", "created_at"),)

    token_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(SmallInteger)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class WebhookRow(Base):
    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_guild", "guild_id"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int]
    url: Mapped[str] = mapped_column(String(512))
    secret: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[int]
    created_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class WebhookDeliveryRow(Base):
    """The webhook outbox: one change for one webhook, written in the change's transaction,
    claimed by a sender with a lease, retried with backoff for a day."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    guild_id: Mapped[int]
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(32))
    sequence: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class ActivityCountRow(Base):
    """Activity of one member in one channel on one day (days since 1970; day 0 holds the
    rolled-up counts of days older than the longest window). Counts only, never content."""

    __tablename__ = "activity_counts"
    __table_args__ = (Index("ix_activity_counts_guild_day", "guild_id", "day", "user_id"),)

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    paced_messages: Mapped[int] = mapped_column(Integer, default=0)
    reactions: Mapped[int] = mapped_column(Integer, default=0)
    voice_minutes: Mapped[int] = mapped_column(Integer, default=0)


class MemberRecordRow(Base):
    """When a member joined and since when they boost, as last seen in an event."""

    __tablename__ = "member_records"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    joined_at: Mapped[datetime | None]
    boosting_since: Mapped[datetime | None]


class AwardRuleRow(Base):
    """One rule of an automatic badge; a member qualifies when all rules of the badge hold."""

    __tablename__ = "award_rules"
    __table_args__ = (Index("ix_award_rules_guild", "guild_id", "badge_id"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int]
    badge_id: Mapped[str] = mapped_column(ForeignKey("badges.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[int]
    window_days: Mapped[int | None] = mapped_column(Integer)
    excluded_channel_ids: Mapped[list[int]] = mapped_column(JSON)
    cooldown: Mapped[bool] = mapped_column(Boolean)
    weight_messages: Mapped[float] = mapped_column(Float)
    weight_reactions: Mapped[float] = mapped_column(Float)
    weight_voice: Mapped[float] = mapped_column(Float)
    required_badge_id: Mapped[str | None] = mapped_column(
        ForeignKey("badges.id", ondelete="CASCADE")
    )
    replaces: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[int]
    created_at: Mapped[datetime]


class BadgePolicyRow(Base):
    """Who may award a badge, and how its automatic rules take it back."""

    __tablename__ = "badge_policies"
    __table_args__ = (Index("ix_badge_policies_guild", "guild_id"),)

    badge_id: Mapped[str] = mapped_column(
        ForeignKey("badges.id", ondelete="CASCADE"), primary_key=True
    )
    guild_id: Mapped[int]
    awarders: Mapped[str] = mapped_column(String(16))
    role_id: Mapped[int | None]
    per_day: Mapped[int | None] = mapped_column(Integer)
    self_award: Mapped[bool] = mapped_column(Boolean)
    auto_revoke: Mapped[bool] = mapped_column(Boolean)
    rotation_hours: Mapped[int] = mapped_column(Integer)
    rotated_at: Mapped[datetime | None]


class GiftRow(Base):
    """A member giving a badge to another; one per giver and recipient."""

    __tablename__ = "gifts"
    __table_args__ = (
        UniqueConstraint("badge_id", "recipient_id", "giver_id"),
        Index("ix_gifts_giver", "badge_id", "giver_id", "given_at"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    guild_id: Mapped[int]
    badge_id: Mapped[str] = mapped_column(ForeignKey("badges.id", ondelete="CASCADE"))
    giver_id: Mapped[int]
    giver_name: Mapped[str] = mapped_column(String(100))
    recipient_id: Mapped[int]
    reason: Mapped[str | None] = mapped_column(String(500))
    given_at: Mapped[datetime]


def _table(row: type[Base]) -> Table:
    return cast(Table, row.__table__)


# The tables as Core objects, for statements that should not go through the ORM.
BADGES = _table(BadgeRow)
AWARDS = _table(AwardRow)
AUDIT_EVENTS = _table(AuditEventRow)
GUILD_SETTINGS = _table(GuildSettingsRow)
LEVEL_ROLES = _table(LevelRoleRow)
ROLE_CHANGES = _table(RoleChangeRow)
GATES = _table(GateRow)
API_TOKENS = _table(ApiTokenRow)
IDEMPOTENCY_KEYS = _table(IdempotencyKeyRow)
WEBHOOKS = _table(WebhookRow)
WEBHOOK_DELIVERIES = _table(WebhookDeliveryRow)
ACTIVITY_COUNTS = _table(ActivityCountRow)
MEMBER_RECORDS = _table(MemberRecordRow)
AWARD_RULES = _table(AwardRuleRow)
BADGE_POLICIES = _table(BadgePolicyRow)
GIFTS = _table(GiftRow)
