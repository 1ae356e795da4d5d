"""Read-only lookups the API needs that no ledger service offers: listings for one caller, the
certificates of a lot, a transfer's sender. Plain selects; no rule of the registry lives here."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Select, select, union

from raretrace.ledger.participants import Principal
from raretrace.store import schema as t

LOT_COLUMNS = ("id", "form", "mass_kg", "remaining_kg", "custodian", "in_transit_to", "producer", "stage")


def lots_for(
    conn: Connection, principal: Principal, *, limit: int, offset: int, after: str | None = None
) -> list[dict[str, Any]]:
    """The lots the caller may see, by id, one page: ``offset`` lots skipped, or those up to ``after``
    (the last id of the previous page; the cheap way through a long list).

    A participant sees the lots its facilities produced, hold, or sent or received (a lot in transit
    to one of them has a transfer row naming it as receiver). Each of the four is an index range read
    in id order up to the end of the page, and only the page is read from the lots table: a page costs
    its offset and size, not what the registry or the participant holds."""
    lots = t.lots.c
    columns = [lots[c] for c in LOT_COLUMNS]
    if principal.sees_everything:
        every = select(*columns) if after is None else select(*columns).where(lots.id > after)
        return _rows(conn, every.order_by(lots.id).limit(limit).offset(offset))
    mine = sorted(principal.facilities)
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


def next_after(page: list[dict[str, Any]], limit: int) -> str | None:
    """What to pass as ``after`` for the page following a full one (None: this page was the last)."""
    return str(page[-1]["id"]) if page and len(page) == limit else None


def _rows(conn: Connection, query: Select[Any]) -> list[dict[str, Any]]:
    return [dict(zip(LOT_COLUMNS, row, strict=True)) for row in conn.execute(query)]


def transfer_sender(conn: Connection, event_id: str) -> str | None:
    row = conn.execute(
        select(t.events.c.facility_id).where(t.events.c.event_id == event_id, t.events.c.kind == "transfer")
    ).one_or_none()
    return None if row is None else str(row.facility_id)


def certificate_row(conn: Connection, certificate: str) -> Any:
    return conn.execute(
        select(t.certificates).where(
            (t.certificates.c.id == certificate) | (t.certificates.c.number == certificate)
        )
    ).one_or_none()


def certificate_summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "number": row.number,
        "lots": json.loads(row.lots),
        "transfer_event": row.transfer_event,
        "issued_at": row.issued_at,
        "valid_until": row.valid_until,
        "revoked_at": row.revoked_at,
        "revocation_reason": row.revocation_reason,
    }


def certificates_of_lot(conn: Connection, lot_id: str) -> list[dict[str, Any]]:
    """Certificates naming the lot, oldest first."""
    named = t.certificate_lots.c
    rows = conn.execute(
        select(t.certificates)
        .join(t.certificate_lots, named.certificate_id == t.certificates.c.id)
        .where(named.lot_id == lot_id)
        .order_by(t.certificates.c.issued_at, t.certificates.c.status_index)  # status index: issue order
    ).all()
    return [certificate_summary(r) for r in rows]


def facilities(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(t.facilities).order_by(t.facilities.c.id)).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "operator": r.operator,
            "country": r.country,
            "stages": json.loads(r.stages),
            "technology": json.loads(r.technology),
            "accreditation": r.accreditation,
        }
        for r in rows
    ]


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
