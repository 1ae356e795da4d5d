"""Shipment certificates kept for the importing member to fetch (table ``shipments``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from raretrace.store.schema import import_confirmations, shipments

_s = shipments.c


@dataclass(frozen=True)
class KeptShipment:
    certificate_id: str
    importer: str
    presentation: str  # JSON text, as issued


def keep(conn: Connection, certificate_id: str, importer: str, presentation: str, kept_at: str) -> None:
    conn.execute(
        insert(shipments).values(
            certificate_id=certificate_id, importer=importer, presentation=presentation, kept_at=kept_at
        )
    )


def unconfirmed_for(conn: Connection, importer: str) -> list[KeptShipment]:
    """Shipments to ``importer`` whose import confirmation has not come back, oldest first."""
    confirmed = select(import_confirmations.c.certificate_id)
    rows = conn.execute(
        select(_s.certificate_id, _s.importer, _s.presentation)
        .where(_s.importer == importer, _s.certificate_id.not_in(confirmed))
        .order_by(_s.kept_at, _s.certificate_id)
    )
    return [KeptShipment(str(r.certificate_id), str(r.importer), str(r.presentation)) for r in rows]
