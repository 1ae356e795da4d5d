"""transfers indexed by their event: a receipt finds its transfer without reading every transfer

Appending a receipt (and checking a transfer referred to by a later event) looks up the transfer's
rows by the event's sequence number. Without an index on ``transfers.seq`` each such lookup read the
whole transfers table, so appends slowed down as the registry grew (measured: the lookup's share of
an append's time rose from 5% at 150k lots to 12% at 600k, and the append rate fell steadily with size).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_transfers_seq", "transfers", ["seq"])


def downgrade() -> None:
    op.drop_index("ix_transfers_seq", table_name="transfers")
