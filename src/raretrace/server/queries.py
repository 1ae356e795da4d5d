"""Read-only lookups the API needs that no ledger service offers, as the JSON the API sends: listings
for one caller, the certificates of a lot, the facilities. The rows come through the
``store.protocol.Listings`` boundary (the registry's ``Store``, or ``MemoryStore`` in a test); no rule
of the registry and no SQL lives here."""

from __future__ import annotations

from typing import TypeVar

from raretrace.jsontypes import JSONObject
from raretrace.ledger.participants import Principal
from raretrace.store import certificates
from raretrace.store.certificates import CertificateRecord
from raretrace.store.listings import LOT_COLUMNS
from raretrace.store.protocol import Listings
from raretrace.store.reading import Connection

__all__ = ["LOT_COLUMNS", "certificate_row"]

certificate_row = certificates.find
C = TypeVar("C")


def lots_for(
    store: Listings[C], conn: C, principal: Principal, *, limit: int, offset: int, after: str | None = None
) -> list[JSONObject]:
    """The lots the caller may see, by id, one page: ``offset`` lots skipped, or those up to ``after``
    (the last id of the previous page; the cheap way through a long list). A participant sees the lots
    its facilities produced, hold, or sent or received (``store.listings.lot_page``)."""
    facilities = None if principal.sees_everything else principal.facilities
    rows = store.lot_page(conn, facilities, limit=limit, offset=offset, after=after)
    return [dict(zip(LOT_COLUMNS, row, strict=True)) for row in rows]


def next_after(page: list[JSONObject], limit: int) -> str | None:
    """What to pass as ``after`` for the page following a full one (None: this page was the last)."""
    return str(page[-1]["id"]) if page and len(page) == limit else None


def certificate_summary(row: CertificateRecord) -> JSONObject:
    """A certificate as the API lists it (without its signed credential)."""
    return {
        "id": row.id,
        "number": row.number,
        "lots": list(row.lots),
        "transfer_event": row.transfer_event,
        "issued_at": row.issued_at,
        "valid_until": row.valid_until,
        "revoked_at": row.revoked_at,
        "revocation_reason": row.revocation_reason,
    }


def certificates_of_lot(conn: Connection, lot_id: str) -> list[JSONObject]:
    """Certificates naming the lot, oldest first."""
    return [certificate_summary(r) for r in certificates.of_lot(conn, lot_id)]


def facilities(store: Listings[C], conn: C) -> list[JSONObject]:
    return [
        {
            "id": f.id,
            "name": f.name,
            "operator": f.operator,
            "country": f.country,
            "stages": list(f.stages),
            "technology": dict(f.technology),
            "accreditation": f.accreditation,
        }
        for f in store.facility_listing(conn)
    ]
