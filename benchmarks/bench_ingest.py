"""Ingest benchmark: signed process/transfer/receive events into a registry, against the bare
Ed25519 verification rate of the same events' signatures measured in the same run.

    python benchmarks/bench_ingest.py [--events 30000] [--batch 1000] [--pg URL]

Every ingested event is fully handled: parsed, its statement and subjects checked, its signature
verified, custody, mass balance and duplicates judged, written, logged in the Merkle tree, and each
batch closed with a signed checkpoint. Signing the events is done before timing starts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, text

from raretrace.crypto.dsse import parse_envelope
from raretrace.crypto.keys import PublicKey
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.store.db import make_engine

ORE = {"La": 0.022, "Ce": 0.033, "Pr": 0.003, "Nd": 0.008, "other": 0.9}


def build(url: str, lots: int, *, pool: ProcessPoolExecutor | None = None) -> tuple[Registry, list[bytes]]:
    """A registry with ``lots`` ore lots at a mine, and the signed events to move and process each."""
    registry = Registry.init(make_engine(url), "bench.raretrace.example/log")
    registry = Registry(registry.engine, signature_pool=pool)
    chain = ScriptedChain(registry)
    chain.add_facility("MINE", country="US", stages=["mining"])
    chain.add_facility("SEP", country="US", stages=["separation"])
    extract = [
        chain.envelope(
            "MINE",
            "extract",
            deposit="Mountain Pass",
            outputs=[lot(f"urn:raretrace:lot:ore-{i}", "ore", 1000.0, ORE)],
        )
        for i in range(lots)
    ]
    for start in range(0, len(extract), 5000):
        registry.append(extract[start : start + 5000])
    events: list[bytes] = []
    for i in range(lots):
        ore = f"urn:raretrace:lot:ore-{i}"
        tid = f"t-{i}"
        events.append(chain.envelope("MINE", "transfer", event_id=tid, to="SEP", lots=[ore]))
        events.append(chain.envelope("SEP", "receive", transfer_event=tid, lots=[ore]))
        events.append(
            chain.envelope(
                "SEP",
                "process",
                stage="separation",
                inputs=[{"lot": ore, "mass_kg": 1000.0}],
                outputs=[lot(f"urn:raretrace:lot:ox-{i}", "separated_oxide", 10.0, {"Nd": 0.6, "Pr": 0.2})],
            )
        )
    return registry, events


def prepared_signatures(registry: Registry, events: list[bytes]) -> list[tuple[PublicKey, bytes, bytes]]:
    with registry.engine.connect() as conn:
        keys = {k: r.public_key for k, r in registry.store.all_keys(conn).items()}
    out = []
    for raw in events:
        env = parse_envelope(raw)
        out.extend((keys[s.key_id], s.sig, env.signing_bytes) for s in env.signatures)
    return out


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def verify_all(signatures: list[tuple[PublicKey, bytes, bytes]]) -> None:
    for key, sig, message in signatures:
        key.verify(sig, message)


def ingest_all(registry: Registry, events: list[bytes], batch: int) -> None:
    for i in range(0, len(events), batch):
        registry.append(events[i : i + batch])


def ingest_rate(registry: Registry, events: list[bytes], batch: int) -> float:
    wall, _ = timed(lambda: ingest_all(registry, events, batch))
    return len(events) / wall


def round_ratio(url: str, args: argparse.Namespace, *, workers: int = 0) -> tuple[float, float, float]:
    """One round: the bare verification rate of a set of events, then their ingest, same process.

    Returns (verification events/s, ingest events/s, ingest CPU-time events/s)."""
    pool = ProcessPoolExecutor(workers) if workers else None
    registry, events = build(url, args.events // 3, pool=pool)
    signatures = prepared_signatures(registry, events)
    verify_wall, _ = timed(lambda: verify_all(signatures))
    ingest_wall, ingest_cpu = timed(lambda: ingest_all(registry, events, args.batch))
    if pool:
        pool.shutdown()
    registry.engine.dispose()
    return len(signatures) / verify_wall, len(events) / ingest_wall, len(events) / ingest_cpu


def report(label: str, rounds: list[tuple[float, float, float]]) -> float:
    ratios = sorted(ingest / limit for limit, ingest, _ in rounds)
    median = ratios[len(ratios) // 2]
    limit = statistics.median(r[0] for r in rounds)
    ingest = statistics.median(r[1] for r in rounds)
    print(
        f"{label:<44} {ingest:>8,.0f} events/s vs verification {limit:>7,.0f}/s: "
        f"ratio {median:.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=15_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--pg",
        default=os.environ.get("RARETRACE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    print(
        f"{args.events:,} signed transfer/receive/process events in batches of {args.batch:,}; "
        "each round measures the bare Ed25519 verification of the same events "
        "(the physical limit, 1 core), then their ingest"
    )
    with tempfile.TemporaryDirectory() as tmp:
        one = [round_ratio(f"sqlite:///{Path(tmp) / f'one{i}.db'}", args) for i in range(args.rounds)]
        report("SQLite, verification in-process", one)
        two = [
            round_ratio(f"sqlite:///{Path(tmp) / f'two{i}.db'}", args, workers=2) for i in range(args.rounds)
        ]
        report("SQLite, verification over 2 processes", two)
    cpu = statistics.median(r[2] / r[0] for r in one)
    print(f"(SQLite in-process ingest by CPU time of the ingesting process: ratio {cpu:.2f})")
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    name = f"raretrace_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        print(f"PostgreSQL ingest: skipped ({type(e).__name__}: no server at {args.pg})")
        return
    try:
        base = args.pg.rsplit("/", 1)[0] + f"/{name}"
        pg = []
        for i in range(args.rounds):
            schema = f"r{i}"
            engine = create_engine(base)
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine.dispose()
            pg.append(round_ratio(f"{base}?options=-csearch_path%3D{schema}", args))
        report("PostgreSQL, verification in-process", pg)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
