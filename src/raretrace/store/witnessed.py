"""What this registry remembers as a witness, and whose cosignatures it trusts: the small reads and
writes the consortium's witness service needs beside ``ledger.witnessing``."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from raretrace.store.schema import witnessed_logs, witnesses


def remembered_key(conn: Connection, origin: str) -> str | None:
    """The checkpoint key this registry witnesses ``origin`` with (None: never witnessed)."""
    value = conn.execute(
        select(witnessed_logs.c.verifier_key).where(witnessed_logs.c.origin == origin)
    ).scalar_one_or_none()
    return None if value is None else str(value)


def set_remembered_key(conn: Connection, origin: str, key: str) -> None:
    conn.execute(update(witnessed_logs).where(witnessed_logs.c.origin == origin).values(verifier_key=key))


def seen(conn: Connection, origin: str) -> int | None:
    """The tree size of ``origin`` this registry last cosigned (None: never witnessed)."""
    value = conn.execute(
        select(witnessed_logs.c.size).where(witnessed_logs.c.origin == origin)
    ).scalar_one_or_none()
    return None if value is None else int(value)


def trusted_witnesses(conn: Connection) -> dict[str, str]:
    """Witness name -> verifier key, for every witness this log accepts cosignatures from."""
    return {str(r.name): str(r.verifier_key) for r in conn.execute(select(witnesses))}


def trust_witness(conn: Connection, name: str, key: str) -> None:
    """Trust ``key`` for witness ``name``, replacing the key it had (a rotated witness key)."""
    if conn.execute(select(witnesses.c.name).where(witnesses.c.name == name)).first() is None:
        conn.execute(insert(witnesses).values(name=name, verifier_key=key))
    else:
        conn.execute(update(witnesses).where(witnesses.c.name == name).values(verifier_key=key))
