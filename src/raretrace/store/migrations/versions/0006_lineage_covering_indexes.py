"""covering indexes for lineage: edges up and down, and the lot summary a trace shows

A trace reads every edge above (or below) a lot and a short summary of each lot it reaches. With
the edges indexed on one column, each edge costs a lookup in the table; the lots table carries the
origin vector (kilobytes per lot), so a summary costs a page per lot. Indexes that hold every
column a trace reads answer both from the index alone.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_SUMMARY = ["form", "mass_kg", "producer", "stage", "deposit", "custodian"]


def upgrade() -> None:
    op.drop_index("ix_lot_inputs_child", table_name="lot_inputs")
    op.drop_index("ix_lot_inputs_parent", table_name="lot_inputs")
    op.create_index("ix_lot_inputs_up", "lot_inputs", ["child", "parent", "mass_kg", "seq"])
    op.create_index("ix_lot_inputs_down", "lot_inputs", ["parent", "child", "mass_kg", "seq"])
    op.create_index("ix_lots_summary", "lots", ["id", *_SUMMARY])


def downgrade() -> None:
    op.drop_index("ix_lots_summary", table_name="lots")
    op.drop_index("ix_lot_inputs_down", table_name="lot_inputs")
    op.drop_index("ix_lot_inputs_up", table_name="lot_inputs")
    op.create_index("ix_lot_inputs_parent", "lot_inputs", ["parent"])
    op.create_index("ix_lot_inputs_child", "lot_inputs", ["child"])
