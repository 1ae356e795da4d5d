"""A full audit of one registry: every leaf, every signature, every stored tile and checkpoint.

Nothing stored is trusted: leaves are recomputed from the envelope bytes, signatures re-verified
with the keys on record, and the whole tree rebuilt in memory and compared with the stored tiles
and with every signed checkpoint. The result lists every discrepancy, first one first; the CLI
exits non-zero if there is any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from raretrace.crypto.dsse import parse_envelope
from raretrace.crypto.keys import PublicKey
from raretrace.errors import RaretraceError
from raretrace.ledger.registry import Registry
from raretrace.log.checkpoint import open_checkpoint
from raretrace.log.merkle import leaf_hash
from raretrace.log.tiles import MemoryTileStorage, TiledTree
from raretrace.store import schema as t
from raretrace.store.tiles import SqlTileStorage

_TILE = 256
_MAX_PROBLEMS = 100


@dataclass
class AuditResult:
    tree_size: int
    leaves: int = 0
    signatures: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, message: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "tree_size": self.tree_size,
            "leaves_checked": self.leaves,
            "signatures_verified": self.signatures,
            "checkpoints_verified": self.checkpoints,
            "first_discrepancy": self.problems[0] if self.problems else None,
            "problems": self.problems,
        }


def audit(registry: Registry) -> AuditResult:
    store = registry.store
    with registry.engine.connect() as conn:
        size = int(store.require_meta(conn, "tree_size"))
        result = AuditResult(size)
        keys = {k.key_id: k.public_key for k in store.all_keys(conn).values()}
        keys[registry.public_key.key_id] = registry.public_key
        stored = TiledTree(SqlTileStorage(conn), size)
        rebuilt = TiledTree(MemoryTileStorage(), 0)
        pending: list[bytes] = []
        stored_leaves: bytes = b""
        expected = 0
        rows = conn.execution_options(yield_per=2000).execute(
            select(t.events.c.seq, t.events.c.envelope, t.events.c.leaf_hash).order_by(t.events.c.seq)
        )
        for row in rows:
            if row.seq != expected:
                result.fail(f"leaf {expected}: missing from the event table (next stored is {row.seq})")
                break
            if expected % _TILE == 0:
                width = min(_TILE, size - expected)
                stored_leaves = stored.read_tile(0, expected // _TILE, width) if width > 0 else b""
            raw = bytes(row.envelope)
            recomputed = leaf_hash(raw)
            offset = (expected % _TILE) * 32
            tile_hash = stored_leaves[offset : offset + 32]
            if recomputed != tile_hash and recomputed != bytes(row.leaf_hash):
                result.fail(
                    f"leaf {expected}: stored envelope bytes do not hash to the logged leaf "
                    f"(envelope changed after it was logged)"
                )
            elif recomputed != tile_hash:
                result.fail(
                    f"leaf {expected}: the stored log tile holds another hash than the envelope's "
                    f"(tile changed after it was written)"
                )
            elif recomputed != bytes(row.leaf_hash):
                result.fail(f"leaf {expected}: the leaf_hash column disagrees with the envelope and the tile")
            result.signatures += _check_signatures(expected, raw, keys, result)
            pending.append(recomputed)
            if len(pending) >= 4096:
                rebuilt.append(pending)
                pending = []
            expected += 1
        if pending:
            rebuilt.append(pending)
        result.leaves = expected
        if expected != size:
            result.fail(f"the log head says {size} leaves but {expected} events are stored")
        _check_checkpoints(registry, conn, rebuilt, expected, result)
    return result


def _check_signatures(index: int, raw: bytes, keys: dict[str, PublicKey], result: AuditResult) -> int:
    try:
        envelope = parse_envelope(raw)
    except RaretraceError as e:
        result.fail(f"leaf {index}: stored envelope no longer parses ({e})")
        return 0
    for sig in envelope.signatures:
        key = keys.get(sig.key_id)
        if key is None:
            result.fail(f"leaf {index}: signed by key {sig.key_id[:16]}… which is not on record")
        elif not key.is_valid(sig.sig, envelope.signing_bytes):
            result.fail(f"leaf {index}: signature by key {sig.key_id[:16]}… does not verify")
    return len(envelope.signatures)


def _check_checkpoints(
    registry: Registry, conn: Any, rebuilt: TiledTree, leaves: int, result: AuditResult
) -> None:
    rows = conn.execute(select(t.checkpoints).order_by(t.checkpoints.c.size)).all()
    if not rows:
        result.fail("no signed checkpoint is stored")
    for row in rows:
        try:
            checkpoint = open_checkpoint(row.note, registry.origin, registry.public_key.raw)
        except RaretraceError as e:
            result.fail(f"checkpoint at size {row.size}: signature does not verify ({e})")
            continue
        result.checkpoints += 1
        if checkpoint.size != row.size:
            result.fail(f"checkpoint at size {row.size}: the note says size {checkpoint.size}")
        elif checkpoint.size > leaves:
            result.fail(f"checkpoint at size {row.size}: commits to more leaves than are stored ({leaves})")
        elif checkpoint.root_hash != rebuilt.root(checkpoint.size):
            result.fail(
                f"checkpoint at size {row.size}: root hash does not match the tree rebuilt from the "
                f"stored envelopes"
            )
