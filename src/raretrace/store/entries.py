"""The log's entries as stored: the envelope bytes of a range of leaves, in leaf order.

Entry bundles (C2SP tlog-tiles ``tile/entries/<N>``) are built from these, by the server's tile
route and by ``raretrace log publish``; the bytes are exactly those the registry received.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from raretrace.store.envelopes import unpack
from raretrace.store.raw import fetch_all
from raretrace.store.schema import events

_c = events.c
_RANGE = (
    select(_c.seq, _c.envelope)
    .where(_c.seq >= bindparam("first"), _c.seq < bindparam("end"))
    .order_by(_c.seq)
)


def envelopes_between(conn: Connection, first: int, end: int) -> list[tuple[int, bytes]]:
    """``(leaf index, envelope bytes)`` for leaves ``first <= index < end``, in order. The rows are read
    raw (no SQLAlchemy type processing), so stored envelopes are unpacked here (store/envelopes.py)."""
    rows = fetch_all(conn, _RANGE, {"first": first, "end": end})
    return [(int(row[0]), unpack(bytes(row[1]))) for row in rows]
