"""Storage benchmark: bytes per lot of a SQLite registry, by table and by index (SQLite's ``dbstat``).

    python benchmarks/bench_storage.py --lots 200000 [--db FILE] [--reuse]

Builds the lineage benchmark's synthetic graph (``bench_lineage.py``: signed events through the whole
append path, origin vectors included) into a SQLite file, checkpoints the WAL, then reports every
table's and index's pages (``dbstat``'s ``pgsize``, i.e. what the file holds, free space in pages
included) divided by the number of lots, and the average stored size of the widest columns. With
``--reuse`` it measures the registry already in ``--db``. The figure that matters is per lot: the
graph's shape (events and edges per lot) does not change with its size, so bytes per lot at 200k lots
estimate those at 1M (stated as an extrapolation wherever quoted); the file's free pages are shown.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

import bench_lineage
from bench_lineage import new_chain
from synthetic_graph import RECYCLE_SHARE

from raretrace.ledger.registry import Registry
from raretrace.store.db import make_engine

# The widest columns: what a stored row is made of (average bytes of the stored value).
WIDE_COLUMNS = {
    "events": ("envelope", "signer_key_ids", "event_id", "recorded_at", "time", "leaf_hash"),
    "lots": ("origin", "composition", "id", "deposit"),
    "lot_inputs": ("child", "parent"),
}


def build(path: Path, lots: int, batch: int) -> None:
    args = argparse.Namespace(lots=lots, seed=1, batch=batch, recycle_share=RECYCLE_SHARE, measure_at=[])
    engine = make_engine(f"sqlite:///{path}")
    chain = new_chain(Registry.init(engine, "bench.raretrace.example/storage"), args)
    bench_lineage.build(chain, lots, args)
    engine.dispose()


def column_sizes(conn: sqlite3.Connection, table: str) -> dict[str, float]:
    present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    wanted = [c for c in WIDE_COLUMNS.get(table, ()) if c in present]
    if not wanted:
        return {}
    row = conn.execute(f"SELECT {', '.join(f'avg(length({c}))' for c in wanted)} FROM {table}").fetchone()
    return {c: v or 0.0 for c, v in zip(wanted, row, strict=True)}


def report(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    lots = conn.execute("SELECT count(*) FROM lots").fetchone()[0]
    events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    edges = conn.execute("SELECT count(*) FROM lot_inputs").fetchone()[0]
    owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_schema WHERE type IN ('table', 'index')"))
    kinds = dict(conn.execute("SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'index')"))
    sizes = conn.execute(
        "SELECT name, sum(pgsize), sum(unused) FROM dbstat GROUP BY name ORDER BY 2 DESC"
    ).fetchall()
    page_size, pages, free = (
        conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_size", "page_count", "freelist_count")
    )
    total = page_size * pages
    print(
        f"{path.name}: {lots:,} lots, {events:,} events ({events / lots:.2f} a lot), {edges:,} lineage "
        f"edges ({edges / lots:.2f} a lot); file {total / 2**20:,.1f} MiB = {total / lots:,.0f} bytes a "
        f"lot ({free:,} free pages)"
    )
    print(f"{'table / index':<36} {'on':<14} {'MiB':>9} {'bytes/lot':>10} {'share':>6} {'unused':>7}")
    for name, size, unused in sizes:
        kind = kinds.get(name, "index" if name.startswith("sqlite_autoindex") else "table")
        on = owner.get(name, name.split("_autoindex_")[-1].rsplit("_", 1)[0] if "autoindex" in name else "")
        label = name if kind == "table" else f"  {name}"
        print(
            f"{label:<36} {on if kind != 'table' else '':<14} {size / 2**20:9.1f} {size / lots:10.0f} "
            f"{size / total:6.1%} {unused / max(size, 1):7.1%}"
        )
    for table in WIDE_COLUMNS:
        widths = column_sizes(conn, table)
        rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        print(
            f"{table}: average stored bytes per row: "
            + ", ".join(f"{c} {w:,.0f} ({w * rows / lots:,.0f}/lot)" for c, w in widths.items())
        )
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lots", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=2000, help="envelopes per Registry.append")
    parser.add_argument("--db", help="SQLite file (default: a file in a temp dir, removed at the end)")
    parser.add_argument("--reuse", action="store_true", help="measure the registry already in --db")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.db) if args.db else Path(tmp) / "storage.db"
        if not args.reuse:
            build(path, args.lots, args.batch)
        report(path)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
