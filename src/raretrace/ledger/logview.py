"""Read-side services of the log: checkpoints with cosignatures, entries, proofs, witnesses.

Answers are frozen dataclasses (``InclusionProof``, ``ConsistencyProof``): the CLI's ``--json`` and the
API send ``render.jsonable`` of them, so both say the same thing; the rows come from ``store.checkpoints``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from raretrace.errors import NotFoundError, ProofError, ValidationError
from raretrace.ledger.registry import Registry
from raretrace.log.cosignature import parse_witness_key, verify_cosignature
from raretrace.log.note import split_note
from raretrace.log.tiles import TiledTree
from raretrace.store import checkpoints as rows
from raretrace.store.db import write_transaction
from raretrace.store.tiles import SqlTileStorage


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 §2.1.3 inclusion proof of leaf ``leaf_index`` in the tree of ``tree_size`` leaves
    (hashes in base64, as C2SP tlog-proof writes them)."""

    leaf_index: int
    tree_size: int
    leaf_hash: str
    proof: tuple[str, ...]


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 §2.1.4 consistency proof between trees of ``size1`` and ``size2`` leaves (base64)."""

    size1: int
    size2: int
    proof: tuple[str, ...]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _size(registry: Registry, conn: Connection) -> int:
    return int(registry.store.require_meta(conn, "tree_size"))


def latest_checkpoint(registry: Registry, conn: Connection | None = None) -> str:
    """The newest signed checkpoint note, with the witness cosignature lines accepted for it (read
    on ``conn`` when given: a caller reading more on one connection)."""
    if conn is not None:
        return checkpoint_at(conn, rows.newest_checkpoint_size(conn))
    with registry.engine.connect() as own:
        return checkpoint_at(own, rows.newest_checkpoint_size(own))


def checkpoint_at(conn: Connection, size: int | None) -> str:
    """The checkpoint signed at tree size ``size``, with its cosignature lines (C2SP tlog-cosignature)."""
    note = None if size is None else rows.checkpoint_note(conn, size)
    if note is None or size is None:
        raise NotFoundError(f"no checkpoint was signed at tree size {size}", field="size")
    return note + "".join(line + "\n" for line in rows.cosignature_lines(conn, size))


def log_entry_bytes(registry: Registry, index: int) -> bytes:
    with registry.engine.connect() as conn:
        raw = rows.envelope_at(conn, index)
        if raw is None:
            raise NotFoundError(f"no leaf {index}: the log holds {_size(registry, conn)} leaves", field="N")
    return raw


def inclusion_proof(registry: Registry, index: int, size: int | None = None) -> InclusionProof:
    with registry.engine.connect() as conn:
        return inclusion_proofs(registry, conn, [index], size)[0]


def inclusion_proofs(
    registry: Registry, conn: Connection, indexes: Sequence[int], size: int | None = None
) -> list[InclusionProof]:
    """The inclusion proofs of several leaves in the tree of ``size`` (default: the current tree), read
    through one tiled tree on ``conn``: the tiles the proofs share (the upper levels, a certificate's
    neighbouring leaves) are read once."""
    current = _size(registry, conn)
    size = current if size is None else size
    if not 0 < size <= current:
        raise ValidationError(f"must be between 1 and the tree size {current}", field="size")
    tree = TiledTree(SqlTileStorage(conn), current)
    out = []
    for index in indexes:
        if not 0 <= index < size:
            raise ValidationError(f"leaf {index} is not in a tree of size {size}", field="N")
        proof = tree.inclusion_proof(index, size)
        leaf = tree.read_tile(0, index // 256, min(256, current - (index // 256) * 256))
        offset = (index % 256) * 32
        out.append(
            InclusionProof(index, size, _b64(leaf[offset : offset + 32]), tuple(_b64(h) for h in proof))
        )
    return out


def consistency_proof(registry: Registry, old: int, new: int) -> ConsistencyProof:
    with registry.engine.connect() as conn:
        current = _size(registry, conn)
        if not 0 < old <= new:
            raise ValidationError("needs 0 < OLD <= NEW", field="OLD")
        if new > current:
            raise ValidationError(f"the tree has only {current} leaves", field="NEW")
        proof = TiledTree(SqlTileStorage(conn), current).consistency_proof(old, new)
        return ConsistencyProof(old, new, tuple(_b64(h) for h in proof))


def add_witness(registry: Registry, verifier_key: str) -> str:
    name, _ = parse_witness_key(verifier_key)
    with write_transaction(registry.engine) as conn:
        if rows.is_witness(conn, name):
            raise ValidationError(f"witness {name} is already trusted", field="verifier_key")
        rows.add_witness(conn, name, verifier_key.strip())
    return name


def add_cosignatures(registry: Registry, note: str) -> list[str]:
    """Verify and store cosignatures from trusted witnesses on one of this log's checkpoints."""
    text, signature_lines = split_note(note)
    accepted: list[str] = []
    with write_transaction(registry.engine) as conn:
        sizes = {split_note(c.note)[0]: c.size for c in rows.signed_checkpoints(conn)}
        size = sizes.get(text)
        if size is None:
            raise ProofError("the note's checkpoint text is not one this log signed", field="checkpoint")
        witnesses = rows.witness_keys(conn)
        for line in signature_lines:
            name = line.removeprefix("— ").split(" ", 1)[0]
            if name not in witnesses or name == registry.origin:
                continue
            timestamp = verify_cosignature(text, line, witnesses[name])
            rows.put_cosignature(conn, size, name, timestamp, line)
            accepted.append(name)
        if not accepted:
            raise ProofError(
                "no cosignature from a trusted witness was found (add one with `log witness-add`)",
                field="note",
            )
    return accepted
