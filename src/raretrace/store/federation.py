"""What a registry's statistics for other members read: its extract events and the certificates it
issued (``ledger.federation``)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, select

from raretrace.store.schema import certificates, events


@dataclass(frozen=True)
class IssuedCertificate:
    id: str
    issued_at: str
    credential: str  # the signed credential as issued, JSON text
    lots: tuple[str, ...]
    transfer_event: str | None


def extract_events(conn: Connection) -> list[tuple[str, bytes]]:
    """``(time, envelope)`` of every extract event, in log order."""
    rows = conn.execute(
        select(events.c.time, events.c.envelope).where(events.c.kind == "extract").order_by(events.c.seq)
    )
    return [(str(r.time), bytes(r.envelope)) for r in rows]


def issued_certificates(conn: Connection) -> list[IssuedCertificate]:
    c = certificates.c
    rows = conn.execute(
        select(c.id, c.issued_at, c.credential, c.lots, c.transfer_event).order_by(c.status_index)
    )
    return [
        IssuedCertificate(
            str(r.id),
            str(r.issued_at),
            str(r.credential),
            tuple(str(x) for x in json.loads(r.lots)),
            None if r.transfer_event is None else str(r.transfer_event),
        )
        for r in rows
    ]
