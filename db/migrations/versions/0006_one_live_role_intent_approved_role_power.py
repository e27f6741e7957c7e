"""one live role intent per member and role; approved power of badge roles

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("badges", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role_power", sa.BigInteger(), server_default="0", nullable=False)
        )
    # Keep only the latest change per member and role: older ones were superseded decisions.
    op.execute(
        "DELETE FROM role_changes WHERE user_id IS NOT NULL AND id NOT IN ("
        " SELECT max(id) FROM role_changes WHERE user_id IS NOT NULL"
        " GROUP BY guild_id, role_id, user_id)"
    )
    with op.batch_alter_table("role_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(
            "uq_role_changes_intent", ["guild_id", "role_id", "user_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("role_changes", schema=None) as batch_op:
        batch_op.drop_index("uq_role_changes_intent")
        batch_op.drop_column("version")
    with op.batch_alter_table("badges", schema=None) as batch_op:
        batch_op.drop_column("role_power")
