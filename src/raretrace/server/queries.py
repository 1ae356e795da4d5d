"""Read-only lookups the API needs that no ledger service offers: listings for one caller, the
certificates of a lot, a transfer's sender. Plain selects; no rule of the registry lives here."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, or_, select, union

from raretrace.server.participants import Principal
from raretrace.store import schema as t

LOT_COLUMNS = ("id", "form", "mass_kg", "remaining_kg", "custodian", "in_transit_to", "producer", "stage")


def lots_for(conn: Connection, principal: Principal, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """The lots the caller may see, by id, one page."""
    lots = t.lots.c
    query = select(*(lots[c] for c in LOT_COLUMNS)).order_by(lots.id).limit(limit).offset(offset)
    if not principal.sees_everything:
        mine = sorted(principal.facilities)
        moved = union(
            select(t.transfers.c.lot_id).where(t.transfers.c.sender.in_(mine)),
            select(t.transfers.c.lot_id).where(t.transfers.c.receiver.in_(mine)),
        )
        query = query.where(
            or_(
                lots.custodian.in_(mine),
                lots.producer.in_(mine),
                lots.in_transit_to.in_(mine),
                lots.id.in_(select(moved.subquery().c.lot_id)),
            )
        )
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
    """Certificates naming the lot (the lots column is a JSON list; the LIKE narrows, JSON decides)."""
    pattern = "%" + json.dumps(lot_id).replace("%", r"\%").replace("_", r"\_") + "%"
    rows = conn.execute(
        select(t.certificates)
        .where(t.certificates.c.lots.like(pattern, escape="\\"))
        .order_by(t.certificates.c.issued_at)
    ).all()
    return [certificate_summary(r) for r in rows if lot_id in json.loads(r.lots)]


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
