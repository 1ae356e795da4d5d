"""The tiled tree on memory and SQL storage: C2SP paths and bytes, batched appends, proofs, errors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, func, select

from raretrace.errors import NotFoundError, ProofError, StoreError, ValidationError
from raretrace.log.merkle import root_hash, verify_consistency, verify_inclusion
from raretrace.log.tiles import (
    MemoryTileStorage,
    TiledTree,
    TileKey,
    TilePath,
    TileStorage,
    entries_path,
    parse_tile_path,
    tile_path,
)
from raretrace.store import schema
from raretrace.store.tiles import SqlTileStorage
from tests.log_helpers import flip, leaves_of


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    eng = create_engine("sqlite://")
    schema.metadata.create_all(eng)
    yield eng
    eng.dispose()


@contextmanager
def storage_of(kind: str, engine: Engine) -> Iterator[TileStorage]:
    """A fresh, empty storage; the SQL one lives in a transaction that is rolled back afterwards."""
    if kind == "memory":
        yield MemoryTileStorage()
        return
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield SqlTileStorage(conn)
        finally:
            transaction.rollback()


def c2sp_tile(leaves: list[bytes], level: int, index: int, width: int) -> bytes:
    """C2SP tlog-tiles: MTH(D[(n*256+i)*256**l : (n*256+i+1)*256**l]) for i < width."""
    span = 256**level
    return b"".join(
        root_hash(leaves[(index * 256 + i) * span : (index * 256 + i + 1) * span]) for i in range(width)
    )


def build(storage: TileStorage, leaves: list[bytes], batches: Sequence[int]) -> int:
    """Append ``leaves`` in batches, each through a new TiledTree as a new transaction would."""
    size = 0
    for batch in batches:
        chunk = leaves[size : size + batch]
        root = TiledTree(storage, size).append(chunk)
        size += len(chunk)
        assert root == root_hash(leaves[:size])
    return size


# --- paths ---------------------------------------------------------------------------------------


def test_tile_paths_follow_c2sp() -> None:
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(0, 5) == "tile/0/005"
    assert tile_path(1, 1000) == "tile/1/x001/000"
    assert tile_path(2, 7, 17) == "tile/2/007.p/17"
    assert entries_path(1234067) == "tile/entries/x001/x234/067"
    assert entries_path(0, 1) == "tile/entries/000.p/1"
    assert parse_tile_path("tile/0/x001/x234/067") == TilePath(0, 1234067, 256)
    assert parse_tile_path("/tile/entries/x001/000.p/255") == TilePath(None, 1000, 255)
    assert parse_tile_path("tile/entries/000").is_entries


@given(
    st.one_of(st.none(), st.integers(min_value=0, max_value=63)),
    st.integers(min_value=0, max_value=10**15),
    st.integers(min_value=1, max_value=256),
)
def test_tile_paths_round_trip(level: int | None, index: int, width: int) -> None:
    path = TilePath(level, index, width).path
    assert parse_tile_path(path) == TilePath(level, index, width)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("tiles/0/000", "expected tile"),
        ("tile/0", "expected tile"),
        ("tile/00/000", "level '00'"),
        ("tile/64/000", "level '64'"),
        ("tile/-1/000", "level '-1'"),
        ("tile/0/5", "index element '5'"),
        ("tile/0/x001", "index element 'x001'"),
        ("tile/0/001/x002", "index element '001'"),
        ("tile/0/x000/001", "not canonical"),
        ("tile/0/x01a/001", "index element 'x01a'"),
        ("tile/0/001.p/0", "partial width '0'"),
        ("tile/0/001.p/256", "partial width '256'"),
        ("tile/0/001.p/07", "partial width '07'"),
        ("tile/0/001.p", "index element '001.p'"),
        ("tile/entries/1", "index element '1'"),
    ],
)
def test_bad_tile_paths_are_named(path: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        parse_tile_path(path)


def test_tile_path_arguments_are_checked() -> None:
    for args in [(64, 0, 256), (0, -1, 256), (0, 0, 0), (0, 0, 257)]:
        with pytest.raises(ValidationError):
            tile_path(*args)


# --- properties on both storages -----------------------------------------------------------------

KINDS = ["memory", "sql"]


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), batches=st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=5))
def test_batched_tree_proves_everything(
    kind: str, engine: Engine, data: st.DataObject, batches: list[int]
) -> None:
    n = sum(batches)
    leaves = leaves_of(n, data.draw(st.binary(max_size=4), label="salt"))
    with storage_of(kind, engine) as storage:
        assert build(storage, leaves, batches) == n
        tree = TiledTree(storage, n)  # rebuilt from storage and size alone
        root = root_hash(leaves)
        assert tree.root() == root
        indices = {0, n - 1, min(255, n - 1), min(256, n - 1)}
        indices |= set(data.draw(st.lists(st.integers(0, n - 1), max_size=6), label="indices"))
        for i in sorted(indices):
            proof = tree.inclusion_proof(i)
            verify_inclusion(leaves[i], i, n, proof, root)
            m = data.draw(st.integers(i + 1, n), label="size")
            verify_inclusion(leaves[i], i, m, tree.inclusion_proof(i, m), root_hash(leaves[:m]))
            bit = data.draw(st.integers(0, 255), label="bit")
            with pytest.raises(ProofError):
                verify_inclusion(flip(leaves[i], bit), i, n, proof, root)
            with pytest.raises(ProofError):
                verify_inclusion(leaves[i], i, n, proof, flip(root, bit))
            if proof:
                k = data.draw(st.integers(0, len(proof) - 1), label="element")
                with pytest.raises(ProofError):
                    verify_inclusion(
                        leaves[i], i, n, [*proof[:k], flip(proof[k], bit), *proof[k + 1 :]], root
                    )
        for _ in range(4):
            size2 = data.draw(st.integers(1, n), label="size2")
            size1 = data.draw(st.integers(1, size2), label="size1")
            root1, root2 = root_hash(leaves[:size1]), root_hash(leaves[:size2])
            assert tree.root(size1) == root1
            proof = tree.consistency_proof(size1, size2)
            verify_consistency(size1, size2, proof, root1, root2)
            if proof:
                k = data.draw(st.integers(0, len(proof) - 1), label="element")
                bit = data.draw(st.integers(0, 255), label="bit")
                with pytest.raises(ProofError):
                    verify_consistency(
                        size1, size2, [*proof[:k], flip(proof[k], bit), *proof[k + 1 :]], root1, root2
                    )


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=4))
def test_tiles_are_the_c2sp_bytes(kind: str, engine: Engine, batches: list[int]) -> None:
    n = sum(batches)
    leaves = leaves_of(n, b"tiles")
    with storage_of(kind, engine) as storage:
        build(storage, leaves, batches)
        tree = TiledTree(storage, n)
        for level in range(3):
            count = n >> (8 * level)  # hashes that exist at this tile level
            for index in range((count + 255) // 256):
                available = min(256, count - index * 256)
                assert tree.read_tile(level, index, available) == c2sp_tile(leaves, level, index, available)
                # A partial tile served for an older checkpoint is a prefix of today's tile.
                assert tree.read_tile(level, index, 1) == c2sp_tile(leaves, level, index, 1)
            with pytest.raises(NotFoundError):
                tree.read_tile(level, (count + 255) // 256 + 1, 1)


def test_one_shot_and_batches_agree_beyond_a_level_two_tile() -> None:
    n = 256 * 256 + 300
    leaves = leaves_of(n, b"big")
    one, many = MemoryTileStorage(), MemoryTileStorage()
    assert TiledTree(one, 0).append(leaves) == root_hash(leaves)
    build(many, leaves, [1000] * (n // 1000) + [n % 1000])
    assert one.tiles == many.tiles
    tree = TiledTree(one, n)
    assert tree.read_tile(1, 0, 256) == c2sp_tile(leaves, 1, 0, 256)
    assert tree.read_tile(2, 0, 1) == c2sp_tile(leaves, 2, 0, 1)
    for i in (0, 255, 65535, 65536, n - 1):
        verify_inclusion(leaves[i], i, n, tree.inclusion_proof(i), tree.root())
        assert tree.hash_at(0, i) == leaves[i]
    assert tree.hash_at(16, 0) == root_hash(leaves[:65536])
    verify_consistency(65536, n, tree.consistency_proof(65536), root_hash(leaves[:65536]), tree.root())


class RecordingStorage(MemoryTileStorage):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[set[TileKey]] = []
        self.reads: list[list[TileKey]] = []

    def read_tiles(self, keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
        self.reads.append(list(keys))
        return super().read_tiles(keys)

    def write_tiles(self, tiles: Mapping[TileKey, bytes]) -> None:
        self.writes.append(set(tiles))
        super().write_tiles(tiles)


def test_an_append_writes_only_changed_tiles_in_one_call() -> None:
    storage = RecordingStorage()
    TiledTree(storage, 0).append(leaves_of(300))
    assert storage.writes == [{(0, 0), (0, 1), (1, 0)}]
    storage.reads.clear()
    TiledTree(storage, 300).append(leaves_of(10, b"more"))
    assert storage.writes[-1] == {(0, 1)}  # the full tile 0 and level 1 are untouched
    assert storage.reads == [[(0, 1), (1, 0)]]  # the partial tiles, read in one call
    TiledTree(storage, 310).append(leaves_of(202, b"fill"))  # fills tile 1 exactly
    assert storage.writes[-1] == {(0, 1), (1, 0)}
    TiledTree(storage, 512).append([])
    assert len(storage.writes) == 3


def test_a_tree_below_the_stored_size_is_consistent_and_can_be_rewritten() -> None:
    """Storage may hold more than the caller's size (e.g. a newer writer); the size decides."""
    leaves, other = leaves_of(700), leaves_of(700, b"other")
    storage = MemoryTileStorage()
    TiledTree(storage, 0).append(leaves)
    small = TiledTree(storage, 300)
    assert small.root() == root_hash(leaves[:300])
    verify_inclusion(leaves[299], 299, 300, small.inclusion_proof(299), small.root())
    with pytest.raises(ValidationError):
        small.inclusion_proof(300)
    with pytest.raises(NotFoundError):
        small.read_tile(0, 1, 45)
    assert small.append(other[300:]) == root_hash(leaves[:300] + other[300:])


def test_errors_name_what_is_wrong() -> None:
    storage = MemoryTileStorage()
    tree = TiledTree(storage, 0)
    assert tree.root() == root_hash([])
    with pytest.raises(ValidationError, match="leaf hash 1"):
        tree.append([b"\x00" * 32, b"short"])
    with pytest.raises(ValidationError):
        TiledTree(storage, -1)
    tree.append(leaves_of(10))
    with pytest.raises(ValidationError):
        tree.root(11)
    with pytest.raises(ValidationError):
        tree.consistency_proof(0, 10)
    with pytest.raises(NotFoundError):
        tree.hash_at(4, 0)
    with pytest.raises(ValidationError):
        tree.read_tile(0, 0, 0)
    with pytest.raises(ValidationError):
        tree.read_tile(64, 0, 1)
    with pytest.raises(NotFoundError, match="has 10 hashes"):
        tree.read_tile(0, 0, 11)
    assert tree.leaf_hashes(2, 5) == leaves_of(10)[2:5]
    storage.tiles[(0, 0)] = storage.tiles[(0, 0)][:-1]
    with pytest.raises(StoreError, match="malformed length"):
        TiledTree(storage, 10).root()
    del storage.tiles[(0, 0)]
    with pytest.raises(StoreError, match="missing from storage"):
        TiledTree(storage, 10).inclusion_proof(3)
    with pytest.raises(StoreError, match="missing from storage"):
        TiledTree(MemoryTileStorage(), 5).append(leaves_of(1))


def test_storage_behind_the_size_is_an_error() -> None:
    storage = MemoryTileStorage()
    TiledTree(storage, 0).append(leaves_of(5))
    with pytest.raises(StoreError, match="behind"):
        TiledTree(storage, 8).read_tile(0, 0, 8)
    with pytest.raises(StoreError, match="behind"):
        TiledTree(storage, 8).hash_at(0, 6)


# --- SQL storage ---------------------------------------------------------------------------------


def test_sql_storage_reads_in_batches_and_upserts(db_url: str) -> None:
    """On SQLite and PostgreSQL (conftest's db_url): batch reads, upserts, and no commit of its own."""
    eng = create_engine(db_url)
    schema.metadata.create_all(eng, tables=[schema.log_tiles])
    try:
        with eng.connect() as conn:
            transaction = conn.begin()
            storage = SqlTileStorage(conn)
            storage.write_tiles({(0, 0): b"a", (0, 1): b"b", (1, 0): b"c"})
            storage.write_tiles({(0, 1): b"B"})
            assert storage.read_tiles([(0, 0), (0, 1), (1, 0), (2, 0)]) == {
                (0, 0): b"a",
                (0, 1): b"B",
                (1, 0): b"c",
            }
            assert storage.read_tiles([(0, 1)]) == {(0, 1): b"B"}
            assert storage.read_tiles([(0, 0), (0, 1), (0, 0)]) == {(0, 0): b"a", (0, 1): b"B"}
            assert storage.read_tiles([]) == {}
            leaves = leaves_of(600)
            tree = TiledTree(storage, 0)
            tree.append(leaves[:300])
            tree.append(leaves[300:])
            fresh = TiledTree(SqlTileStorage(conn), 600)
            verify_inclusion(leaves[599], 599, 600, fresh.inclusion_proof(599), root_hash(leaves))
            transaction.rollback()
        with eng.connect() as conn:
            assert conn.execute(select(func.count()).select_from(schema.log_tiles)).scalar_one() == 0
    finally:
        eng.dispose()


def test_a_new_process_sees_the_same_tree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tiles.db'}"
    eng = create_engine(url)
    schema.metadata.create_all(eng, tables=[schema.log_tiles])
    leaves = leaves_of(1000)
    with eng.begin() as conn:
        TiledTree(SqlTileStorage(conn), 0).append(leaves)
    eng.dispose()
    code = (
        "import sys; from sqlalchemy import create_engine;"
        "from raretrace.log.tiles import TiledTree; from raretrace.store.tiles import SqlTileStorage;"
        f"conn = create_engine({url!r}).connect(); tree = TiledTree(SqlTileStorage(conn), 1000);"
        "sys.stdout.write(tree.root().hex() + ' ' + b''.join(tree.inclusion_proof(777)).hex())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    root_hex, proof_hex = out.split()
    proof = [bytes.fromhex(proof_hex[i : i + 64]) for i in range(0, len(proof_hex), 64)]
    assert root_hex == root_hash(leaves).hex()
    verify_inclusion(leaves[777], 777, 1000, proof, root_hash(leaves))
