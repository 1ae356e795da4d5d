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
import sys
import tempfile
import time
import uuid
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


def verify_rate(events: list[bytes], keys: dict[str, PublicKey]) -> float:
    prepared = []
    for raw in events:
        env = parse_envelope(raw)
        prepared.extend((keys[s.key_id], s.sig, env.signing_bytes) for s in env.signatures)
    start = time.perf_counter()
    for key, sig, message in prepared:
        key.verify(sig, message)
    return len(prepared) / (time.perf_counter() - start)


def ingest_rate(registry: Registry, events: list[bytes], batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(events), batch):
        registry.append(events[i : i + batch])
    return len(events) / (time.perf_counter() - start)


def run(url: str, label: str, args: argparse.Namespace, *, workers: int = 0) -> float:
    pool = ProcessPoolExecutor(workers) if workers else None
    registry, events = build(url, args.events // 3, pool=pool)
    rate = ingest_rate(registry, events, args.batch)
    if pool:
        pool.shutdown()
    print(f"{label:<46} {rate:>10,.0f} events/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument(
        "--pg",
        default=os.environ.get("RARETRACE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        registry, events = build(f"sqlite:///{Path(tmp) / 'keys.db'}", min(args.events // 3, 3000))
        with registry.engine.connect() as conn:
            keys = {k: r.public_key for k, r in registry.store.all_keys(conn).items()}
        limit = verify_rate(events, keys)
        print(f"{'bare Ed25519 verification, 1 core (baseline)':<46} {limit:>10,.0f} events/s")
        one = run(f"sqlite:///{Path(tmp) / 'one.db'}", "SQLite ingest, verification in-process", args)
        two = run(
            f"sqlite:///{Path(tmp) / 'two.db'}",
            "SQLite ingest, verification over 2 processes",
            args,
            workers=2,
        )
    print(
        f"ratio to the verification limit: {one / limit:.2f} (in-process), {two / limit:.2f} (2 processes); "
        f"target >= 0.5 on one core"
    )
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    name = f"raretrace_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        print(f"PostgreSQL ingest: skipped ({type(e).__name__}: no server at {args.pg})")
        return
    try:
        pg = run(args.pg.rsplit("/", 1)[0] + f"/{name}", "PostgreSQL ingest, verification in-process", args)
        print(f"PostgreSQL ratio to the verification limit: {pg / limit:.2f}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
