"""Import confirmations the exporting registry received (table ``import_confirmations``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from raretrace.store.schema import certificates, events, import_confirmations, trusted_registries

_c = import_confirmations.c


def confirmation(conn: Connection, certificate_id: str) -> Any:
    return conn.execute(select(import_confirmations).where(_c.certificate_id == certificate_id)).one_or_none()


def all_confirmations(conn: Connection) -> list[Any]:
    return list(conn.execute(select(import_confirmations).order_by(_c.received_at, _c.certificate_id)))


def record(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(import_confirmations).values(**row))


def issued(conn: Connection, certificate_id: str) -> bool:
    found = conn.execute(select(certificates.c.id).where(certificates.c.id == certificate_id)).first()
    return found is not None


def import_events(conn: Connection) -> list[Any]:
    """``(seq, event_id, time, envelope)`` of every import event in this log, in log order."""
    return list(
        conn.execute(
            select(events.c.seq, events.c.event_id, events.c.time, events.c.envelope)
            .where(events.c.kind == "import")
            .order_by(events.c.seq)
        )
    )


def trusted_log_keys(conn: Connection) -> dict[str, str]:
    """Log origin -> checkpoint verifier key of every registry this one trusts for imports."""
    return {str(r.log): str(r.log_key) for r in conn.execute(select(trusted_registries))}
