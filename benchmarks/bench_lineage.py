"""Lineage benchmark: a large synthetic supply chain built through the registry, then trace and check
latency on deep lots against naive baselines measured in the same process.

    python benchmarks/bench_lineage.py [--lots 1000000 | --quick] [--db PATH|URL] [--seed 1]
    python benchmarks/bench_lineage.py --reuse --db PATH|URL     # measure a graph built before

The chain (see ``synthetic_graph.py``) is mines -> concentrate -> separation (mixing 3-5 feeds) ->
metallization -> magnets -> components -> systems, with splits, partial use of lots and a few
recycle events; every lot comes from a signed event appended with ``Registry.append`` in batches, so
each lot's origin vector is computed on the append path. Reported:

(a) append rate: lots per second appended (parsing, signature verification, custody and mass
    balance, origin vectors, lineage edges, log and checkpoint: the whole append path — the origin
    computation cannot be switched off to isolate it), and the time per lot;
(b) ``trace --up`` latency p50/p99 over a sample of deep lots (systems, components, magnets in equal
    parts) with ``raretrace.ledger.lineage.trace_up`` as ``trace --up`` prints it (source shares, path
    counts, the ``--max-paths`` best paths: ``graph=False``), and with the whole upstream graph
    (``graph=True``, what ``--json`` and the web page get), the first also by the thread's CPU time
    (``time.thread_time``: on a shared machine the wall clock also counts the time other processes
    held the core); baseline: one WITH RECURSIVE query for every
    ancestor with its edge masses (and the same lot summary ``trace_up`` returns), then every path
    enumerated in Python, as lineage did before;
(c) ``check`` latency p50/p99 with ``raretrace.ledger.compliance.check_lots`` when that module
    exists; baseline: recomputing the lot's origin vector from the mines down with
    ``raretrace.provenance`` (``naive_origin``), checked against the stored vectors.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from synthetic_graph import RECYCLE_SHARE, REE, SyntheticChain

from raretrace.crypto.dsse import recorded_statement
from raretrace.ledger.lineage import trace_up
from raretrace.ledger.registry import Registry
from raretrace.origin_text import decode_origin
from raretrace.provenance import Contribution, LotOrigin, extracted, performed, pooled
from raretrace.store.db import make_engine, resolve_url
from raretrace.store.envelopes import unpack

DEEP_STAGES = ("system", "component", "magnet")
_ANCESTORS = (
    "WITH RECURSIVE anc(id) AS (SELECT CAST(:lot AS VARCHAR(200)) UNION "
    "SELECT li.parent FROM lot_inputs li JOIN anc ON li.child = anc.id) "
)
NAIVE_EDGES = text(
    _ANCESTORS + "SELECT li.child, li.parent, li.mass_kg FROM lot_inputs li JOIN anc ON li.child = anc.id"
)
NAIVE_TRACE = text(
    _ANCESTORS + "SELECT li.child, li.parent, li.mass_kg, l.form, l.mass_kg, l.producer, l.stage, "
    "l.deposit, l.custodian FROM lot_inputs li JOIN anc ON li.child = anc.id JOIN lots l ON l.id = li.parent"
)
NAIVE_LOTS = text(
    _ANCESTORS + "SELECT l.id, l.composition, l.mass_kg, l.stage, l.producer, e.envelope "
    "FROM anc JOIN lots l ON l.id = anc.id JOIN events e ON e.seq = l.produced_seq"
)


class TooManyPathsError(Exception):
    """The naive enumeration gave up: more paths than the limit."""


# --- baselines -----------------------------------------------------------------------------------------


def naive_trace(conn: Connection, lot_id: str, path_limit: int) -> dict[str, float]:
    """Every ancestor (its summary, as trace_up gives) with its edge masses by one recursive query,
    then every path enumerated in Python, with shares and path lists."""
    parents: dict[str, list[tuple[str, float]]] = defaultdict(list)
    lots: dict[str, tuple[Any, ...]] = {}
    for child, parent, mass, *summary in conn.execute(NAIVE_TRACE, {"lot": lot_id}):
        parents[child].append((parent, mass))
        lots[parent] = tuple(summary)
    share: dict[str, float] = defaultdict(float)
    paths: dict[str, list[dict[str, Any]]] = defaultdict(list)
    found = 0
    stack: list[tuple[str, float, list[str], list[float]]] = [(lot_id, 1.0, [lot_id], [])]
    while stack:
        node, weight, path, masses = stack.pop()
        incoming = parents.get(node)
        if not incoming:
            share[node] += weight
            paths[node].append({"lots": path, "input_kg": masses, "share": weight})
            found += 1
            if found > path_limit:
                raise TooManyPathsError
            continue
        total = sum(m for _, m in incoming)
        for parent, mass in incoming:
            stack.append((parent, weight * mass / total, [*path, parent], [*masses, mass]))
    return dict(share)


def load_facilities(engine: Engine) -> dict[str, tuple[str, dict[str, str]]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, country, technology FROM facilities")).all()
    return {r.id: (r.country, json.loads(r.technology)) for r in rows}


def naive_origin(
    conn: Connection, lot_id: str, facilities: dict[str, tuple[str, dict[str, str]]]
) -> LotOrigin:
    """The lot's origin vector recomputed from the mines down, pooling per element at every event
    (the registry's rule, DESIGN §4), from the ancestors a recursive query finds."""
    edges: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for child, parent, mass in conn.execute(NAIVE_EDGES, {"lot": lot_id}):
        edges[child].append((parent, mass))
    lots = {r.id: r for r in conn.execute(NAIVE_LOTS, {"lot": lot_id})}
    ree = {i: {e: f for e, f in json.loads(r.composition).items() if e in REE} for i, r in lots.items()}
    memo: dict[str, LotOrigin] = {}

    def origin(lid: str) -> LotOrigin:
        done = memo.get(lid)
        if done is not None:
            return done
        row = lots[lid]
        country, technology = facilities[row.producer]
        tech = technology.get(row.stage, country)
        if row.stage == "mining":
            found = extracted(ree[lid], country, tech)
        else:
            # the statement as recorded: the envelope's payload (stored compressed, store/envelopes.py)
            predicate = recorded_statement(unpack(row.envelope))["predicate"]
            share = row.mass_kg / sum(o["mass_kg"] for o in predicate["outputs"])
            untraced: dict[str, float] = defaultdict(float)
            for feed in [*predicate.get("additions", []), *predicate.get("external_feed", [])]:
                for e, f in feed["composition"].items():
                    if e in REE:
                        untraced[e] += f * feed["mass_kg"] * share
            contributions = [
                Contribution(origin(p), {e: f * kg for e, f in ree[p].items()}) for p, kg in edges[lid]
            ]
            found = performed(pooled(contributions, untraced), row.stage, country, tech)
        own = {e: o for e, o in found.items() if ree[lid].get(e, 0) > 0}
        memo[lid] = own
        return own

    return origin(lot_id)


def max_difference(a: Any, b: Any) -> float:
    """Largest absolute difference between two nested dicts of shares (1.0 if their keys differ)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return 1.0
        return max((max_difference(a[k], b[k]) for k in a), default=0.0)
    return abs(float(a) - float(b))


# --- measuring -----------------------------------------------------------------------------------------


def percentiles(seconds: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1e3, p99 * 1e3


def timed_each(
    lots: Sequence[str], work: Callable[[str], Any], keep: Callable[[str, Any], Any]
) -> tuple[list[float], list[Any]]:
    """Seconds per call, and ``keep`` of each result (only that is kept: holding every full result
    would grow the heap and make the garbage collector's pauses land in later calls)."""
    gc.collect()
    times, kept = [], []
    for lot in lots:
        start = time.perf_counter()
        result = work(lot)
        times.append(time.perf_counter() - start)
        kept.append(keep(lot, result))
        del result
    return times, kept


def line(label: str, seconds: Sequence[float]) -> str:
    p50, p99 = percentiles(seconds)
    return f"  {label:<52} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   (n={len(seconds)})"


def ratio_line(ours: Sequence[float], base: Sequence[float]) -> str:
    o50, o99 = percentiles(ours)
    b50, b99 = percentiles(base)
    return f"  ratio baseline/ours: p50 {b50 / o50:.1f}x, p99 {b99 / o99:.1f}x"


def deep_sample(engine: Engine, size: int, rng: random.Random) -> dict[str, list[str]]:
    """Equal numbers of systems, components and magnets, drawn at random."""
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for stage in DEEP_STAGES:
            ids = [r[0] for r in conn.execute(text("SELECT id FROM lots WHERE stage = :s"), {"s": stage})]
            out[stage] = rng.sample(ids, min(len(ids), size // len(DEEP_STAGES)))
    return out


# --- the run -------------------------------------------------------------------------------------------


def new_chain(registry: Registry, args: argparse.Namespace) -> SyntheticChain:
    chain = SyntheticChain(
        registry,
        random.Random(args.seed),
        batch=args.batch,
        ores_per_wave=max(20, min(500, args.lots // 2000)),
        recycle_share=args.recycle_share,
    )
    chain.register_facilities()
    return chain


def build(chain: SyntheticChain, target: int, args: argparse.Namespace) -> None:
    """Grow the graph to ``target`` lots (a chain can be grown again: ``--measure-at``)."""
    start = time.perf_counter() - chain.wall_seconds
    step = max(args.lots // 20, 1000)
    next_report = [(chain.lots // step + 1) * step]

    def progress(c: SyntheticChain) -> None:
        if c.lots >= next_report[0]:
            while next_report[0] <= c.lots:
                next_report[0] += step
            elapsed = time.perf_counter() - start
            print(
                f"  {c.lots:>10,} lots appended ({c.events:,} events) after {elapsed:6.0f} s: "
                f"{c.lots / elapsed:,.0f} lots/s overall (signing included), "
                f"{c.lots / max(c.append_seconds, 1e-9):,.0f} lots/s in Registry.append",
                flush=True,
            )

    chain.build(target, progress)
    elapsed = chain.wall_seconds = time.perf_counter() - start
    print(
        f"built {chain.lots:,} lots with {chain.events:,} signed events in {elapsed:,.0f} s "
        f"(signing {chain.sign_seconds:,.0f} s, appending {chain.append_seconds:,.0f} s, "
        f"generating the rest)"
    )
    print("(a) incremental origin computation, as part of the whole append path (batches of "
          f"{args.batch:,} envelopes):")  # fmt: skip
    print(
        f"  {chain.lots / chain.append_seconds:,.0f} lots/s appended including origin vectors = "
        f"{chain.append_seconds / chain.lots * 1e6:,.0f} µs per lot "
        f"({chain.events / chain.append_seconds:,.0f} events/s)"
    )
    print("  lots by form: " + ", ".join(f"{k} {v:,}" for k, v in sorted(chain.by_form.items())))


def graph_size(engine: Engine, url: str) -> None:
    with engine.connect() as conn:
        lots = conn.execute(text("SELECT count(*) FROM lots")).scalar_one()
        edges = conn.execute(text("SELECT count(*) FROM lot_inputs")).scalar_one()
        events = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
        stages = conn.execute(text("SELECT stage, count(*) FROM lots GROUP BY stage ORDER BY 2 DESC")).all()
    size = ""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        size = f", database file {path.stat().st_size / 2**30:.2f} GiB"
    print(f"graph reached: {lots:,} lots, {edges:,} lineage edges, {events:,} events{size}")
    print("  lots by stage: " + ", ".join(f"{s} {n:,}" for s, n in stages))


def measure_trace(registry: Registry, sample: dict[str, list[str]], args: argparse.Namespace) -> None:
    """Ours on every sampled lot; the baseline on every lot or on ``--baseline-sample`` of them, right
    before or after ours (alternately), so neither runs on pages the other has just read."""
    lots = [lot for stage in DEEP_STAGES for lot in sample[stage]]
    every = 1 if args.baseline_sample is None else max(1, len(lots) // args.baseline_sample)
    times: list[float] = []
    cpu_times: list[float] = []  # the thread's CPU time: what the trace itself cost on a shared machine
    graph_times: list[float] = []
    stats: list[tuple[int, int]] = []
    base_times: list[float] = []
    ours_paired: list[float] = []
    given_up = 0
    worst = 0.0
    with registry.engine.connect() as conn:  # the baseline's; trace_up takes its own from the pool
        for lot in lots[:: max(1, len(lots) // 20)]:  # compiled statements, caches
            trace_up(registry, lot, max_paths=args.max_paths, graph=False)
            trace_up(registry, lot, max_paths=args.max_paths, graph=True)
            with contextlib.suppress(TooManyPathsError):
                naive_trace(conn, lot, args.naive_path_limit)
        gc.collect()
        for i, lot in enumerate(lots):
            paired = i % every == 0
            base_first = paired and (i // every) % 2 == 1
            if base_first:
                base_start = time.perf_counter()
                try:
                    base_shares: dict[str, float] | None = naive_trace(conn, lot, args.naive_path_limit)
                except TooManyPathsError:
                    base_shares = None
                base_times.append(time.perf_counter() - base_start)
            start, cpu_start = time.perf_counter(), time.thread_time()
            result = trace_up(registry, lot, max_paths=args.max_paths, graph=False)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.thread_time() - cpu_start)
            ours = {s.lot: s.share for s in result.sources}
            start = time.perf_counter()
            result = trace_up(registry, lot, max_paths=args.max_paths, graph=True)
            graph_times.append(time.perf_counter() - start)
            stats.append((result.path_count, len(result.lots) - 1))
            del result
            if paired and not base_first:
                base_start = time.perf_counter()
                try:
                    base_shares = naive_trace(conn, lot, args.naive_path_limit)
                except TooManyPathsError:
                    base_shares = None
                base_times.append(time.perf_counter() - base_start)
            if paired:
                ours_paired.append(times[-1])
                if base_shares is None:
                    given_up += 1
                else:
                    worst = max(worst, max_difference(ours, base_shares))
                base_shares = None
    paths = sorted(p for p, _ in stats)
    ancestors = sorted(a for _, a in stats)
    print(
        f"(b) trace --up over {len(lots):,} deep lots "
        f"({', '.join(f'{len(sample[s])} {s}s' for s in DEEP_STAGES)}); max_paths={args.max_paths}"
    )
    print(
        f"  ancestors per lot: median {statistics.median(ancestors):,.0f}, max {ancestors[-1]:,}; "
        f"paths per lot: median {statistics.median(paths):,.0f}, max {paths[-1]:,}"
    )
    print(line("ours: trace_up (sources, paths), all deep lots", times))
    offset = 0
    for stage in DEEP_STAGES:
        n = len(sample[stage])
        print(line(f"ours: trace_up (sources, paths), {stage}s", times[offset : offset + n]))
        offset += n
    print(line("ours: trace_up (sources, paths), CPU time", cpu_times))
    print(line("ours: trace_up with the whole graph (--json)", graph_times))
    print(line("baseline: WITH RECURSIVE + path enumeration", base_times))
    note = (
        f"; {given_up} lot(s) stopped at {args.naive_path_limit:,} paths, so their time is a lower bound"
        if given_up
        else ""
    )
    print(
        f"  shares agree with the baseline on {len(base_times) - given_up} lots: "
        f"max |difference| {worst:.2e}{note}"
    )
    if every > 1:
        print(line("ours on the same lots as the baseline", ours_paired))
    print(ratio_line(ours_paired, base_times))


def measure_check(registry: Registry, sample: dict[str, list[str]], args: argparse.Namespace) -> None:
    lots = [lot for stage in DEEP_STAGES for lot in sample[stage]]
    facilities = load_facilities(registry.engine)
    print(f"(c) check over the same {len(lots):,} deep lots")
    sqlite = registry.engine.dialect.name == "sqlite"
    with registry.engine.connect() as conn:
        stored = {
            r.id: r.origin
            for r in conn.execute(
                text("SELECT id, origin FROM lots WHERE id IN (SELECT value FROM json_each(:ids))")
                if sqlite
                else text("SELECT id, origin FROM lots WHERE id = ANY(:ids)"),
                {"ids": json.dumps(lots) if sqlite else lots},
            )
        }
        for lot in lots[:20]:
            naive_origin(conn, lot, facilities)
        base_times, differences = timed_each(
            lots,
            lambda lot: naive_origin(conn, lot, facilities),
            lambda lot, origin: max_difference(decode_origin(stored[lot]), origin),
        )
    worst = max(differences)
    print(line("baseline: naive_origin (recursive query + pooling)", base_times))
    print(f"  naive_origin equals the stored origin vectors: max |difference| {worst:.2e}")
    try:
        from raretrace.ledger.compliance import check_lots
    except ImportError as e:
        print(f"  ours: skipped — raretrace.ledger.compliance.check_lots is not available ({e})")
        return
    for lot in lots[:20]:
        check_lots(registry, [lot])
    times, _ = timed_each(lots, lambda lot: check_lots(registry, [lot]), lambda *_: None)
    print(line("ours: compliance.check_lots, one lot per call", times))
    print(ratio_line(times, base_times))


def measure(registry: Registry, url: str, args: argparse.Namespace) -> None:
    """Trace and check latency on the graph as it is now."""
    engine = registry.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:  # planner statistics, as autovacuum would gather them
            conn.execute(text("ANALYZE"))
        print("ran ANALYZE (PostgreSQL plans IN lookups on the indexes only with statistics)")
    graph_size(engine, url)
    sample = deep_sample(engine, args.sample, random.Random(args.seed + 1))
    measure_trace(registry, sample, args)
    measure_check(registry, sample, args)
    print("targets (issue): trace p99 < 10 ms, check p99 < 5 ms", flush=True)


def snapshot(url: str, to: Path) -> None:
    """A page-for-page copy (SQLite's backup API: same layout, unlike VACUUM INTO) to measure later
    with ``--reuse``, while the build goes on to larger sizes."""
    import sqlite3

    started = time.perf_counter()
    source = sqlite3.connect(url.removeprefix("sqlite:///"))
    target = sqlite3.connect(to)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    print(f"copied the graph to {to} in {time.perf_counter() - started:,.0f} s", flush=True)


def open_database(args: argparse.Namespace, stack: list[Callable[[], None]]) -> str:
    """The URL to build in: a new SQLite file (a temporary one by default) or a new PostgreSQL schema."""
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_lineage_")
        stack.append(tmp.cleanup)
        return f"sqlite:///{Path(tmp.name) / 'lineage.db'}"
    url = resolve_url(args.db)
    if url.startswith("sqlite"):
        if not args.reuse and Path(url.removeprefix("sqlite:///")).exists():
            sys.exit(f"{args.db} exists; give a new file, or --reuse to measure the graph in it")
        return url
    if args.reuse:
        return url
    schema = f"bench_lineage_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    if not args.keep:

        def drop() -> None:
            admin = create_engine(url)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

        stack.append(drop)
    print(f"PostgreSQL schema {schema}" + (" (kept)" if args.keep else " (dropped at the end)"))
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lots", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="a ~20,000-lot smoke run")
    parser.add_argument("--db", help="SQLite file or database URL (default: a file in a temp dir)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=2000, help="envelopes per Registry.append")
    parser.add_argument("--sample", type=int, default=1000, help="deep lots to time")
    parser.add_argument("--baseline-sample", type=int, default=None, help="default: the whole sample")
    parser.add_argument("--naive-path-limit", type=int, default=1_000_000)
    parser.add_argument(
        "--recycle-share",
        type=float,
        default=RECYCLE_SHARE,
        help="share of magnet lots recycled (default %(default)s; 0.01 makes histories grow with the "
        "registry's age: a dense, path-exploding graph)",
    )
    parser.add_argument("--max-paths", type=int, default=100)
    parser.add_argument("--reuse", action="store_true", help="measure the graph already in --db")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema")
    parser.add_argument(
        "--snapshot-dir", help="with --measure-at on SQLite: keep a copy of the graph at each size here"
    )
    parser.add_argument(
        "--measure-at",
        type=lambda v: [int(n) for n in v.split(",") if n],
        default=[],
        help="also measure when the graph reaches these sizes on its way to --lots, e.g. "
        "--lots 10000000 --measure-at 1000000 (comma-separated)",
    )
    args = parser.parse_args()
    if args.quick:
        args.lots = 20_000
    # a SIGTERM (timeout, kill) unwinds like Ctrl-C, so a temporary database is still removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cleanup: list[Callable[[], None]] = []
    try:
        url = open_database(args, cleanup)
        engine = make_engine(url)
        if args.reuse:
            print(f"measuring the graph in {args.db}")
            measure(Registry(engine), url, args)
        else:
            print(f"building ~{args.lots:,} lots in {url.split('?')[0]} (seed {args.seed})", flush=True)
            chain = new_chain(Registry.init(engine, "bench.raretrace.example/lineage"), args)
            for target in sorted({*args.measure_at, args.lots}):
                if target > args.lots:
                    continue
                build(chain, target, args)
                if args.snapshot_dir and target < args.lots and url.startswith("sqlite:///"):
                    snapshot(url, Path(args.snapshot_dir) / f"lineage-{target}.db")
                measure(chain.registry, url, args)
        engine.dispose()
    finally:
        for undo in reversed(cleanup):
            undo()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
