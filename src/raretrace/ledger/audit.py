"""A full audit of one registry: every leaf, every signature, every stored tile and checkpoint.

Nothing stored is trusted: leaves are recomputed from the envelope bytes, signatures re-verified
with the keys on record, and the whole tree rebuilt in memory and compared with the stored tiles
and with every signed checkpoint. The result lists every discrepancy, first one first; the CLI
exits non-zero if there is any.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from raretrace.crypto.dsse import parse_envelope
from raretrace.crypto.keys import PublicKey
from raretrace.errors import RaretraceError
from raretrace.ledger.registry import Registry
from raretrace.log.checkpoint import open_checkpoint
from raretrace.log.merkle import leaf_hash
from raretrace.log.tiles import MemoryTileStorage, TiledTree
from raretrace.store.checkpoints import leaves_in_order, signed_checkpoints
from raretrace.store.tiles import SqlTileStorage

_TILE = 256
_MAX_PROBLEMS = 100


@dataclass(frozen=True)
class AuditResult:
    """What ``audit`` found; its JSON (``render.jsonable``) is the CLI's ``log audit --json`` and the API's
    ``/api/v1/log/audit`` answer. ``problems`` holds at most the first 100 discrepancies."""

    ok: bool
    tree_size: int
    leaves_checked: int
    signatures_verified: int
    checkpoints_verified: int
    first_discrepancy: str | None
    problems: tuple[str, ...]


@dataclass
class _Tally:
    """The audit's running count while it reads the log; ``result`` freezes it."""

    tree_size: int
    leaves: int = 0
    signatures: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(message)

    def result(self) -> AuditResult:
        return AuditResult(
            ok=not self.problems,
            tree_size=self.tree_size,
            leaves_checked=self.leaves,
            signatures_verified=self.signatures,
            checkpoints_verified=self.checkpoints,
            first_discrepancy=self.problems[0] if self.problems else None,
            problems=tuple(self.problems),
        )


def audit(registry: Registry) -> AuditResult:
    store = registry.store
    with registry.engine.connect() as conn:
        size = int(store.require_meta(conn, "tree_size"))
        result = _Tally(size)
        keys = {k.key_id: k.public_key for k in store.all_keys(conn).values()}
        keys[registry.public_key.key_id] = registry.public_key
        stored = TiledTree(SqlTileStorage(conn), size)
        rebuilt = TiledTree(MemoryTileStorage(), 0)
        pending: list[bytes] = []
        stored_leaves: bytes = b""
        expected = 0
        for row in leaves_in_order(conn):
            if row.seq != expected:
                result.fail(f"leaf {expected}: missing from the event table (next stored is {row.seq})")
                break
            if expected % _TILE == 0:
                width = min(_TILE, size - expected)
                stored_leaves = stored.read_tile(0, expected // _TILE, width) if width > 0 else b""
            raw = row.envelope
            recomputed = leaf_hash(raw)
            offset = (expected % _TILE) * 32
            tile_hash = stored_leaves[offset : offset + 32]
            if recomputed not in (tile_hash, row.leaf_hash):
                result.fail(
                    f"leaf {expected}: stored envelope bytes do not hash to the logged leaf "
                    f"(envelope changed after it was logged)"
                )
            elif recomputed != tile_hash:
                result.fail(
                    f"leaf {expected}: the stored log tile holds another hash than the envelope's "
                    f"(tile changed after it was written)"
                )
            elif recomputed != row.leaf_hash:
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
    return result.result()


def _check_signatures(index: int, raw: bytes, keys: dict[str, PublicKey], result: _Tally) -> int:
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
    registry: Registry, conn: Connection, rebuilt: TiledTree, leaves: int, result: _Tally
) -> None:
    rows = signed_checkpoints(conn)
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
