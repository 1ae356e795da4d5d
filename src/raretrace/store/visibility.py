"""The SQL behind "who may see which lot" (``raretrace.roles`` holds the rule): which of some lots
exist, which of them some facilities produced, hold, are receiving, or shipped or received, and which
they hold now.

Why here: a trace page asks this of every lot it shows, so the reads take the fast DB-API path
(``store.raw.fetch_in``: two IN queries, lots then the transfers of the lots not yet seen); the
facility test is done on the rows in Python, which is cheaper than a join per lot.
"""

from __future__ import annotations

from collections.abc import Sequence, Set

from sqlalchemy import Connection, select

from raretrace.roles import holds_or_made, took_part
from raretrace.store import schema as t
from raretrace.store.raw import fetch_in

_LOT_PARTIES = (t.lots.c.id, t.lots.c.custodian, t.lots.c.producer, t.lots.c.in_transit_to)
_MOVES = (t.transfers.c.lot_id, t.transfers.c.sender, t.transfers.c.receiver)


def existing(conn: Connection, lot_ids: Sequence[str]) -> set[str]:
    """The lots among ``lot_ids`` that exist."""
    return {str(r.id) for r in fetch_in(conn, _LOT_PARTIES, t.lots.c.id, lot_ids)}


def touching(conn: Connection, lot_ids: Sequence[str], facilities: Set[str]) -> set[str]:
    """The lots among ``lot_ids`` that one of ``facilities`` produced, holds or is receiving, or that
    a transfer sent by or to one of them moved."""
    rows = fetch_in(conn, _LOT_PARTIES, t.lots.c.id, lot_ids)
    found = {str(r.id) for r in rows if holds_or_made(facilities, r.producer, r.custodian, r.in_transit_to)}
    # Every id not yet seen is looked up in the transfers, whether it exists or not: a lot the caller may
    # not see and one that does not exist then cost the same queries (docs/security.md, timing).
    rest = sorted(set(lot_ids) - found)
    if rest:
        moves = fetch_in(conn, _MOVES, t.transfers.c.lot_id, rest)
        found.update(str(m.lot_id) for m in moves if took_part(facilities, m.sender, m.receiver))
    return found


def held_by(conn: Connection, lot_ids: Sequence[str], facilities: Set[str]) -> set[str]:
    """The lots among ``lot_ids`` whose custodian now is one of ``facilities``."""
    lots = t.lots.c
    query = select(lots.id).where(lots.id.in_(list(lot_ids)), lots.custodian.in_(sorted(facilities)))
    return {str(x) for x in conn.execute(query).scalars()}
