"""events without copies of what their envelope already holds; lineage edges stored once for tracing up

Each event row kept its statement twice, inside the envelope (base64) and again as text in
``predicate`` (about 1.2 KB a row), the signers' key ids a second time (``signer_key_ids``, in the
envelope's signatures) and the batch's time a second time (``recorded_at``, the ``created_at`` of the
checkpoint that first covers the event); no query read any of them, nor ``ix_events_facility_id``.
The audit needs none: it reads the envelopes, leaf hashes, tiles and checkpoints, all kept. New
envelopes are also stored compressed (``store.envelopes``); rows written before stay verbatim and
read the same. The downgrade rebuilds every dropped column from what is kept and writes every
envelope back verbatim.

``lot_inputs`` was a rowid table plus two covering indexes, three copies of every edge: on SQLite it
becomes a WITHOUT ROWID table clustered by (child, parent), which is what ``ix_lot_inputs_up`` held, so
that index goes; on PostgreSQL the primary key (child, parent) carries mass_kg and seq (INCLUDE) in
place of that index.

Revision ID: 0014
Revises: 0013
"""

import base64
import json

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

DROPPED = ("predicate", "signer_key_ids", "recorded_at")


def _rebuild_edges(*key: sa.PrimaryKeyConstraint, **options: bool) -> None:
    """SQLite: ``lot_inputs`` copied into a new table (with ``key`` and ``options``) in its place."""
    op.drop_index("ix_lot_inputs_down", table_name="lot_inputs")
    op.create_table(
        "lot_inputs_rebuilt",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("child", sa.String(length=200), nullable=False),
        sa.Column("parent", sa.String(length=200), nullable=False),
        sa.Column("mass_kg", sa.Float(), nullable=False),
        *key,
        **options,
    )
    op.execute(
        "INSERT INTO lot_inputs_rebuilt (seq, child, parent, mass_kg) "
        "SELECT seq, child, parent, mass_kg FROM lot_inputs"
    )
    op.drop_table("lot_inputs")
    op.rename_table("lot_inputs_rebuilt", "lot_inputs")
    op.create_index("ix_lot_inputs_down", "lot_inputs", ["parent", "child", "mass_kg", "seq"])


def upgrade() -> None:
    op.drop_index("ix_events_facility_id", table_name="events")
    for name in DROPPED:
        op.drop_column("events", name)
    op.drop_index("ix_lot_inputs_up", table_name="lot_inputs")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_edges(
            sa.PrimaryKeyConstraint("child", "parent", name="pk_lot_inputs"), sqlite_with_rowid=False
        )
    else:
        op.execute(
            "ALTER TABLE lot_inputs ADD CONSTRAINT pk_lot_inputs PRIMARY KEY (child, parent) "
            "INCLUDE (mass_kg, seq)"
        )


def downgrade() -> None:
    from raretrace.store.envelopes import unpack

    if op.get_bind().dialect.name == "sqlite":
        _rebuild_edges()
    else:
        op.drop_constraint("pk_lot_inputs", "lot_inputs", type_="primary")
    op.create_index("ix_lot_inputs_up", "lot_inputs", ["child", "parent", "mass_kg", "seq"])

    for name in DROPPED:
        op.add_column("events", sa.Column(name, sa.Text(), nullable=True))
    bind = op.get_bind()
    covering = bind.execute(sa.text("SELECT size, created_at FROM checkpoints ORDER BY size")).all()
    rows = bind.execute(sa.text("SELECT seq, envelope FROM events ORDER BY seq")).all()
    at = 0
    for seq, stored in rows:
        raw = unpack(stored)  # the code before this revision reads envelopes verbatim
        envelope = json.loads(raw)
        while covering[at][0] <= seq:  # the first checkpoint whose tree holds leaf ``seq``
            at += 1
        bind.execute(
            sa.text(
                "UPDATE events SET envelope = :e, predicate = :p, signer_key_ids = :k, recorded_at = :r "
                "WHERE seq = :s"
            ),
            {
                "e": raw,
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
