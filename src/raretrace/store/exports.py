"""The reads behind ``raretrace export``: every lot id, the certificates issued, the unrevoked keys and
the recorded envelopes of chosen kinds, as typed rows (interchange/export.py builds no SQL).

Events are streamed (``yield_per``) so an export of a large registry holds one batch at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from raretrace.jsontypes import JSONValue
from raretrace.store import schema as t

#: Rows fetched per round trip when streaming events.
_YIELD = 1000


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate this registry issued, with its revocation state."""

    id: str
    number: str
    status_index: int
    transfer_event: str | None
    lots: JSONValue  # the lot ids, as stored (a JSON list)
    issued_at: str
    valid_until: str
    revoked_at: str | None
    revocation_reason: str | None
    credential: JSONValue  # the signed credential as issued (concealed fields stay concealed)


@dataclass(frozen=True)
class ActiveKey:
    """A facility key that is not revoked, in the order keys were added."""

    facility_id: str
    public_key: bytes
    valid_from: str
    valid_until: str | None


def lot_ids(conn: Connection) -> list[str]:
    return list(conn.execute(select(t.lots.c.id).order_by(t.lots.c.id)).scalars())


def issued_certificates(conn: Connection) -> list[IssuedCertificate]:
    rows = conn.execute(select(t.certificates).order_by(t.certificates.c.status_index)).all()
    return [
        IssuedCertificate(
            id=row.id,
            number=row.number,
            status_index=row.status_index,
            transfer_event=row.transfer_event,
            lots=json.loads(row.lots),
            issued_at=row.issued_at,
            valid_until=row.valid_until,
            revoked_at=row.revoked_at,
            revocation_reason=row.revocation_reason,
            credential=json.loads(row.credential),
        )
        for row in rows
    ]


def active_keys(conn: Connection) -> list[ActiveKey]:
    rows = conn.execute(
        select(t.facility_keys)
        .where(t.facility_keys.c.revoked_at.is_(None))
        .order_by(t.facility_keys.c.added_seq)
    ).all()
    return [ActiveKey(r.facility_id, bytes(r.public_key), r.valid_from, r.valid_until) for r in rows]


def envelopes_of_kinds(conn: Connection, kinds: Sequence[str]) -> Iterator[tuple[int, bytes]]:
    """(log index, envelope bytes) of the recorded events of ``kinds``, in log order, streamed."""
    query = (
        select(t.events.c.seq, t.events.c.envelope)
        .where(t.events.c.kind.in_(list(kinds)))
        .order_by(t.events.c.seq)
    )
    for row in conn.execution_options(yield_per=_YIELD).execute(query):
        yield int(row.seq), bytes(row.envelope)
