"""events without copies of what their envelope already holds

Each event row kept its statement twice, inside the envelope (base64) and again as text in
``predicate`` (about 1.2 KB a row), the signers' key ids a second time (``signer_key_ids``, in the
envelope's signatures) and the batch's time a second time (``recorded_at``, the ``created_at`` of the
checkpoint that first covers the event); no query read any of them, nor ``ix_events_facility_id``.
The audit needs none: it reads the envelopes, leaf hashes, tiles and checkpoints, all kept. New
envelopes are also stored compressed (``store.envelopes``); rows written before stay verbatim and
read the same. The downgrade rebuilds every dropped column from what is kept.

Revision ID: 0013_23
Revises: 0011
"""

import base64
import json

import sqlalchemy as sa
from alembic import op

revision = "0013_23"
down_revision = "0011"
branch_labels = None
depends_on = None

DROPPED = ("predicate", "signer_key_ids", "recorded_at")


def upgrade() -> None:
    op.drop_index("ix_events_facility_id", table_name="events")
    for name in DROPPED:
        op.drop_column("events", name)


def downgrade() -> None:
    from raretrace.store.envelopes import unpack

    for name in DROPPED:
        op.add_column("events", sa.Column(name, sa.Text(), nullable=True))
    bind = op.get_bind()
    covering = bind.execute(sa.text("SELECT size, created_at FROM checkpoints ORDER BY size")).all()
    rows = bind.execute(sa.text("SELECT seq, envelope FROM events ORDER BY seq")).all()
    at = 0
    for seq, stored in rows:
        envelope = json.loads(unpack(stored))
        while covering[at][0] <= seq:  # the first checkpoint whose tree holds leaf ``seq``
            at += 1
        bind.execute(
            sa.text("UPDATE events SET predicate = :p, signer_key_ids = :k, recorded_at = :r WHERE seq = :s"),
            {
                "p": base64.b64decode(envelope["payload"]).decode("utf-8"),
                "k": json.dumps([s["keyid"] for s in envelope["signatures"]], separators=(",", ":")),
                "r": covering[at][1],
                "s": seq,
            },
        )
    with op.batch_alter_table("events") as batch:
        batch.alter_column("predicate", existing_type=sa.Text(), nullable=False)
        batch.alter_column("signer_key_ids", existing_type=sa.Text(), nullable=False)
        batch.alter_column("recorded_at", existing_type=sa.String(length=32), nullable=False)
    op.create_index("ix_events_facility_id", "events", ["facility_id"])
