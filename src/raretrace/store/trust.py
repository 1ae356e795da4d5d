"""Other members' registries this one trusts for imports (``trusted_registries``) and the witness keys of
its own log (``witnesses``)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from raretrace.store.schema import trusted_registries, witnesses

_t = trusted_registries.c


def trusted_issuers(conn: Connection) -> dict[str, tuple[str, str]]:
    """Issuer DID -> (log origin, checkpoint verifier key)."""
    return {str(r.issuer): (str(r.log), str(r.log_key)) for r in conn.execute(select(trusted_registries))}


def witness_keys(conn: Connection) -> list[str]:
    return [str(key) for key in conn.execute(select(witnesses.c.verifier_key)).scalars()]


def trust_issuer(conn: Connection, issuer: str, log: str, log_key: str, added_at: str) -> None:
    """Trust ``issuer`` with its log and key, replacing what was trusted for it before."""
    conn.execute(delete(trusted_registries).where(_t.issuer == issuer))
    conn.execute(
        insert(trusted_registries).values(issuer=issuer, log=log, log_key=log_key, added_at=added_at)
    )
