"""Import confirmations the exporting registry received (table ``import_confirmations``), and the import
events of this registry's own log that it confirms to their exporters."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import Connection, insert, select

from raretrace.store.schema import certificates, events, import_confirmations, trusted_registries

_c = import_confirmations.c


@dataclass(frozen=True)
class ConfirmationRow:
    certificate_id: str
    importer_log: str
    import_event: str
    leaf_index: int
    confirmed_at: str
    received_at: str
    envelope: bytes  # the signed confirmation, byte-exact


@dataclass(frozen=True)
class ImportEvent:
    seq: int
    event_id: str
    time: str
    facility_id: str
    envelope: bytes


_COLUMNS = (
    _c.certificate_id,
    _c.importer_log,
    _c.import_event,
    _c.leaf_index,
    _c.confirmed_at,
    _c.received_at,
    _c.envelope,
)


def _typed(r: tuple[object, ...]) -> ConfirmationRow:
    certificate, importer, event, leaf, confirmed, received, envelope = r
    assert isinstance(leaf, int)
    assert isinstance(envelope, bytes | memoryview)
    return ConfirmationRow(
        str(certificate), str(importer), str(event), leaf, str(confirmed), str(received), bytes(envelope)
    )


def confirmation(conn: Connection, certificate_id: str) -> ConfirmationRow | None:
    row = conn.execute(select(*_COLUMNS).where(_c.certificate_id == certificate_id)).one_or_none()
    return None if row is None else _typed(tuple(row))


def all_confirmations(conn: Connection) -> list[ConfirmationRow]:
    rows = conn.execute(select(*_COLUMNS).order_by(_c.received_at, _c.certificate_id))
    return [_typed(tuple(r)) for r in rows]


def record(conn: Connection, row: ConfirmationRow) -> None:
    conn.execute(insert(import_confirmations).values(**asdict(row)))


def issued(conn: Connection, certificate_id: str) -> bool:
    found = conn.execute(select(certificates.c.id).where(certificates.c.id == certificate_id)).first()
    return found is not None


def import_events(conn: Connection) -> list[ImportEvent]:
    """Every import event in this log, in log order."""
    rows = conn.execute(
        select(events.c.seq, events.c.event_id, events.c.time, events.c.facility_id, events.c.envelope)
        .where(events.c.kind == "import")
        .order_by(events.c.seq)
    )
    return [
        ImportEvent(int(r.seq), str(r.event_id), str(r.time), str(r.facility_id), bytes(r.envelope))
        for r in rows
    ]


def trusted_log_keys(conn: Connection) -> dict[str, list[str]]:
    """Log origin -> the checkpoint verifier keys this registry trusts it under (one per trusted issuer)."""
    out: dict[str, list[str]] = {}
    for r in conn.execute(select(trusted_registries).order_by(trusted_registries.c.added_at)):
        out.setdefault(str(r.log), []).append(str(r.log_key))
    return out
