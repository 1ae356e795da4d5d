"""The log's Merkle tree stored as C2SP tlog-tiles (https://c2sp.org/tlog-tiles).

A tile at level L holds up to 256 consecutive hashes of level 8*L of the Merkle tree. Storage keeps
one opaque blob per tile key ``(L, N)``; a partial tile is overwritten as it fills, so a partial tile
served for an older checkpoint is a prefix of the current blob.

Why the blob holds more than the 256 hashes: an inclusion proof needs a sibling at each of the eight
levels inside a tile, and recomputing them from the tile's 256 hashes costs up to 255 hashes per tile
(proofs were 15x slower). The blob therefore stores all eight rows of the tile's subtree (row r holds
the ``width >> r`` complete nodes of level ``8*L + r``; 16,320 bytes when full), row 0 first, so the
C2SP bytes are the blob's prefix and every proof node is one slice. Leaving rows out to save SQLite
overflow pages was measured too: dropping row 1 (12,224 bytes) or rows 1-2 (10,176 bytes) made proofs
from SQLite 10-25% slower, as the hashes recomputed cost more than the smaller reads saved. The width
is recovered from the blob's length (the total grows strictly with the width).

The tree size is owned by the caller (the registry keeps it in its own table, in the same transaction
as the tiles), so ``TiledTree(storage, size)`` rebuilt in another process sees the same tree.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from raretrace.errors import NotFoundError, StoreError, ValidationError
from raretrace.log.merkle import HASH_SIZE, NodeId, TreeBorder, consistency_proof, inclusion_proof

TILE_HEIGHT = 8
#: C2SP tlog-tiles: an entry bundle prefixes each entry with its length as a big-endian uint16, so no
#: entry may be longer; the registry refuses larger envelopes at append (``Registry.parse``).
MAX_ENTRY_BYTES = 0xFFFF
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_TILE_LEVEL = 63

TileKey = tuple[int, int]

_ROWS = TILE_HEIGHT
_BORDERS_KEPT = 8
_P = b"\x01"


def _layout() -> tuple[dict[int, tuple[int, ...]], dict[int, int]]:
    """Byte offset of each row in a blob of each width, and the width of each blob length."""
    row_start: dict[int, tuple[int, ...]] = {}
    width_of_len: dict[int, int] = {}
    for width in range(1, TILE_WIDTH + 1):
        starts, pos = [], 0
        for r in range(_ROWS):
            starts.append(pos)
            pos += (width >> r) * HASH_SIZE
        row_start[width] = tuple(starts)
        width_of_len[pos] = width  # row 0 grows by one hash per width, so lengths never repeat
    return row_start, width_of_len


_ROW_START, _WIDTH_OF_LEN = _layout()


def _pairs(row: list[bytes], start: int, stop: int) -> list[bytes]:
    """Parents of ``row[2*start : 2*stop]``."""
    sha = hashlib.sha256
    it = iter(row[2 * start : 2 * stop])
    return [sha(_P + a + b).digest() for a, b in zip(it, it, strict=True)]


def _decode(blob: bytes, width: int) -> list[list[bytes]]:
    """The eight rows of the first ``width`` hashes of a blob."""
    starts = _ROW_START[_WIDTH_OF_LEN[len(blob)]]
    return [
        [blob[starts[r] + j * HASH_SIZE : starts[r] + (j + 1) * HASH_SIZE] for j in range(width >> r)]
        for r in range(_ROWS)
    ]


# --- paths ---------------------------------------------------------------------------------------
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_GROUP = re.compile(r"x?[0-9]{3}")


@dataclass(frozen=True)
class TilePath:
    """A tile (``level`` 0..63) or entry bundle (``level`` None) at ``index``, ``width`` hashes wide."""

    level: int | None
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if self.level is not None and not 0 <= self.level <= MAX_TILE_LEVEL:
            raise ValidationError(f"a tile level is 0..{MAX_TILE_LEVEL}, got {self.level}", field="path")
        if self.index < 0:
            raise ValidationError(f"a tile index is non-negative, got {self.index}", field="path")
        if not 1 <= self.width <= TILE_WIDTH:
            raise ValidationError(f"a tile is 1 to {TILE_WIDTH} wide, got {self.width}", field="path")

    @property
    def is_entries(self) -> bool:
        return self.level is None

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``."""
        head = "entries" if self.level is None else str(self.level)
        suffix = "" if self.width == TILE_WIDTH else f".p/{self.width}"
        return f"tile/{head}/{_encode_index(self.index)}{suffix}"


def _encode_index(index: int) -> str:
    """``1234067`` -> ``x001/x234/067``: 3-digit groups, all but the last prefixed with ``x``."""
    parts = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        parts.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(parts))


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """The C2SP path of Merkle tile ``index`` at ``level`` (``.p/<width>`` when partial)."""
    return TilePath(level, index, width).path


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """The C2SP path of entry bundle ``index`` (``.p/<width>`` when partial)."""
    return TilePath(None, index, width).path


def parse_tile_path(path: str) -> TilePath:
    """Parse a tile or entry-bundle path; only the canonical form is accepted (one name per resource)."""

    def bad(reason: str) -> ValidationError:
        return ValidationError(f"{path!r} is not a tile path: {reason}", field="path")

    parts = path.removeprefix("/").split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise bad("expected tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]")
    level: int | None = None
    if parts[1] != "entries":
        if not _DECIMAL.fullmatch(parts[1]) or int(parts[1]) > MAX_TILE_LEVEL:
            raise bad(f"level {parts[1]!r} is not a decimal 0..{MAX_TILE_LEVEL} without leading zeros")
        level = int(parts[1])
    groups = parts[2:]
    width = TILE_WIDTH
    if len(groups) >= 2 and groups[-2].endswith(".p"):
        if not _DECIMAL.fullmatch(groups[-1]) or not 1 <= int(groups[-1]) < TILE_WIDTH:
            raise bad(f"partial width {groups[-1]!r} is not a decimal 1..{TILE_WIDTH - 1}")
        width = int(groups[-1])
        groups = [*groups[:-2], groups[-2].removesuffix(".p")]
    index = 0
    for i, group in enumerate(groups):
        last = i == len(groups) - 1
        if not _GROUP.fullmatch(group) or group.startswith("x") == last:
            raise bad(f"index element {group!r} must be 3 digits, prefixed with 'x' unless it is the last")
        index = index * 1000 + int(group.removeprefix("x"))
    parsed = TilePath(level, index, width)
    if parsed.path != path.removeprefix("/"):
        raise bad(f"not canonical, expected {parsed.path!r}")
    return parsed


class TileStorage(Protocol):
    """Where tile blobs live; blobs are opaque to storage. Writes join the caller's transaction."""

    def read_tiles(self, keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
        """The stored blobs of those keys that exist (missing keys are left out)."""
        ...

    def write_tiles(self, tiles: Mapping[TileKey, bytes]) -> None:
        """Insert or overwrite every given tile."""
        ...


class MemoryTileStorage:
    """Tile storage in a dict: tests, audits that rebuild a tree, and benchmarks."""

    def __init__(self) -> None:
        self.tiles: dict[TileKey, bytes] = {}

    def read_tiles(self, keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
        return {k: self.tiles[k] for k in keys if k in self.tiles}

    def write_tiles(self, tiles: Mapping[TileKey, bytes]) -> None:
        self.tiles.update(tiles)


class TiledTree:
    """An append-only RFC 9162 tree over a TileStorage at a size the caller keeps.

    Tiles read or written are kept in a per-object LRU cache of ``cache_tiles`` blobs; the object
    assumes nobody else writes the same storage while it is alive (the registry builds one per
    transaction).
    """

    def __init__(self, storage: TileStorage, size: int, *, cache_tiles: int = 256) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValidationError(f"a tree size is a non-negative integer, got {size!r}", field="size")
        self._storage = storage
        self._size = size
        self._cache: OrderedDict[TileKey, bytes] = OrderedDict()
        self._cache_max = max(1, cache_tiles)
        self._borders: dict[int, TreeBorder] = {}

    @property
    def size(self) -> int:
        return self._size

    # --- tile access -------------------------------------------------------------------------------
    def _remember(self, key: TileKey, blob: bytes) -> None:
        cache = self._cache
        cache[key] = blob
        cache.move_to_end(key)
        while len(cache) > self._cache_max:
            cache.popitem(last=False)

    def _blobs(self, keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
        """Blobs for ``keys`` from the cache, reading every missing one in a single storage call."""
        cache = self._cache
        found: dict[TileKey, bytes] = {}
        missing: list[TileKey] = []
        for key in dict.fromkeys(keys):
            blob = cache.get(key)
            if blob is None:
                missing.append(key)
            else:
                cache.move_to_end(key)
                found[key] = blob
        if missing:
            read = self._storage.read_tiles(missing)
            for key in missing:
                blob = read.get(key)
                if blob is None:
                    raise StoreError(
                        f"tile {key[0]}/{key[1]} is missing from storage; a tree of size "
                        f"{self._size} needs it"
                    )
                blob = bytes(blob)
                if len(blob) not in _WIDTH_OF_LEN:
                    raise StoreError(
                        f"tile {key[0]}/{key[1]} in storage has a malformed length of {len(blob)} bytes"
                    )
                self._remember(key, blob)
                found[key] = blob
        return found

    def _node_hashes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """Hashes of complete nodes ``(level, index)``, each one slice of one tile's blob."""
        # Node (level, index) sits in row level % 8 of tile (level // 8, index >> (8 - row)).
        located = [(level >> 3, index >> (8 - (level & 7)), level & 7, index) for level, index in ids]
        blobs = self._blobs([(tl, tile) for tl, tile, _, _ in located])
        out: list[bytes] = []
        for tile_level, tile, row, index in located:
            blob = blobs[tile_level, tile]
            width = _WIDTH_OF_LEN[len(blob)]
            j = index - (tile << (8 - row))
            if j >= width >> row:
                raise StoreError(
                    f"tile {tile_level}/{tile} (width {width}) lacks node {j} of its row {row}; "
                    f"storage is behind the tree size {self._size}"
                )
            start = _ROW_START[width][row] + j * HASH_SIZE
            out.append(blob[start : start + HASH_SIZE])
        return out

    def _border(self, size: int) -> TreeBorder:
        """The hashed right border of the tree at ``size`` (a few per object are kept)."""
        border = self._borders.get(size)
        if border is None:
            border = TreeBorder(size, self._node_hashes)
            if len(self._borders) >= _BORDERS_KEPT:
                self._borders.pop(next(iter(self._borders)))
            self._borders[size] = border
        return border

    def _check_size(self, size: int, what: str = "size") -> None:
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= self._size:
            raise ValidationError(
                f"must be between 0 and the tree size {self._size}, got {size!r}", field=what
            )

    # --- reading -----------------------------------------------------------------------------------
    def root(self, size: int | None = None) -> bytes:
        """The root hash of the tree's first ``size`` leaves (default: the whole tree)."""
        size = self._size if size is None else size
        self._check_size(size)
        return self._border(size).root

    def hash_at(self, level: int, index: int) -> bytes:
        """The hash of the complete node at height ``level`` (0 = leaves) and position ``index``."""
        if level < 0 or index < 0 or (index + 1) << level > self._size:
            raise NotFoundError(
                f"node ({level}, {index}) is not complete in a tree of size {self._size}", field="index"
            )
        return self._node_hashes([(level, index)])[0]

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes ``[start, end)``, read a tile at a time."""
        self._check_size(end, "end")
        if not 0 <= start <= end:
            raise ValidationError(f"needs 0 <= start <= end, got {start} and {end}", field="start")
        return self._node_hashes([(0, i) for i in range(start, end)])

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` (default: whole tree)."""
        size = self._size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValidationError(f"leaf {index} is not in a tree of size {size}", field="index")
        return inclusion_proof(index, size, self._node_hashes, self._border(size))

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from the tree of ``size1`` to that of ``size2`` (default: whole)."""
        size2 = self._size if size2 is None else size2
        self._check_size(size2, "size2")
        if not 0 < size1 <= size2:
            raise ValidationError(f"needs 0 < size1 <= size2, got {size1} and {size2}", field="size1")
        return consistency_proof(size1, size2, self._node_hashes, self._border(size2))

    def read_tile(self, level: int, index: int, width: int) -> bytes:
        """Exactly the bytes C2SP serves at ``tile/<level>/<index>[.p/<width>]``: ``width`` hashes."""
        if not 0 <= level <= MAX_TILE_LEVEL or index < 0:
            raise ValidationError(
                f"no tile {level}/{index}: the level is 0..{MAX_TILE_LEVEL}, the index non-negative",
                field="tile",
            )
        if not 1 <= width <= TILE_WIDTH:
            raise ValidationError(f"a tile is 1 to {TILE_WIDTH} hashes wide, got {width}", field="width")
        available = min(TILE_WIDTH, (self._size >> (TILE_HEIGHT * level)) - index * TILE_WIDTH)
        if width > available:
            raise NotFoundError(
                f"tile {level}/{index} has {max(available, 0)} hashes in a tree of size "
                f"{self._size}, not {width}",
                field="tile",
            )
        blob = self._blobs([(level, index)])[(level, index)]
        if _WIDTH_OF_LEN[len(blob)] < width:
            raise StoreError(
                f"tile {level}/{index} in storage is narrower than {width}; storage is behind "
                f"the tree size {self._size}"
            )
        return blob[: width * HASH_SIZE]

    # --- writing -----------------------------------------------------------------------------------
    def _rows(self, level: int, index: int, width: int) -> list[list[bytes]]:
        """The first ``width`` hashes of a stored tile, split into its eight rows."""
        blob = self._blobs([(level, index)])[(level, index)]
        stored = _WIDTH_OF_LEN[len(blob)]
        if stored < width:
            raise StoreError(
                f"tile {level}/{index} in storage has {stored} hashes; a tree of size "
                f"{self._size} needs {width}"
            )
        return _decode(blob, width)

    def append(self, leaf_hashes: Sequence[bytes]) -> bytes:
        """Append a batch of leaf hashes, write the changed tiles in one call, return the new root."""
        new = list(leaf_hashes)
        for i, h in enumerate(new):
            if not isinstance(h, bytes | bytearray | memoryview) or len(h) != HASH_SIZE:
                raise ValidationError(f"leaf hash {i} is not {HASH_SIZE} bytes", field="leaf_hashes")
        new = [bytes(h) for h in new]
        if not new:
            return self.root()
        # The partial tiles this batch extends, one per level, come in one storage call.
        partial: list[TileKey] = []
        level = 0
        while hashes := self._size >> (TILE_HEIGHT * level):
            if hashes % TILE_WIDTH:
                partial.append((level, hashes // TILE_WIDTH))
            level += 1
        self._blobs(partial)
        writes: dict[TileKey, bytes] = {}
        level = 0
        while new:
            start = self._size >> (TILE_HEIGHT * level)  # hashes of this level before the batch
            end = start + len(new)
            promoted: list[bytes] = []
            taken = 0
            for tile in range(start // TILE_WIDTH, (end - 1) // TILE_WIDTH + 1):
                base = tile * TILE_WIDTH
                old_width = max(0, start - base)
                new_width = min(TILE_WIDTH, end - base)
                rows = self._rows(level, tile, old_width) if old_width else [[] for _ in range(_ROWS)]
                count = new_width - old_width
                rows[0].extend(new[taken : taken + count])
                taken += count
                for r in range(1, _ROWS):
                    rows[r].extend(_pairs(rows[r - 1], len(rows[r]), new_width >> r))
                writes[(level, tile)] = b"".join(b"".join(row) for row in rows)
                if new_width == TILE_WIDTH:
                    promoted.extend(_pairs(rows[-1], 0, 1))
            new = promoted
            level += 1
        self._storage.write_tiles(writes)
        for key, blob in writes.items():
            self._remember(key, blob)
        self._size += len(leaf_hashes)
        return self.root()
