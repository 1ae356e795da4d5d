"""Publishing the log as static files: C2SP tlog-tiles (https://c2sp.org/tlog-tiles) in a directory.

Why: every read of a transparency log (a witness, an auditor, a mirror, a verifier checking an
inclusion proof) can be answered from immutable files that any web server, object store or CDN
serves, with no load on the registry. A full tile or a full entry bundle never changes, and neither
does a partial one at a given width (``.p/<W>``): the log only grows. Only ``checkpoint`` is ever
replaced, and it is written last, by an atomic rename, so a reader never sees a checkpoint whose
tiles are not all there.

Publishing again into the same directory writes only what the newer tree added, after checking
that the directory holds this log (the checkpoint there verifies under the log's key) and that the
newer tree extends it (an RFC 9162 consistency proof from the published size): a registry that was
rolled back, or a directory that holds another log, is refused with nothing written. Tiles that
already exist from the first changed one on are compared byte for byte.

Entry bundles carry every signed event (every party, lot and mass); the server gives them to the
auditor and the secretariat only. ``entries=False`` publishes the hash tiles and checkpoint alone,
which is what a public mirror should hold.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

from raretrace.errors import NotFoundError, ProofError, ValidationError
from raretrace.ledger.logview import latest_checkpoint
from raretrace.ledger.registry import Registry
from raretrace.log.checkpoint import Checkpoint, open_checkpoint
from raretrace.log.merkle import verify_consistency
from raretrace.log.note import split_note, verifier_key_text
from raretrace.log.tiles import MAX_ENTRY_BYTES, TILE_HEIGHT, TILE_WIDTH, TiledTree, TilePath
from raretrace.store.entries import envelopes_between
from raretrace.store.tiles import SqlTileStorage

CHECKPOINT_FILE = "checkpoint"


def entry_bundle(conn: Connection, index: int, width: int) -> bytes:
    """Entry bundle ``index`` of ``width`` entries: each stored envelope prefixed by its length
    (big-endian uint16), as C2SP tlog-tiles defines it."""
    first = index * TILE_WIDTH
    out = bytearray()
    for seq, data in envelopes_between(conn, first, first + width):
        if len(data) > MAX_ENTRY_BYTES:
            raise ValidationError(
                f"entry {seq} is {len(data)} bytes, more than an entry bundle can carry ({MAX_ENTRY_BYTES})",
                field="tile",
            )
        out += len(data).to_bytes(2, "big") + data
    return bytes(out)


def read_tile(conn: Connection, tree: TiledTree, tile: TilePath) -> bytes:
    """The bytes at ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` in ``tree``."""
    if tile.level is not None:
        return tree.read_tile(tile.level, tile.index, tile.width)
    first = tile.index * TILE_WIDTH
    if first + tile.width > tree.size:
        raise NotFoundError(
            f"entry bundle {tile.index} has {max(0, min(TILE_WIDTH, tree.size - first))} entries in a "
            f"tree of size {tree.size}, not {tile.width}",
            field="tile",
        )
    return entry_bundle(conn, tile.index, tile.width)


def tiles_of(size: int, *, since: int = 0, entries: bool = True) -> Iterator[TilePath]:
    """Every tile (and entry bundle) a tree of ``size`` leaves has that a tree of ``since`` leaves
    did not have: full tiles from the one ``since`` left partial, and the new partial tile of each
    level. ``since=0`` lists them all."""
    levels: list[int | None] = [None] if entries else []
    level = 0
    while size >> (TILE_HEIGHT * level):
        levels.append(level)
        level += 1
    for lv in levels:
        shift = 0 if lv is None else TILE_HEIGHT * lv
        count, before = size >> shift, since >> shift
        full, rest = divmod(count, TILE_WIDTH)
        for index in range(before // TILE_WIDTH, full):
            yield TilePath(lv, index)
        if rest and count > before:
            yield TilePath(lv, full, rest)


@dataclass(frozen=True)
class Published:
    """What one publication wrote."""

    directory: str
    origin: str
    tree_size: int
    previous_size: int | None
    files_written: int
    bytes_written: int
    checkpoint: str


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".publish-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _published_checkpoint(directory: Path, key: str) -> Checkpoint | None:
    """The checkpoint already in ``directory``, verified under this log's key (None if there is none)."""
    path = directory / CHECKPOINT_FILE
    if not path.exists():
        return None
    try:
        return open_checkpoint(path.read_text(encoding="utf-8"), key)
    except (ProofError, ValidationError, UnicodeDecodeError) as e:
        reason = e.message if isinstance(e, ProofError | ValidationError) else str(e)
        raise ProofError(
            f"{path} is not a checkpoint of this log ({reason}): publish another log elsewhere",
            field="to",
        ) from e


def publish(registry: Registry, directory: Path, *, entries: bool = True) -> Published:
    """Write the registry's newest checkpoint and every tile and bundle it needs under ``directory``.

    Steps: 1. the newest checkpoint (with the cosignatures accepted for it); 2. the directory's
    checkpoint, if any, verified under the log's key, not larger, and extended by the new tree (RFC
    9162 consistency proof); 3. the new tiles and bundles, written by atomic rename, existing ones
    compared byte for byte; 4. the checkpoint, last.
    """
    key = verifier_key_text(registry.origin, registry.signer.public_key)
    # 1. What to publish.
    note = latest_checkpoint(registry)
    checkpoint = Checkpoint.parse(split_note(note)[0])
    size = checkpoint.size
    # 2. What the directory holds already.
    old = _published_checkpoint(directory, key)
    since = 0 if old is None else old.size
    written = total = 0
    with registry.engine.connect() as conn:
        tree = TiledTree(SqlTileStorage(conn), int(registry.store.require_meta(conn, "tree_size")))
        if old is not None:
            if old.size > size:
                raise ProofError(
                    f"{directory} holds a tree of {old.size} leaves, the registry's newest checkpoint "
                    f"has {size}: the log would be rolled back",
                    field="to",
                )
            if old.size and old.size < size:
                proof = tree.consistency_proof(old.size, size)
                try:
                    verify_consistency(old.size, size, proof, old.root_hash, checkpoint.root_hash)
                except ProofError as e:
                    raise ProofError(
                        f"the registry's tree of {size} leaves does not extend the tree of {old.size} "
                        f"published in {directory} ({e.message}): a split view",
                        field="to",
                    ) from e
            elif old.size == size and old.root_hash != checkpoint.root_hash:
                raise ProofError(f"{directory} holds another tree of size {size}: a split view", field="to")
        # 3. Tiles and bundles: new ones written, existing ones from the first changed tile compared.
        for tile in tiles_of(size, since=since, entries=entries):
            path = directory / tile.path
            data = read_tile(conn, tree, tile)
            if path.exists():
                if path.read_bytes() != data:
                    raise ProofError(f"{path} differs from the registry's {tile.path}", field="to")
                continue
            _write_atomically(path, data)
            written += 1
            total += len(data)
    # 4. The checkpoint, last.
    _write_atomically(directory / CHECKPOINT_FILE, note.encode())
    previous = None if old is None else old.size
    return Published(
        str(directory), registry.origin, size, previous, written + 1, total + len(note.encode()), note
    )
