"""Log benchmark: the tiled tree on file-backed SQLite against pymerkle 7's in-memory tree, same run, and
appends against their limit (``limits.py``: hashlib SHA-256 of every leaf and interior node once and a
raw sqlite3 executemany of the tiles; pymerkle is an implementation to compare with, not the limit).

    python benchmarks/bench_log.py [--leaves 1000000] [--batch 1000] [--proofs 20000] [--cache 256]

Both trees receive the same entries. pymerkle hashes each entry as it appends it (``append_entry``);
the tiled tree gets the same entries in batches of ``--batch``, hashes them and appends each batch in
its own transaction (a new ``TiledTree`` per transaction, as the registry does, so partial tiles are
read back from the database every time). Proofs are generated for random leaves / sizes against the
full tree; the tiled tree reads its tiles from SQLite through one ``TiledTree`` whose per-object LRU
cache holds ``--cache`` tiles (default 256 tiles, about 4 MB, far fewer than the ~3,900 level-0 tiles
of a million leaves, so most proofs read a tile from the database). A sample of proofs from both trees
is checked against the same root with the RFC 9162 verifiers.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pymerkle
from limits import Work, limit_seconds, rows_of

from raretrace.log.merkle import leaf_hash, verify_consistency, verify_inclusion
from raretrace.log.tiles import TiledTree, TileKey
from raretrace.store import schema
from raretrace.store.db import make_engine
from raretrace.store.tiles import SqlTileStorage


class CountingStorage(SqlTileStorage):
    """Counts the storage round trips that proofs make past the tile cache."""

    reads = 0

    def read_tiles(self, keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
        self.reads += 1
        return super().read_tiles(keys)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--proofs", type=int, default=20_000)
    parser.add_argument("--cache", type=int, default=256, help="tiles in the TiledTree LRU cache")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n, rng = args.leaves, random.Random(args.seed)
    entries = [rng.randbytes(64) for _ in range(n)]
    print(f"{n:,} leaves of 64 bytes; tiled tree batches of {args.batch:,} leaves, one transaction each")

    # --- appends ----------------------------------------------------------------------------------
    pm = pymerkle.InmemoryTree()
    start = time.perf_counter()
    for data in entries:
        pm.append_entry(data)
    pm_append = rate(n, time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(str(Path(tmp) / "bench.db"))
        schema.metadata.create_all(engine, tables=[schema.log_tiles])
        size = 0
        start = time.perf_counter()
        for pos in range(0, n, args.batch):
            with engine.begin() as conn:
                tree = TiledTree(SqlTileStorage(conn), size)
                root = tree.append([leaf_hash(d) for d in entries[pos : pos + args.batch]])
                size = tree.size
        our_append = rate(n, time.perf_counter() - start)
        assert root == pm.get_root(), "the two trees disagree on the root"
        # the limit of appending: each leaf and interior node hashed once (hashlib), the tiles written once
        # (raw sqlite3), CPU time (limits.py)
        work = Work(
            hashes=[b"\0" + d for d in entries] + [bytes(65)] * (n - 1), rows=rows_of(engine, ["log_tiles"])
        )
        limit_append = rate(n, limit_seconds(work))
        db_mb = os.path.getsize(Path(tmp) / "bench.db") / 1e6

        # --- proofs -------------------------------------------------------------------------------
        indices = [rng.randrange(n) for _ in range(args.proofs)]
        olds = [rng.randint(1, n - 1) for _ in range(args.proofs)] if n > 1 else []
        start = time.perf_counter()
        for i in indices:
            pm.prove_inclusion(i + 1)
        pm_incl = rate(len(indices), time.perf_counter() - start)
        start = time.perf_counter()
        for m in olds:
            pm.prove_consistency(m)
        pm_cons = rate(len(olds), time.perf_counter() - start)

        with engine.connect() as conn:
            storage = CountingStorage(conn)
            tree = TiledTree(storage, n, cache_tiles=args.cache)
            start = time.perf_counter()
            proofs = [tree.inclusion_proof(i) for i in indices]
            our_incl = rate(len(indices), time.perf_counter() - start)
            incl_reads, storage.reads = storage.reads, 0
            tree = TiledTree(storage, n, cache_tiles=args.cache)
            start = time.perf_counter()
            cons = [tree.consistency_proof(m) for m in olds]
            our_cons = rate(len(olds), time.perf_counter() - start)
            cons_reads = storage.reads
            for k in range(0, len(indices), max(1, len(indices) // 200)):
                verify_inclusion(leaf_hash(entries[indices[k]]), indices[k], n, proofs[k], root)
                pm_path = [bytes.fromhex(h) for h in pm.prove_inclusion(indices[k] + 1).serialize()["path"]]
                assert proofs[k] == pm_path[1:], "pymerkle and the tiled tree give different proofs"
            for k in range(0, len(olds), max(1, len(olds) // 200)):
                verify_consistency(olds[k], n, cons[k], pm.get_root(olds[k]), root)
        engine.dispose()

    print(f"SQLite file after appends: {db_mb:.1f} MB; TiledTree LRU cache of {args.cache} tiles for proofs")
    print(
        f"SQLite reads: {incl_reads / len(indices):.2f} per inclusion proof, "
        f"{cons_reads / max(1, len(olds)):.2f} per consistency proof"
    )
    print(f"{'':24}{'raretrace':>14}{'pymerkle':>14}{'ratio':>9}")
    for name, ours, theirs in (
        ("appends/s", our_append, pm_append),
        ("inclusion proofs/s", our_incl, pm_incl),
        ("consistency proofs/s", our_cons, pm_cons),
    ):
        print(f"{name:24}{ours:14,.0f}{theirs:14,.0f}{ours / theirs:8.2f}x")
    print(
        f"the limit of appends (hashlib SHA-256 of every leaf and interior node, a raw sqlite3 executemany "
        f"of the tiles, CPU time, limits.py): {limit_append:,.0f}/s; "
        f"ratio ours/limit {our_append / limit_append:.4f}"
    )


if __name__ == "__main__":
    main()
