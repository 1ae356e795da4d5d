"""the certificates of a lot found by index

A lot's page lists the certificates naming it. They were found by a LIKE over every certificate's
JSON list of lots, reading each signed credential (kilobytes) on the way; a table of (certificate,
lot) pairs indexed by lot answers from the index. Existing certificates are copied in.

Revision ID: 0011
Revises: 0010
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pairs = op.create_table(
        "certificate_lots",
        sa.Column("certificate_id", sa.String(length=200), nullable=False),
        sa.Column("lot_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["certificate_id"], ["certificates.id"]),
        sa.PrimaryKeyConstraint("certificate_id", "lot_id"),
    )
    op.create_index("ix_certificate_lots_lot", "certificate_lots", ["lot_id", "certificate_id"])
    rows = op.get_bind().execute(sa.text("SELECT id, lots FROM certificates")).all()
    op.bulk_insert(
        pairs, [{"certificate_id": cid, "lot_id": lot} for cid, lots in rows for lot in json.loads(lots)]
    )


def downgrade() -> None:
    op.drop_index("ix_certificate_lots_lot", table_name="certificate_lots")
    op.drop_table("certificate_lots")
