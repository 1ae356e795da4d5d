"""Serving the log as C2SP tlog-tiles: hash tiles (the registry's stored tiles, stripped to the C2SP
bytes) and entry bundles (the envelopes as stored, each prefixed by its length, big-endian uint16)."""

from __future__ import annotations

from sqlalchemy import select

from raretrace.errors import NotFoundError, ValidationError
from raretrace.ledger.registry import Registry
from raretrace.log.tiles import MAX_ENTRY_BYTES, TILE_WIDTH, TiledTree, TilePath
from raretrace.store import schema as t
from raretrace.store.tiles import SqlTileStorage


def tile_bytes(registry: Registry, tile: TilePath) -> bytes:
    """The bytes at ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` for the current tree."""
    with registry.engine.connect() as conn:
        size = int(registry.store.require_meta(conn, "tree_size"))
        if tile.level is not None:
            return TiledTree(SqlTileStorage(conn), size).read_tile(tile.level, tile.index, tile.width)
        first = tile.index * TILE_WIDTH
        if first + tile.width > size:
            raise NotFoundError(
                f"entry bundle {tile.index} has {max(0, min(TILE_WIDTH, size - first))} entries in a tree "
                f"of size {size}, not {tile.width}",
                field="tile",
            )
        rows = conn.execute(
            select(t.events.c.seq, t.events.c.envelope)
            .where(t.events.c.seq >= first, t.events.c.seq < first + tile.width)
            .order_by(t.events.c.seq)
        ).all()
    out = bytearray()
    for row in rows:
        data = bytes(row.envelope)
        if len(data) > MAX_ENTRY_BYTES:  # refused at append since issue 17; older logs may hold one
            raise ValidationError(
                f"entry {row.seq} is {len(data)} bytes, more than an entry bundle can carry "
                f"({MAX_ENTRY_BYTES})",
                field="tile",
            )
        out += len(data).to_bytes(2, "big") + data
    return bytes(out)


def is_full(tile: TilePath) -> bool:
    return tile.width == TILE_WIDTH
