"""import confirmations recorded by the exporting registry

The Kimberley scheme's confirmation step: the importing member's registry sends back a statement,
signed with its log key, that it recorded the import of a certificate this registry issued (with the
import event and its inclusion proof in the importer's log). One row per certificate: a second,
different confirmation of the same certificate is refused.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_confirmations",
        sa.Column("certificate_id", sa.String(length=200), nullable=False),
        sa.Column("importer_log", sa.String(length=200), nullable=False),
        sa.Column("import_event", sa.String(length=200), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_at", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.String(length=32), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["certificate_id"], ["certificates.id"]),
        sa.PrimaryKeyConstraint("certificate_id"),
    )


def downgrade() -> None:
    op.drop_table("import_confirmations")
