"""participants of the registry server, the facilities they operate and their API tokens (hashes)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "participants",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("disabled_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "participant_facilities",
        sa.Column("participant_id", sa.String(length=200), nullable=False),
        sa.Column("facility_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"]),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"]),
        sa.PrimaryKeyConstraint("participant_id", "facility_id"),
    )
    op.create_index(
        "ix_participant_facilities_facility", "participant_facilities", ["facility_id"], unique=False
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("participant_id", sa.String(length=200), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=True),
        sa.Column("revoked_at", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_api_tokens_participant_id", "api_tokens", ["participant_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_api_tokens_participant_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("ix_participant_facilities_facility", table_name="participant_facilities")
    op.drop_table("participant_facilities")
    op.drop_table("participants")
