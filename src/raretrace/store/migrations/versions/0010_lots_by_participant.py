"""a participant's lots found by index: produced by, held by or moved by one of its facilities

The server lists the lots a participant may see. Without indexes on the producer and on the
transfers' sender and receiver, each page read every lot and every transfer: at 700,000 lots a page
took 0.3-1.3 s, growing with the registry rather than with the participant's own lots. Each index
holds the lot id after the facility, so a page takes the first ids of each in order and stops.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_lots_custodian", table_name="lots")
    op.create_index("ix_lots_custodian", "lots", ["custodian", "id"])
    op.create_index("ix_lots_producer", "lots", ["producer", "id"])
    op.create_index("ix_transfers_sender", "transfers", ["sender", "lot_id"])
    op.create_index("ix_transfers_receiver", "transfers", ["receiver", "lot_id"])


def downgrade() -> None:
    op.drop_index("ix_transfers_receiver", table_name="transfers")
    op.drop_index("ix_transfers_sender", table_name="transfers")
    op.drop_index("ix_lots_producer", table_name="lots")
    op.drop_index("ix_lots_custodian", table_name="lots")
    op.create_index("ix_lots_custodian", "lots", ["custodian"])
