"""The SQL of the API's read-only listings: a participant's lots a page at a time, the certificates
naming a lot, the registered facilities, and the parties of a transfer.

Why here: the server decides who may see what (``server/access.py``) and what an answer holds; this
module only reads the rows, on the caller's connection. Rows come back as frozen dataclasses or plain
values; the JSON is made by the server.
"""

from __future__ import annotations

import json
from collections.abc import Set
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, Select, select, union

from raretrace.store import schema as t

#: the columns of a lot listing row, in the order the API writes them
LOT_COLUMNS = ("id", "form", "mass_kg", "remaining_kg", "custodian", "in_transit_to", "producer", "stage")


class LotListing(NamedTuple):
    """One row of a lot listing (``LOT_COLUMNS``, in that order: a tuple, as a page of up to 1,000 rows
    is built per request and ``dict(zip(LOT_COLUMNS, row))`` writes it)."""

    id: str
    form: str
    mass_kg: float
    remaining_kg: float
    custodian: str
    in_transit_to: str | None
    producer: str
    stage: str


@dataclass(frozen=True)
class FacilityListing:
    """A registered facility as the API lists it (stages and technology decoded from their JSON)."""

    id: str
    name: str
    operator: str
    country: str
    stages: list[str]
    technology: dict[str, str]
    accreditation: str | None


def lot_page(
    conn: Connection, facilities: Set[str] | None, *, limit: int, offset: int, after: str | None = None
) -> list[LotListing]:
    """Lots by id, one page: ``offset`` lots skipped, or those after ``after``. ``facilities`` None: every
    lot; else the lots those facilities produced, hold, or sent or received (a lot in transit to one of
    them has a transfer row naming it as receiver).

    Each of the four ways is an index range read in id order up to the end of the page, and only the page
    is read from the lots table: a page costs its offset and size, not what the registry or the
    participant holds (migration 0010's indexes)."""
    lots = t.lots.c
    columns = [lots[c] for c in LOT_COLUMNS]
    if facilities is None:
        every = select(*columns) if after is None else select(*columns).where(lots.id > after)
        return _rows(conn, every.order_by(lots.id).limit(limit).offset(offset))
    mine = sorted(facilities)
    moves = t.transfers.c
    enough = offset + limit  # each way of seeing a lot, its first ids in order: an index range
    ways = [
        select(lots.id).where(lots.custodian.in_(mine)),
        select(lots.id).where(lots.producer.in_(mine)),
        select(moves.lot_id.label("id")).where(moves.sender.in_(mine)),
        select(moves.lot_id.label("id")).where(moves.receiver.in_(mine)),
    ]
    if after is not None:
        ways = [way.where(way.selected_columns[0] > after) for way in ways]
    ways = [way.order_by(way.selected_columns[0]) for way in ways]
    firsts = [way.limit(enough).subquery() for way in ways]
    ids = union(*(select(first.c.id) for first in firsts)).subquery()
    page = select(ids.c.id).order_by(ids.c.id).limit(limit).offset(offset).subquery()
    return _rows(conn, select(*columns).join(page, page.c.id == lots.id).order_by(lots.id))


def _rows(conn: Connection, query: Select[tuple[object, ...]]) -> list[LotListing]:
    make = LotListing._make
    return [make(row) for row in conn.execute(query)]


def transfer_sender(conn: Connection, event_id: str) -> str | None:
    """The facility that sent transfer ``event_id`` (None: no such transfer)."""
    query = select(t.events.c.facility_id).where(
        t.events.c.event_id == event_id, t.events.c.kind == "transfer"
    )
    row = conn.execute(query).one_or_none()
    return None if row is None else str(row.facility_id)


def transfer_parties(conn: Connection, event_id: str) -> set[str]:
    """The sending and receiving facilities of transfer event ``event_id`` (empty: no such transfer)."""
    moves = t.transfers.c
    rows = conn.execute(
        select(moves.sender, moves.receiver)
        .join(t.events, t.events.c.seq == moves.seq)
        .where(t.events.c.event_id == event_id, t.events.c.kind == "transfer")
        .limit(1)
    ).all()
    return {name for row in rows for name in (row.sender, row.receiver)}


def facility_listing(conn: Connection) -> list[FacilityListing]:
    """Every registered facility, by id."""
    rows = conn.execute(select(t.facilities).order_by(t.facilities.c.id)).all()
    return [
        FacilityListing(
            r.id,
            r.name,
            r.operator,
            r.country,
            json.loads(r.stages),
            json.loads(r.technology),
            r.accreditation,
        )
        for r in rows
    ]


class SqlListings:
    """``store.protocol.Listings`` as methods of ``store.store.Store``: the statements above."""

    lot_page = staticmethod(lot_page)
    transfer_sender = staticmethod(transfer_sender)
    transfer_parties = staticmethod(transfer_parties)
    facility_listing = staticmethod(facility_listing)
