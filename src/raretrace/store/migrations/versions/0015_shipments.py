"""certificates kept for the importing member to fetch

A certificate for a shipment to another member's facility is issued with its disclosures (the salted
values the holder needs to show masses and compositions); the exporting registry keeps that
presentation until the importer has fetched it and its confirmation came back, so the importing
registry can fetch it from the exporter's API instead of receiving it by hand.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shipments",
        sa.Column("certificate_id", sa.String(length=200), nullable=False),
        sa.Column("importer", sa.String(length=200), nullable=False),
        sa.Column("presentation", sa.Text(), nullable=False),
        sa.Column("kept_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["certificate_id"], ["certificates.id"]),
        sa.PrimaryKeyConstraint("certificate_id"),
    )
    op.create_index("ix_shipments_importer", "shipments", ["importer"])


def downgrade() -> None:
    op.drop_index("ix_shipments_importer", table_name="shipments")
    op.drop_table("shipments")
