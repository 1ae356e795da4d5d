"""joint (place, technology) paths in every lot's origin vector

Origin vectors held per-stage marginals only; MOFCOM 61's technology clause and tight bounds on
"any of several stages" need the joint history of each portion of an element (provenance.py). Every
lot's origin is recomputed from the recorded events (store/origin_rebuild.py) and stored as paths alone
(the marginals are derived when a lot is read); imported lots keep the origin their certificate stated.
The downgrade writes the marginals back and drops the paths.

Revision ID: 0012
Revises: 0011
"""

import json

import sqlalchemy as sa
from alembic import op

from raretrace.provenance import with_marginals
from raretrace.store.origin_rebuild import rebuild_origins

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rebuild_origins(op.get_bind())


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, origin FROM lots WHERE origin IS NOT NULL")).all()
    for lot_id, stored in rows:
        origin = with_marginals(json.loads(stored))  # revision 0011 reads marginals only
        for element in origin.values():
            element.pop("paths", None)
        conn.execute(
            sa.text("UPDATE lots SET origin = :o WHERE id = :i"),
            {"o": json.dumps(origin, separators=(",", ":")), "i": lot_id},
        )
