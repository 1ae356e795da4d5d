"""The SQL of the log's read side: signed checkpoints, witness cosignatures, trusted witnesses and the
stored envelopes in log order.

Why here: the log services (``ledger/logview.py``, ``ledger/audit.py``) decide what a checkpoint
answer holds and what an audit checks; this module only reads and writes the rows, on the caller's
connection, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select

from raretrace.store import schema as t


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint as stored: the tree size it commits to and the signed note, byte-exact."""

    size: int
    note: str


@dataclass(frozen=True)
class StoredLeaf:
    """One logged event as stored: its leaf index, the envelope bytes and the leaf hash column."""

    seq: int
    envelope: bytes
    leaf_hash: bytes


def newest_checkpoint_size(conn: Connection) -> int | None:
    """The largest tree size a checkpoint was signed at (None: none was)."""
    size = conn.execute(select(func.max(t.checkpoints.c.size))).scalar_one()
    return None if size is None else int(size)


def checkpoint_note(conn: Connection, size: int) -> str | None:
    """The signed note of the checkpoint at ``size`` (None: none was signed at that size)."""
    note = conn.execute(select(t.checkpoints.c.note).where(t.checkpoints.c.size == size)).scalar_one_or_none()
    return None if note is None else str(note)


def cosignature_lines(conn: Connection, size: int) -> list[str]:
    """The accepted witness cosignature lines on the checkpoint at ``size``, by witness name."""
    query = (
        select(t.cosignatures.c.line).where(t.cosignatures.c.size == size).order_by(t.cosignatures.c.witness)
    )
    return [str(line) for line in conn.execute(query).scalars()]


def signed_checkpoints(conn: Connection) -> list[SignedCheckpoint]:
    """Every signed checkpoint, smallest tree first."""
    rows = conn.execute(select(t.checkpoints.c.size, t.checkpoints.c.note).order_by(t.checkpoints.c.size))
    return [SignedCheckpoint(int(r.size), str(r.note)) for r in rows]


def envelope_at(conn: Connection, index: int) -> bytes | None:
    """The envelope bytes logged at leaf ``index`` (None: no such leaf)."""
    raw = conn.execute(select(t.events.c.envelope).where(t.events.c.seq == index)).scalar_one_or_none()
    return None if raw is None else bytes(raw)


def leaves_in_order(conn: Connection, batch: int = 2000) -> Iterator[StoredLeaf]:
    """Every logged event in leaf order, read ``batch`` rows at a time (a whole log never sits in memory)."""
    query = select(t.events.c.seq, t.events.c.envelope, t.events.c.leaf_hash).order_by(t.events.c.seq)
    for row in conn.execution_options(yield_per=batch).execute(query):
        yield StoredLeaf(int(row.seq), bytes(row.envelope), bytes(row.leaf_hash))


def witness_keys(conn: Connection) -> dict[str, str]:
    """The trusted witnesses: name → verifier key."""
    return {str(r.name): str(r.verifier_key) for r in conn.execute(select(t.witnesses))}


def is_witness(conn: Connection, name: str) -> bool:
    query = select(t.witnesses.c.name).where(t.witnesses.c.name == name)
    return conn.execute(query).scalar_one_or_none() is not None


def add_witness(conn: Connection, name: str, verifier_key: str) -> None:
    conn.execute(insert(t.witnesses).values(name=name, verifier_key=verifier_key))


def put_cosignature(conn: Connection, size: int, witness: str, timestamp: int, line: str) -> None:
    """Keep ``witness``'s cosignature on the checkpoint at ``size``, replacing an older one of it."""
    cosigned = t.cosignatures.c
    conn.execute(delete(t.cosignatures).where(cosigned.size == size, cosigned.witness == witness))
    conn.execute(insert(t.cosignatures).values(size=size, witness=witness, timestamp=timestamp, line=line))
