"""role sync queue, gates, role links

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:27:01.060882
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "role_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("role_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("badge_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_changes")),
    )
    with op.batch_alter_table("role_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_role_changes_due", ["status", "guild_id", "next_attempt_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_role_changes_guild_role", ["guild_id", "role_id", "status"], unique=False
        )

    op.create_table(
        "gates",
        sa.Column("badge_id", sa.String(length=36), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("role_id", sa.BigInteger(), nullable=False),
        sa.Column("everyone_before", sa.JSON(), nullable=True),
        sa.Column("role_before", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["badge_id"], ["badges.id"], name=op.f("fk_gates_badge_id_badges"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("badge_id", "channel_id", name=op.f("pk_gates")),
    )
    with op.batch_alter_table("gates", schema=None) as batch_op:
        batch_op.create_index("ix_gates_guild_channel", ["guild_id", "channel_id"], unique=False)

    with op.batch_alter_table("badges", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role_managed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_badges_guild_id_role_id"), ["guild_id", "role_id"]
        )

    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role_drift", sa.String(length=16), server_default="revert", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.drop_column("role_drift")

    with op.batch_alter_table("badges", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_badges_guild_id_role_id"), type_="unique")
        batch_op.drop_column("role_managed")

    with op.batch_alter_table("gates", schema=None) as batch_op:
        batch_op.drop_index("ix_gates_guild_channel")

    op.drop_table("gates")
    with op.batch_alter_table("role_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_role_changes_guild_role")
        batch_op.drop_index("ix_role_changes_due")

    op.drop_table("role_changes")
