"""Automatic badges and members' gifts: activity counts, member records, award rules, badge
policies, gifts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "activity_counts",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("channel_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("paced_messages", sa.Integer(), nullable=False),
        sa.Column("reactions", sa.Integer(), nullable=False),
        sa.Column("voice_minutes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "guild_id", "user_id", "day", "channel_id", name=op.f("pk_activity_counts")
        ),
    )
    op.create_index(
        "ix_activity_counts_guild_day", "activity_counts", ["guild_id", "day", "user_id"]
    )
    op.create_table(
        "member_records",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("joined_at", _WHEN, nullable=True),
        sa.Column("boosting_since", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("guild_id", "user_id", name=op.f("pk_member_records")),
    )
    op.create_table(
        "award_rules",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("badge_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("threshold", sa.BigInteger(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=True),
        sa.Column("excluded_channel_ids", sa.JSON(), nullable=False),
        sa.Column("cooldown", sa.Boolean(), nullable=False),
        sa.Column("weight_messages", sa.Float(), nullable=False),
        sa.Column("weight_reactions", sa.Float(), nullable=False),
        sa.Column("weight_voice", sa.Float(), nullable=False),
        sa.Column("required_badge_id", sa.String(length=36), nullable=True),
        sa.Column("replaces", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["badge_id"],
            ["badges.id"],
            name=op.f("fk_award_rules_badge_id_badges"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["required_badge_id"],
            ["badges.id"],
            name=op.f("fk_award_rules_required_badge_id_badges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_rules")),
    )
    op.create_index("ix_award_rules_guild", "award_rules", ["guild_id", "badge_id"])
    op.create_table(
        "badge_policies",
        sa.Column("badge_id", sa.String(length=36), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("awarders", sa.String(length=16), nullable=False),
        sa.Column("role_id", sa.BigInteger(), nullable=True),
        sa.Column("per_day", sa.Integer(), nullable=True),
        sa.Column("self_award", sa.Boolean(), nullable=False),
        sa.Column("auto_revoke", sa.Boolean(), nullable=False),
        sa.Column("rotation_hours", sa.Integer(), nullable=False),
        sa.Column("rotated_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["badge_id"],
            ["badges.id"],
            name=op.f("fk_badge_policies_badge_id_badges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("badge_id", name=op.f("pk_badge_policies")),
    )
    op.create_index("ix_badge_policies_guild", "badge_policies", ["guild_id"])
    op.create_table(
        "gifts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("badge_id", sa.String(length=36), nullable=False),
        sa.Column("giver_id", sa.BigInteger(), nullable=False),
        sa.Column("giver_name", sa.String(length=100), nullable=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("given_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["badge_id"], ["badges.id"], name=op.f("fk_gifts_badge_id_badges"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gifts")),
        sa.UniqueConstraint(
            "badge_id",
            "recipient_id",
            "giver_id",
            name=op.f("uq_gifts_badge_id_recipient_id_giver_id"),
        ),
    )
    op.create_index("ix_gifts_giver", "gifts", ["badge_id", "giver_id", "given_at"])


def downgrade() -> None:
    op.drop_table("gifts")
    op.drop_table("badge_policies")
    op.drop_table("award_rules")
    op.drop_table("member_records")
    op.drop_index("ix_activity_counts_guild_day", table_name="activity_counts")
    op.drop_table("activity_counts")
