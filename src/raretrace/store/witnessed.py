"""What this registry remembers as a witness, and whose cosignatures it trusts: the small reads and
writes the consortium's witness service needs beside ``ledger.witnessing``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from raretrace.store.schema import witnessed_logs, witnesses


@dataclass(frozen=True)
class WitnessedLog:
    """The newest checkpoint this registry cosigned for a log, and the key it checks that log with."""

    origin: str
    verifier_key: str
    size: int
    root: bytes


def witnessed_log(conn: Connection, origin: str) -> WitnessedLog | None:
    _w = witnessed_logs.c
    row = conn.execute(
        select(_w.origin, _w.verifier_key, _w.size, _w.root).where(_w.origin == origin)
    ).one_or_none()
    return (
        None
        if row is None
        else WitnessedLog(str(row.origin), str(row.verifier_key), int(row.size), bytes(row.root))
    )


def remember(
    conn: Connection, origin: str, key: str | None, size: int, root: bytes, note: str, updated_at: str
) -> None:
    """Remember ``note`` as the newest cosigned checkpoint of ``origin``; ``key`` is given the first
    time (None: the log is known and keeps its key)."""
    values = {"size": size, "root": root, "note": note, "updated_at": updated_at}
    if key is not None:
        conn.execute(insert(witnessed_logs).values(origin=origin, verifier_key=key, **values))
    else:
        conn.execute(update(witnessed_logs).where(witnessed_logs.c.origin == origin).values(**values))


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


def noted_witness(conn: Connection, origin: str) -> str | None:
    """The checkpoint note this registry last cosigned for ``origin``."""
    value = conn.execute(
        select(witnessed_logs.c.note).where(witnessed_logs.c.origin == origin)
    ).scalar_one_or_none()
    return None if value is None else str(value)
