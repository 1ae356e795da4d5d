"""PostgreSQL dropping the server's connections (docs/server.md, "A database restart"): what a request
made right after ``pg_terminate_backend`` gets, and what the checks that make it a 200 cost.

    python benchmarks/bench_lost_connections.py race [--rounds 200] [--pg URL]
    python benchmarks/bench_lost_connections.py cost [--calls 200000] [--rounds 7] [--pg URL]

``race``: the reference chains in a database of their own, served in-process with the server's pool
and lifespan; each round an up trace, ``pg_terminate_backend`` of every backend of that database
(not waiting for them to go), the same trace again; prints how the second traces were answered. Run
it with ``PYTHONPATH`` naming another tree to compare (the idle ping is put out of reach, as in
``tests/test_pg_lost_connections.py``). ``cost``: thread CPU of the pool's checkout check of a
connection used a moment ago, this tree's against the check before it (copied below), and of a read
made through ``store.reading.reread_if_lost`` against the call itself; alternated in one process.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DisconnectionError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from raretrace.store import db

PG = os.environ.get("RARETRACE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def own_database(admin_url: str) -> Iterator[tuple[str, Any]]:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"raretrace_bench_lost_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}", admin
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def race(admin_url: str, rounds: int) -> None:
    from fastapi.testclient import TestClient
    from tests.test_server_support import JP_METAL, build_chain

    from raretrace.ledger.registry import Registry
    from raretrace.server.app import POOLED_CONNECTIONS, create_app
    from raretrace.server.settings import Settings

    db.PING_AFTER_IDLE_S = 3600.0
    with own_database(admin_url) as (url, admin):
        chain, tokens = build_chain(url)
        chain.registry.engine.dispose()
        registry = Registry(db.make_engine(url, connections=POOLED_CONNECTIONS))
        seen: collections.Counter[int] = collections.Counter()
        terminate = text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = :name AND pid <> pg_backend_pid()"
        )
        with TestClient(create_app(Settings(), registry=registry), raise_server_exceptions=False) as client:
            jp, path = {"Authorization": f"Bearer {tokens['jp']}"}, f"/api/v1/lots/{JP_METAL}/trace"
            for _ in range(rounds):
                assert client.get(path, headers=jp).status_code == 200
                with admin.connect() as conn:
                    conn.execute(terminate, {"name": url.rsplit("/", 1)[1]})
                seen[client.get(path, headers=jp).status_code] += 1
        registry.engine.dispose()
    print(f"{db.__file__}: the trace right after the terminate answered {dict(sorted(seen.items()))}")


def checked_before(dialect: Any, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """``store.db._pg_checkout`` before the check for the server's FATAL message (commit 6077de7)."""
    if getattr(dbapi_connection, "closed", False):
        raise DisconnectionError("the connection is closed")
    since = record.info.get(db._IDLE_SINCE)
    if since is None or time.monotonic() - since < db.PING_AFTER_IDLE_S:
        return
    dialect.do_ping(dbapi_connection)


def cost(admin_url: str, calls: int, rounds: int) -> None:
    from raretrace.store.reading import reread_if_lost

    with own_database(admin_url) as (url, _):
        engine = db.make_engine(url)
        with engine.connect() as conn:
            proxied = conn.connection
            record = proxied._connection_record  # type: ignore[attr-defined]  # the pool's entry
            record.info[db._IDLE_SINCE] = time.monotonic() + 1e6  # "used a moment ago" throughout
            dbapi = proxied.dbapi_connection

            def per_call(run: Callable[[], None]) -> float:
                start = time.thread_time()
                run()
                return (time.thread_time() - start) / calls * 1e9

            def checks(check: Callable[..., None]) -> Callable[[], None]:
                return lambda: [check(dbapi, record, proxied) for _ in range(calls)] and None

            def read(a: int) -> int:
                return a

            runs = {
                "checkout check, before": checks(partial(checked_before, engine.dialect)),
                "checkout check, now": checks(partial(db._pg_checkout, engine.dialect)),
                "a read called": lambda: [read(1) for _ in range(calls)] and None,
                "a read through reread_if_lost": lambda: (
                    [reread_if_lost(engine, read, 1) for _ in range(calls)] and None
                ),
            }
            found: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(rounds):
                for name, run in runs.items():
                    found[name].append(per_call(run))
        engine.dispose()
    print(f"load average {os.getloadavg()[0]:.2f}; thread CPU a call, median of {rounds} rounds of {calls}:")
    for name, values in found.items():
        print(f"  {name}: {statistics.median(values):.0f} ns (range {min(values):.0f}-{max(values):.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["race", "cost"])
    parser.add_argument("--pg", default=PG, help="a PostgreSQL URL whose user may create databases")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.what == "race":
        race(args.pg, args.rounds or 200)
    else:
        cost(args.pg, args.calls, args.rounds or 7)


if __name__ == "__main__":
    main()
