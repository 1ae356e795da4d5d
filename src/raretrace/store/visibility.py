"""The SQL behind "who may see which lot" (``raretrace.roles`` holds the rule): which of some lots
exist, which of them some facilities produced, hold, are receiving, or shipped or received, and which
they hold now.

Why here: a trace page asks this of every lot it shows, so the reads take the fast DB-API path
(``store.raw.fetch_in``: the lots and their transfers in one statement); the
facility test is done on the rows in Python, which is cheaper than a join per lot.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from typing import Any

from sqlalchemy import Connection, literal_column, null, select
from sqlalchemy.sql.elements import ColumnElement

from raretrace.roles import holds_or_made, took_part
from raretrace.store import schema as t
from raretrace.store.raw import Also, fetch_in

_LOT: ColumnElement[Any] = literal_column("0").label("moved")
_LOT_PARTIES = (t.lots.c.id, t.lots.c.custodian, t.lots.c.producer, t.lots.c.in_transit_to, _LOT)
# in the lots' columns: the lot, its sender and receiver where the custodian and producer stand
_MOVES: Also = (
    (t.transfers.c.lot_id, t.transfers.c.sender, t.transfers.c.receiver, null(), literal_column("1")),
    t.transfers.c.lot_id,
)


def existing(conn: Connection, lot_ids: Sequence[str]) -> set[str]:
    """The lots among ``lot_ids`` that exist."""
    return {str(r.id) for r in fetch_in(conn, _LOT_PARTIES, t.lots.c.id, lot_ids)}


def touching(conn: Connection, lot_ids: Sequence[str], facilities: Set[str]) -> set[str]:
    """The lots among ``lot_ids`` that one of ``facilities`` produced, holds or is receiving, or that
    a transfer sent by or to one of them moved."""
    # The lots and the transfers of every id in one statement (a round trip fewer than looking up
    # the transfers of the lots not already seen, docs/server.md): the same answer, since a lot seen
    # either way is seen; and a lot the caller may not see and one that does not exist cost the same
    # query (docs/security.md, timing).
    found: set[str] = set()
    for r in fetch_in(conn, _LOT_PARTIES, t.lots.c.id, lot_ids, _MOVES):
        if r.moved:
            seen = took_part(facilities, r.custodian, r.producer)  # a transfer's sender, receiver
        else:
            seen = holds_or_made(facilities, r.producer, r.custodian, r.in_transit_to)
        if seen:
            found.add(str(r.id))
    return found


def held_by(conn: Connection, lot_ids: Sequence[str], facilities: Set[str]) -> set[str]:
    """The lots among ``lot_ids`` whose custodian now is one of ``facilities``."""
    lots = t.lots.c
    query = select(lots.id).where(lots.id.in_(list(lot_ids)), lots.custodian.in_(sorted(facilities)))
    return {str(x) for x in conn.execute(query).scalars()}
