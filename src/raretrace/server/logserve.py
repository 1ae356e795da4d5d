"""Serving the log as C2SP tlog-tiles: hash tiles (the registry's stored tiles, stripped to the C2SP
bytes) and entry bundles (the envelopes as stored, each prefixed by its length, big-endian uint16).
The bytes are those ``raretrace log publish`` writes as static files (``ledger.publish.read_tile``)."""

from __future__ import annotations

from raretrace.ledger.publish import read_tile
from raretrace.ledger.registry import Registry
from raretrace.log.tiles import TILE_WIDTH, TiledTree, TilePath
from raretrace.store.tiles import SqlTileStorage


def tile_bytes(registry: Registry, tile: TilePath) -> bytes:
    """The bytes at ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` for the current tree."""
    with registry.engine.connect() as conn:
        size = int(registry.store.require_meta(conn, "tree_size"))
        return read_tile(conn, TiledTree(SqlTileStorage(conn), size), tile)


def is_full(tile: TilePath) -> bool:
    return tile.width == TILE_WIDTH
