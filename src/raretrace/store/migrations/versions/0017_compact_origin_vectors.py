"""origin vectors stored compactly: path keys once a lot, shares as doubles

A lot's origin vector was JSON, most of the lots table: every element repeated the same path keys and
wrote each share in decimal. ``raretrace.origin_text`` writes the keys once and the shares as doubles
(base64), still text with the place codes readable, so the search's country pre-filter is unchanged;
it reads back exactly the vector that was stored (same elements, paths, order and bits), so nothing
the audit or a rule reads changes. Vectors the compact form cannot carry (marginals of older imports)
stay JSON, as does anything written before this revision until it is converted here. The downgrade
writes every vector back as the JSON the code before it wrote.

The pages freed are reused by later writes; ``VACUUM`` (SQLite) gives them back to the file system.

Revision ID: 0017
Revises: 0016
"""

import json
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from raretrace.origin_text import decode_origin, encode_origin

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_BATCH = 5000


def _rewrite(kind: str, convert: Callable[[str], str]) -> None:
    """Every origin stored in form ``kind`` (``{``: JSON, ``~``: compact) rewritten by ``convert``, in
    batches of lots in id order."""
    conn = op.get_bind()
    select = sa.text(
        "SELECT id, origin FROM lots WHERE id > :after AND origin LIKE :kind ORDER BY id LIMIT :n"
    )
    update = sa.text("UPDATE lots SET origin = :o WHERE id = :i")
    after = ""
    while rows := conn.execute(select, {"after": after, "kind": kind + "%", "n": _BATCH}).all():
        changed = [{"o": new, "i": lot_id} for lot_id, old in rows if (new := convert(old)) != old]
        if changed:
            conn.execute(update, changed)
        after = rows[-1][0]


def upgrade() -> None:
    _rewrite("{", lambda stored: encode_origin(decode_origin(stored)))


def downgrade() -> None:
    _rewrite("~", lambda stored: json.dumps(decode_origin(stored), separators=(",", ":")))
