"""the registry's signing key may be kept outside the database: its seed becomes optional

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registry_keys") as batch:
        batch.alter_column("seed", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("registry_keys") as batch:
        batch.alter_column("seed", existing_type=sa.LargeBinary(), nullable=False)
