"""other members' registries whose certificates this registry accepts at import

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trusted_registries",
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("log", sa.String(length=200), nullable=False),
        sa.Column("log_key", sa.Text(), nullable=False),
        sa.Column("added_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("issuer"),
    )


def downgrade() -> None:
    op.drop_table("trusted_registries")
