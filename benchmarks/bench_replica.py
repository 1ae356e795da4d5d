"""A PostgreSQL streaming read replica under a registry: read throughput on the primary alone against
the primary and the replica together, and how far the replica lags while the primary ingests.

    python benchmarks/bench_replica.py [--lots 3000] [--readers 4] [--seconds 20] [--ingest-seconds 20]

Everything runs in a temporary directory and is removed afterwards: a primary cluster (``initdb``,
``wal_level=replica``) and a replica made from it with ``pg_basebackup -R`` (streaming replication,
hot standby), each on its own loopback port, both run as the ``postgres`` system user when this
script runs as root (PostgreSQL refuses root). Never part of the test suite.

1. The registry: ``raretrace init`` on the primary, then ``--lots`` extracts shipped (transfer and
   receipt) to four magnet makers, appended in batches of 500; the replica is waited for.
2. Reads: ``--readers`` processes, each its own connection pool, each repeating for ``--seconds`` a mix
   of the three reads the deployment guide would move to a replica: a lot listing (``search_lots``,
   50 rows at a random offset), a trace (``trace_up`` of a random lot) and a tile read (an inclusion
   proof of a random leaf: its tiles). Run twice: every reader on the primary; half of them on the
   replica. Printed: reads per second (all readers together) and the median time of each kind.
3. Lag: one process appends batches of 100 events to the primary for ``--ingest-seconds``, writing the
   wall-clock time of each commit; this process polls the replica's tree size every 2 ms and notes when
   each committed size becomes visible there. Printed: events per second ingested, and the lag (commit
   on the primary to visible on the replica) median, 95th percentile and maximum; also the largest
   ``replay_lag`` PostgreSQL itself reported (``pg_stat_replication``).

The baseline (``limits.py``), measured in the same run on the registry just built: the least work of
making it, done by the fastest implementations: every event's signature made and verified by
libsodium (PyNaCl), every checkpoint signed, and every row of every table written by a raw sqlite3
executemany. Printed: the build's CPU in this process (PostgreSQL's own not counted) against that
limit, and the ingest rate under replication against the same limit per event (wall clock against
CPU: the ingester shares the cores with both clusters and the poller). The replica's own replay has
no faster implementation to compare with: its lag is printed as measured.

The machine is shared: the load average is printed before and after each phase. Both clusters and
every client run on the same cores, so the read figures show what a replica costs and returns here,
not what a second machine would add.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import pwd
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from limits import limit_seconds, ratio_line, registry_work  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from raretrace.crypto.keys import Ed25519Signer  # noqa: E402
from raretrace.custody.namespaces import namespaced  # noqa: E402
from raretrace.ledger.lineage import trace_up  # noqa: E402
from raretrace.ledger.logview import inclusion_proof  # noqa: E402
from raretrace.ledger.registry import Registry  # noqa: E402
from raretrace.ledger.scripted import ScriptedChain, lot  # noqa: E402
from raretrace.ledger.search import LotQuery, search_lots  # noqa: E402
from raretrace.store.db import make_engine  # noqa: E402

ORE = {"La": 0.0222, "Ce": 0.0330, "Pr": 0.0029, "Nd": 0.0082, "other": 0.9337}
MAKERS = ["US-MAG", "DE-MAG", "FR-MAG", "KR-MAG"]


def lot_id(i: int) -> str:
    """The id of the ``i``-th lot ``build`` ships: in its mine's namespace, as registries require."""
    return namespaced("lot", "JP-MINE", str(i))


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (1 min), {five:.2f} (5 min)"


# --- the two clusters ---------------------------------------------------------------------------------


def pg_bin(name: str) -> str:
    """A server program from the directory ``initdb`` lives in (Debian's ``/usr/bin`` wrappers of the
    client programs need a cluster to pick the version from; the server's own directory does not)."""
    initdb = shutil.which("initdb")
    if initdb is None:
        raise SystemExit("initdb is not on PATH: PostgreSQL's server programs are needed")
    found = Path(initdb).resolve().parent / name
    if not found.exists():
        raise SystemExit(f"{found} does not exist")
    return str(found)


def as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def run(cmd: list[str]) -> None:
    done = subprocess.run(as_postgres(cmd), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip() or done.stdout.strip()}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def clusters(work: Path) -> Iterator[tuple[str, str]]:
    """A primary and its streaming replica; yields both admin URLs (database ``postgres``)."""
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(work, user.pw_uid, user.pw_gid)
    primary, replica = work / "primary", work / "replica"
    p_port, r_port = free_port(), free_port()
    run([pg_bin("initdb"), "-D", str(primary), "-U", "postgres", "-A", "trust", "--no-sync"])
    settings = (
        f"port = {p_port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{work}'\n"
        "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n"
    )
    with (primary / "postgresql.conf").open("a") as conf:
        conf.write(settings)
    started: list[Path] = []
    try:
        run([pg_bin("pg_ctl"), "-D", str(primary), "-l", str(work / "primary.log"), "-w", "start"])
        started.append(primary)
        run([pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(p_port), "-U", "postgres",
             "-D", str(replica), "-R", "-X", "stream"])  # fmt: skip
        with (replica / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {r_port}\n")
        run([pg_bin("pg_ctl"), "-D", str(replica), "-l", str(work / "replica.log"), "-w", "start"])
        started.append(replica)
        url = "postgresql+psycopg://postgres@127.0.0.1:{}/{}"
        yield url.format(p_port, "postgres"), url.format(r_port, "postgres")
    finally:
        for data in reversed(started):
            run([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])


# --- the registry ---------------------------------------------------------------------------------------


def build(url: str, lots: int) -> int:
    """The registry on the primary; returns its tree size."""
    registry = Registry.init(make_engine(url), "registry.replica.example/log")
    chain = ScriptedChain(registry)
    chain.add_facility("JP-MINE", country="JP", stages=["mining"])
    registry.append(
        [
            chain.facility_event(m, country=m[:2], stages=["magnet"], signer=Ed25519Signer.generate())
            for m in MAKERS
        ]
    )
    batch: list[bytes] = []
    for i in range(lots):
        maker = MAKERS[i % len(MAKERS)]
        tid = chain.next_id("JP-MINE", "transfer")
        batch += [
            chain.envelope(
                "JP-MINE", "extract", deposit="JP deposit", outputs=[lot(lot_id(i), "ore", 100.0, ORE)]
            ),
            chain.envelope("JP-MINE", "transfer", event_id=tid, to=maker, lots=[lot_id(i)]),
            chain.envelope(maker, "receive", transfer_event=tid, lots=[lot_id(i)]),
        ]
        if len(batch) >= 500:
            registry.append(batch)
            batch = []
    if batch:
        registry.append(batch)
    size = registry.tree_size()
    registry.engine.dispose()
    return size


def tree_size(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT value FROM meta WHERE key = 'tree_size'")).scalar_one())
    finally:
        engine.dispose()


def wait_replayed(replica: str, size: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if tree_size(replica) >= size:
                return
        except Exception:  # the database may not be on the replica yet
            pass
        time.sleep(0.05)
    raise SystemExit(f"the replica did not reach tree size {size} in {seconds} s")


# --- reads ------------------------------------------------------------------------------------------------


def reader(
    url: str, lots: int, size: int, seconds: float, seed: int, out: mp.Queue[dict[str, list[float]]]
) -> None:
    """Repeat the read mix for ``seconds``; report each read's duration by kind."""
    rng = random.Random(seed)
    registry = Registry(make_engine(url))
    reads: dict[str, Callable[[], object]] = {
        "listing": lambda: search_lots(registry, LotQuery(limit=50, offset=rng.randrange(max(1, lots - 50)))),
        "trace": lambda: trace_up(registry, lot_id(rng.randrange(lots))),
        "tile": lambda: inclusion_proof(registry, rng.randrange(size), size),
    }
    times: dict[str, list[float]] = {k: [] for k in reads}
    deadline = time.monotonic() + seconds
    kinds = list(reads)
    while time.monotonic() < deadline:
        kind = kinds[rng.randrange(len(kinds))]
        start = time.perf_counter()
        reads[kind]()
        times[kind].append(time.perf_counter() - start)
    registry.engine.dispose()
    out.put(times)


def read_phase(urls: list[str], lots: int, size: int, seconds: float) -> dict[str, list[float]]:
    """One reader process per URL given, all at once; every read's duration by kind."""
    ctx = mp.get_context("spawn")
    out: mp.Queue[dict[str, list[float]]] = ctx.Queue()
    procs = [ctx.Process(target=reader, args=(u, lots, size, seconds, i, out)) for i, u in enumerate(urls)]
    for p in procs:
        p.start()
    merged: dict[str, list[float]] = {}
    for _ in procs:
        for kind, values in out.get(timeout=seconds + 300).items():
            merged.setdefault(kind, []).extend(values)
    for p in procs:
        p.join()
    return merged


def print_reads(name: str, merged: dict[str, list[float]], seconds: float) -> None:
    total = sum(len(v) for v in merged.values())
    parts = ", ".join(
        f"{kind} {len(v) / seconds:.0f}/s (median {1000 * statistics.median(v):.1f} ms)"
        for kind, v in sorted(merged.items())
        if v
    )
    print(f"  {name:28s} {total / seconds:7.0f} reads/s: {parts}")


# --- lag under ingest ------------------------------------------------------------------------------------


def ingester(url: str, seconds: float, out: mp.Queue[list[tuple[int, float]]]) -> None:
    """Append batches of 100 extracts for ``seconds``; report (tree size, commit wall time) of each."""
    registry = Registry(make_engine(url))
    chain = ScriptedChain(registry)
    chain.signers["JP-MINE2"] = Ed25519Signer.generate()
    registry.append(
        [chain.facility_event("JP-MINE2", country="JP", stages=["mining"], signer=chain.signers["JP-MINE2"])]
    )
    commits: list[tuple[int, float]] = []
    deadline, n = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        batch = [
            chain.envelope("JP-MINE2", "extract", deposit="JP deposit 2",
                           event_id=namespaced("event", "JP-MINE2", f"ingest-{n + i}"),
                           outputs=[lot(namespaced("lot", "JP-MINE2", str(n + i)), "ore", 50.0, ORE)])
            for i in range(100)
        ]  # fmt: skip
        n += 100
        result = registry.append(batch)
        commits.append((result.tree_size, time.time()))
    registry.engine.dispose()
    out.put(commits)


def lag_phase(primary: str, replica: str, seconds: float, limit_per_event: float) -> None:
    ctx = mp.get_context("spawn")
    out: mp.Queue[list[tuple[int, float]]] = ctx.Queue()
    proc = ctx.Process(target=ingester, args=(primary, seconds, out))
    seen: list[tuple[int, float]] = []
    replay_lags: list[float] = []
    r_engine, p_engine = create_engine(replica), create_engine(primary.rsplit("/", 1)[0] + "/postgres")
    proc.start()
    last, polled = -1, 0.0
    with r_engine.connect() as r_conn, p_engine.connect() as p_conn:
        query = text("SELECT value FROM meta WHERE key = 'tree_size'")
        while out.empty():  # until the ingester reports (it has then stopped appending)
            if not proc.is_alive() and out.empty():
                time.sleep(1)  # its report may still be on the way
                if out.empty():
                    raise SystemExit("the ingesting process stopped without reporting")
            r_conn.rollback()  # a new snapshot each poll
            size = int(r_conn.execute(query).scalar_one())
            if size != last:
                seen.append((size, time.time()))
                last = size
            if time.monotonic() - polled > 0.1:
                p_conn.rollback()
                lag = p_conn.execute(
                    text("SELECT EXTRACT(EPOCH FROM replay_lag) FROM pg_stat_replication")
                ).scalar()
                if lag is not None:
                    replay_lags.append(float(lag))
                polled = time.monotonic()
            time.sleep(0.002)
        commits = out.get(timeout=60)
        final = commits[-1][0] if commits else 0
        while last < final:  # the last batches
            r_conn.rollback()
            size = int(r_conn.execute(query).scalar_one())
            if size != last:
                seen.append((size, time.time()))
                last = size
            time.sleep(0.002)
    proc.join()
    r_engine.dispose()
    p_engine.dispose()
    lags = []
    for size, committed in commits:
        visible = next(t for s, t in seen if s >= size)
        lags.append(max(0.0, visible - committed))
    events = sum(100 for _ in commits)
    # inclusive: a percentile within the lags measured (the default extrapolates past the largest of few)
    p95 = statistics.quantiles(lags, n=20, method="inclusive")[-1] if len(lags) > 1 else lags[0]
    print(
        f"  ingest: {events} events in {len(commits)} batches, {events / seconds:.0f} events/s; the limit "
        f"{1 / limit_per_event:,.0f} events/s (CPU, as for the build); ratio ingest/limit "
        f"{events / seconds * limit_per_event:.4f}"
    )
    print(
        f"  lag, commit on the primary to visible on the replica (polled every 2 ms): median "
        f"{1000 * statistics.median(lags):.1f} ms, 95th percentile "
        f"{1000 * p95:.1f} ms, max {1000 * max(lags):.1f} ms"
    )
    if replay_lags:
        print(
            f"  pg_stat_replication replay_lag: max {1000 * max(replay_lags):.1f} ms "
            f"({len(replay_lags)} samples)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=3000)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--ingest-seconds", type=float, default=20.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rt-replica-"))
    try:
        with clusters(work) as (p_admin, r_admin):
            admin = create_engine(p_admin, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text('CREATE DATABASE "registry"'))
            admin.dispose()
            primary, replica = (
                p_admin.rsplit("/", 1)[0] + "/registry",
                r_admin.rsplit("/", 1)[0] + "/registry",
            )
            print(f"building: {args.lots} lots shipped; {load()}")
            cpu = time.process_time()
            size = build(primary, args.lots)
            cpu = time.process_time() - cpu
            wait_replayed(replica, size)
            print(f"registry of {size} events on the primary, replayed on the replica; {load()}")
            engine = create_engine(primary)
            work = registry_work(engine)
            engine.dispose()
            limit = limit_seconds(work)
            print(ratio_line("the build, CPU of this process", cpu, limit, work))
            print(f"reads, {args.readers} reader processes for {args.seconds:.0f} s each run:")
            for name, urls in (
                ("primary alone", [primary] * args.readers),
                (
                    "primary + replica",
                    [primary, replica] * (args.readers // 2) + [primary] * (args.readers % 2),
                ),
            ):
                before = load()
                merged = read_phase(urls, args.lots, size, args.seconds)
                print_reads(name, merged, args.seconds)
                print(f"    {before} before, {load()} after")
            print(f"lag under ingest, {args.ingest_seconds:.0f} s; {load()}")
            lag_phase(primary, replica, args.ingest_seconds, limit / size)
            print(f"  {load()} after")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
