"""holders index in newest-first order

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 13:00:07.695651
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("awards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_awards_badge_awarded_at"))
        batch_op.create_index(
            "ix_awards_badge_newest", ["badge_id", "awarded_at", "user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("awards", schema=None) as batch_op:
        batch_op.drop_index("ix_awards_badge_newest")
        batch_op.create_index(
            batch_op.f("ix_awards_badge_awarded_at"), ["badge_id", "awarded_at"], unique=False
        )
