"""Read-side services of the log: checkpoints with cosignatures, entries, proofs, witnesses."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import Connection, func, insert, select

from raretrace.errors import NotFoundError, ProofError, ValidationError
from raretrace.ledger.registry import Registry
from raretrace.log.cosignature import parse_witness_key, verify_cosignature
from raretrace.log.note import split_note
from raretrace.log.tiles import TiledTree
from raretrace.store import schema as t
from raretrace.store.db import write_transaction
from raretrace.store.tiles import SqlTileStorage


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _size(registry: Registry, conn: Connection) -> int:
    return int(registry.store.require_meta(conn, "tree_size"))


def latest_checkpoint(registry: Registry) -> str:
    """The newest signed checkpoint note, with the witness cosignature lines accepted for it."""
    with registry.engine.connect() as conn:
        size = conn.execute(select(func.max(t.checkpoints.c.size))).scalar_one()
        return checkpoint_at(conn, size)


def checkpoint_at(conn: Connection, size: int) -> str:
    note = conn.execute(select(t.checkpoints.c.note).where(t.checkpoints.c.size == size)).scalar_one_or_none()
    if note is None:
        raise NotFoundError(f"no checkpoint was signed at tree size {size}", field="size")
    lines = (
        conn.execute(
            select(t.cosignatures.c.line)
            .where(t.cosignatures.c.size == size)
            .order_by(t.cosignatures.c.witness)
        )
        .scalars()
        .all()
    )
    return str(note) + "".join(line + "\n" for line in lines)


def log_entry_bytes(registry: Registry, index: int) -> bytes:
    with registry.engine.connect() as conn:
        raw = conn.execute(select(t.events.c.envelope).where(t.events.c.seq == index)).scalar_one_or_none()
        if raw is None:
            raise NotFoundError(f"no leaf {index}: the log holds {_size(registry, conn)} leaves", field="N")
    return bytes(raw)


def inclusion_proof(registry: Registry, index: int, size: int | None = None) -> dict[str, Any]:
    with registry.engine.connect() as conn:
        current = _size(registry, conn)
        size = current if size is None else size
        if not 0 < size <= current:
            raise ValidationError(f"must be between 1 and the tree size {current}", field="size")
        if not 0 <= index < size:
            raise ValidationError(f"leaf {index} is not in a tree of size {size}", field="N")
        tree = TiledTree(SqlTileStorage(conn), current)
        proof = tree.inclusion_proof(index, size)
        leaf = tree.read_tile(0, index // 256, min(256, current - (index // 256) * 256))
        offset = (index % 256) * 32
        return {
            "leaf_index": index,
            "tree_size": size,
            "leaf_hash": _b64(leaf[offset : offset + 32]),
            "proof": [_b64(h) for h in proof],
        }


def consistency_proof(registry: Registry, old: int, new: int) -> dict[str, Any]:
    with registry.engine.connect() as conn:
        current = _size(registry, conn)
        if not 0 < old <= new:
            raise ValidationError("needs 0 < OLD <= NEW", field="OLD")
        if new > current:
            raise ValidationError(f"the tree has only {current} leaves", field="NEW")
        proof = TiledTree(SqlTileStorage(conn), current).consistency_proof(old, new)
        return {"size1": old, "size2": new, "proof": [_b64(h) for h in proof]}


def add_witness(registry: Registry, verifier_key: str) -> str:
    name, _ = parse_witness_key(verifier_key)
    with write_transaction(registry.engine) as conn:
        exists = conn.execute(
            select(t.witnesses.c.name).where(t.witnesses.c.name == name)
        ).scalar_one_or_none()
        if exists is not None:
            raise ValidationError(f"witness {name} is already trusted", field="verifier_key")
        conn.execute(insert(t.witnesses).values(name=name, verifier_key=verifier_key.strip()))
    return name


def add_cosignatures(registry: Registry, note: str) -> list[str]:
    """Verify and store cosignatures from trusted witnesses on one of this log's checkpoints."""
    text, signature_lines = split_note(note)
    accepted: list[str] = []
    with write_transaction(registry.engine) as conn:
        row = conn.execute(select(t.checkpoints.c.size, t.checkpoints.c.note)).all()
        sizes = {split_note(r.note)[0]: r.size for r in row}
        size = sizes.get(text)
        if size is None:
            raise ProofError("the note's checkpoint text is not one this log signed", field="checkpoint")
        witnesses = {r.name: r.verifier_key for r in conn.execute(select(t.witnesses))}
        for line in signature_lines:
            name = line.removeprefix("— ").split(" ", 1)[0]
            if name not in witnesses or name == registry.origin:
                continue
            timestamp = verify_cosignature(text, line, witnesses[name])
            conn.execute(
                t.cosignatures.delete().where(t.cosignatures.c.size == size, t.cosignatures.c.witness == name)
            )
            conn.execute(
                insert(t.cosignatures).values(size=size, witness=name, timestamp=timestamp, line=line)
            )
            accepted.append(name)
        if not accepted:
            raise ProofError(
                "no cosignature from a trusted witness was found (add one with `log witness-add`)",
                field="note",
            )
    return accepted
