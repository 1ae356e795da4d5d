"""CPU time to certify one shipment to another member: the work of ``POST /api/v1/shipments`` (issue
the transfer's certificate, keep it for the importer), in this process, on PostgreSQL or SQLite.

    python benchmarks/bench_issue.py [--db URL] [--shipments 60] [--profile N]

The registry is built as a member of ``tests/test_consortium_month.py`` builds its own: a mine, the
importers' magnet makers registered, then batches of extracts each shipped (transfer, receipt) to one
magnet maker; ``--shipments`` certificates are then issued one after the other, one per transfer, as
the month's exporter does through its API. Printed: CPU seconds per certificate (``time.process_time``:
this process's user+system time, so the other sessions on a shared machine do not count; PostgreSQL's
own CPU, in its server processes, is not included), the wall clock per certificate (which includes
it, and the waits), and the load average.

The baseline, measured in the same run after the certificates (``limits.py``): the least a certificate
costs, what it signs and hashes and the rows it writes, done by the fastest implementations: libsodium
(PyNaCl) signing the 64 bytes of eddsa-jcs-2022's hashData, SHA-256 of the same canonical proof
configuration, document and disclosures, and a raw sqlite3 executemany of the rows issuing wrote
(certificates, certificate_lots, shipments kept for the importer). Printed: its CPU per certificate and
the ratio limit / ours.
``--profile N`` prints the N functions with the most cumulative time (cProfile) over the same run.

With ``--db`` unset, a temporary PostgreSQL database is made at ``$RARETRACE_TEST_PG`` (the tests'
server) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from limits import Work, certificate_work, limit_seconds, ratio_line, rows_of  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from raretrace.crypto.keys import Ed25519Signer  # noqa: E402
from raretrace.custody.namespaces import namespaced  # noqa: E402
from raretrace.ledger.certificates import issue  # noqa: E402
from raretrace.ledger.registry import Registry  # noqa: E402
from raretrace.ledger.scripted import ScriptedChain, lot  # noqa: E402
from raretrace.ledger.shipments import keeping_for_importer  # noqa: E402
from raretrace.store.db import make_engine  # noqa: E402

ORE = {"La": 0.0222, "Ce": 0.0330, "Pr": 0.0029, "Nd": 0.0082, "other": 0.9337}
PG_ADMIN = os.environ.get("RARETRACE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"rt_bench_issue_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def build(url: str, shipments: int, importers: int = 4) -> tuple[Registry, list[str]]:
    """A member's registry with ``shipments`` transfers to ``importers`` magnet makers; their ids."""
    registry = Registry.init(make_engine(url), "registry.bench.example/log")
    chain = ScriptedChain(registry)
    chain.add_facility("m1-MINE", country="JP", stages=["mining"])
    makers = [f"m{i + 2}-MAG" for i in range(importers)]
    registry.append(
        [
            chain.facility_event(m, country="US", stages=["magnet"], signer=Ed25519Signer.generate())
            for m in makers
        ]
    )
    transfers: list[str] = []
    per_batch = max(1, shipments // importers)
    for b, maker in enumerate(makers):
        batch = []
        for i in range(per_batch):
            lot_id = namespaced("lot", "m1-MINE", f"{b}-{i}")
            batch.append(
                chain.envelope(
                    "m1-MINE",
                    "extract",
                    deposit="m1 deposit",
                    outputs=[lot(lot_id, "ore", 100.0 + i, ORE)],
                )
            )
            tid = chain.next_id("m1-MINE", "transfer")
            transfers.append(tid)
            batch.append(chain.envelope("m1-MINE", "transfer", event_id=tid, to=maker, lots=[lot_id]))
            batch.append(chain.envelope(maker, "receive", transfer_event=tid, lots=[lot_id]))
        registry.append(batch)
    return registry, transfers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="a database URL (default: a temporary PostgreSQL one)")
    parser.add_argument("--shipments", type=int, default=60)
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions")
    args = parser.parse_args()
    with database(args.db) as url:
        registry, transfers = build(url, args.shipments)
        profiler = cProfile.Profile() if args.profile else None
        load_before = os.getloadavg()
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        issued = [
            issue(registry, transfer=tid, also=keeping_for_importer(registry, tid)) for tid in transfers
        ]
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        n = len(transfers)
        work = Work(rows=rows_of(registry.engine, ["certificates", "certificate_lots", "shipments"]))
        for p in issued:
            work.add(certificate_work(p.credential, p.disclosures))
        limit = limit_seconds(work)
        print(f"{n} certificates on {registry.engine.dialect.name}")
        print(f"  CPU per certificate (this process): {1000 * cpu / n:8.2f} ms")
        print(f"  wall clock per certificate:         {1000 * wall / n:8.2f} ms")
        print(f"  the limit, CPU per certificate:     {1000 * limit / n:8.3f} ms")
        print(ratio_line("all certificates, CPU", cpu, limit, work))
        print(
            f"load average (1, 5, 15 min): before {load_before[0]:.2f} {load_before[1]:.2f} "
            f"{load_before[2]:.2f}, after {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores"
        )
        registry.engine.dispose()
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
