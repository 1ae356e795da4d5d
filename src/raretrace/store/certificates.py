"""Certificates as recorded (tables ``certificates``, ``certificate_lots``) and the reads issuing one
needs from the log's tables: every statement the certificates service runs.

Each function takes the caller's connection, so the service decides what one transaction holds.
Rows come back as frozen dataclasses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from raretrace.store.schema import certificate_lots, certificates, events, facilities, witnesses

_c = certificates.c


@dataclass(frozen=True)
class LoggedEvent:
    """An event as the log holds it: its leaf index, kind and envelope bytes."""

    seq: int
    kind: str
    envelope: bytes


@dataclass(frozen=True)
class PartyRow:
    """What a certificate says of a facility, and the leaf of its registration."""

    id: str
    name: str
    operator: str
    country: str
    registered_seq: int


@dataclass(frozen=True)
class CertificateRecord:
    """A certificate as recorded: its summary columns and the signed credential's JSON text."""

    id: str
    number: str
    lots: tuple[str, ...]
    transfer_event: str | None
    issued_at: str
    valid_until: str
    revoked_at: str | None
    revocation_reason: str | None
    credential: str


def witness_keys(conn: Connection) -> list[str]:
    """The verifier key of every witness this registry knows."""
    return [str(k) for k in conn.execute(select(witnesses.c.verifier_key)).scalars()]


def logged_events(conn: Connection, seqs: Sequence[int]) -> list[LoggedEvent]:
    """The events at these leaf indexes, in log order."""
    rows = conn.execute(
        select(events.c.seq, events.c.kind, events.c.envelope)
        .where(events.c.seq.in_(sorted(set(seqs))))
        .order_by(events.c.seq)
    )
    return [LoggedEvent(int(r.seq), str(r.kind), bytes(r.envelope)) for r in rows]


def event_by_id(conn: Connection, event_id: str) -> LoggedEvent | None:
    row = conn.execute(
        select(events.c.seq, events.c.kind, events.c.envelope).where(events.c.event_id == event_id)
    ).one_or_none()
    return None if row is None else LoggedEvent(int(row.seq), str(row.kind), bytes(row.envelope))


def parties(conn: Connection, ids: Sequence[str]) -> dict[str, PartyRow]:
    """The registered facilities among ``ids``, by id."""
    rows = conn.execute(select(facilities).where(facilities.c.id.in_(sorted(set(ids)))))
    return {r.id: PartyRow(r.id, r.name, r.operator, r.country, int(r.registered_seq)) for r in rows}


def count(conn: Connection) -> int:
    """How many certificates were issued: the next one's status-list index."""
    return int(conn.execute(select(func.count()).select_from(certificates)).scalar_one())


def record(conn: Connection, certificate: CertificateRecord, status_index: int) -> None:
    """Record an issued certificate and the lots it names."""
    conn.execute(
        insert(certificates).values(
            id=certificate.id,
            number=certificate.number,
            status_index=status_index,
            transfer_event=certificate.transfer_event,
            lots=json.dumps(list(certificate.lots)),
            issued_at=certificate.issued_at,
            valid_until=certificate.valid_until,
            credential=certificate.credential,
        )
    )
    conn.execute(
        insert(certificate_lots),
        [{"certificate_id": certificate.id, "lot_id": lot} for lot in certificate.lots],
    )


def _record(row: RowMapping) -> CertificateRecord:
    return CertificateRecord(
        id=row["id"],
        number=row["number"],
        lots=tuple(json.loads(row["lots"])),
        transfer_event=row["transfer_event"],
        issued_at=row["issued_at"],
        valid_until=row["valid_until"],
        revoked_at=row["revoked_at"],
        revocation_reason=row["revocation_reason"],
        credential=row["credential"],
    )


def find(conn: Connection, id_or_number: str) -> CertificateRecord | None:
    """The certificate with this id (a URN) or number, or None."""
    row = (
        conn.execute(select(certificates).where((_c.id == id_or_number) | (_c.number == id_or_number)))
        .mappings()
        .one_or_none()
    )
    return None if row is None else _record(row)


def of_lot(conn: Connection, lot_id: str) -> list[CertificateRecord]:
    """Certificates naming the lot, in issue order."""
    named = certificate_lots.c
    rows = conn.execute(
        select(certificates)
        .join(certificate_lots, named.certificate_id == _c.id)
        .where(named.lot_id == lot_id)
        .order_by(_c.issued_at, _c.status_index)  # status index: issue order
    ).mappings()
    return [_record(r) for r in rows]


def set_revoked(conn: Connection, certificate_id: str, revoked_at: str, reason: str) -> None:
    conn.execute(
        update(certificates)
        .where(_c.id == certificate_id)
        .values(revoked_at=revoked_at, revocation_reason=reason)
    )


def revoked_indexes(conn: Connection) -> list[int]:
    """The status-list index of every revoked certificate."""
    return [int(i) for i in conn.execute(select(_c.status_index).where(_c.revoked_at.is_not(None))).scalars()]


class SqlCertificates:
    """``store.protocol.CertificateRecords`` as methods of ``store.store.Store``."""

    logged_events = staticmethod(logged_events)
    event_by_id = staticmethod(event_by_id)
    parties = staticmethod(parties)
    certificate_count = staticmethod(count)
    record_certificate = staticmethod(record)
    find_certificate = staticmethod(find)
    certificates_of_lot = staticmethod(of_lot)
    set_revoked = staticmethod(set_revoked)
    revoked_indexes = staticmethod(revoked_indexes)
