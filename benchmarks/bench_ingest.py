"""Ingest benchmark: signed process/transfer/receive events into a registry, against the bare
Ed25519 verification rate of the same events' signatures measured in the same run.

The baseline is the fastest Ed25519 verifier installed (libsodium through PyNaCl, the one raretrace
uses); OpenSSL's rate (``cryptography``) on the same signatures is printed beside it for context only.

    python benchmarks/bench_ingest.py [--events 30000] [--batch 1000] [--pg URL]
    python benchmarks/bench_ingest.py --callgrind   # instructions per appended event (valgrind)
    python benchmarks/bench_ingest.py --phases      # the writer's CPU per event, phase by phase

Every ingested event is fully handled: parsed, its statement and subjects checked, its signature
verified, custody, mass balance and duplicates judged, written, logged in the Merkle tree, and each
batch closed with a signed checkpoint. Signing the events is done before timing starts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench_server import cpu_seconds
from callgrind import instructions_of
from sqlalchemy import create_engine, text

from raretrace.crypto import ed25519
from raretrace.crypto.dsse import parse_envelope
from raretrace.crypto.verifier_pool import VerifierPool
from raretrace.custody.namespaces import namespaced
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.store.db import make_engine

ORE = {"La": 0.022, "Ce": 0.033, "Pr": 0.003, "Nd": 0.008, "other": 0.9}


def build(url: str, lots: int, *, pool: VerifierPool | None = None) -> tuple[Registry, list[bytes]]:
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
            outputs=[lot(namespaced("lot", "MINE", f"ore-{i}"), "ore", 1000.0, ORE)],
        )
        for i in range(lots)
    ]
    for start in range(0, len(extract), 5000):
        registry.append(extract[start : start + 5000])
    events: list[bytes] = []
    for i in range(lots):
        ore = namespaced("lot", "MINE", f"ore-{i}")
        tid = namespaced("event", "MINE", f"t-{i}")
        events.append(chain.envelope("MINE", "transfer", event_id=tid, to="SEP", lots=[ore]))
        events.append(chain.envelope("SEP", "receive", transfer_event=tid, lots=[ore]))
        events.append(
            chain.envelope(
                "SEP",
                "process",
                stage="separation",
                inputs=[{"lot": ore, "mass_kg": 1000.0}],
                outputs=[
                    lot(namespaced("lot", "SEP", f"ox-{i}"), "separated_oxide", 10.0, {"Nd": 0.6, "Pr": 0.2})
                ],
            )
        )
    return registry, events


def prepared_signatures(registry: Registry, events: list[bytes]) -> list[tuple[bytes, bytes, bytes]]:
    with registry.engine.connect() as conn:
        keys = {k: r.public_key for k, r in registry.store.all_keys(conn).items()}
    out = []
    for raw in events:
        env = parse_envelope(raw)
        out.extend((keys[s.key_id].raw, s.sig, env.signing_bytes) for s in env.signatures)
    return out


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def verify_all(
    signatures: list[tuple[bytes, bytes, bytes]], backend: ed25519.Ed25519Backend = ed25519.BACKEND
) -> None:
    """The bare verification loop: the backend's own call, nothing of raretrace around it."""
    verify = backend.verify
    for key, sig, message in signatures:
        if not verify(key, sig, message):
            raise SystemExit("a benchmark signature did not verify")


def ingest_all(registry: Registry, events: list[bytes], batch: int) -> None:
    for i in range(0, len(events), batch):
        registry.append(events[i : i + batch])


@dataclass(frozen=True)
class Round:
    """One configuration's round: both verifiers' bare rates on its events, then its ingest."""

    limit: float  # the fastest backend's bare verifications/s (the baseline)
    openssl: float  # OpenSSL's bare verifications/s on the same signatures (context)
    ingest: float  # events/s, wall clock
    ingest_cpu: float  # events/s by the ingesting (writing) process's CPU time
    limit_cpu: float  # the fastest backend's verifications/s by CPU time
    total_cpu: float  # events/s by the CPU time of the writer and its verifying processes together

    @property
    def ratio(self) -> float:
        return self.ingest / self.limit


def one_round(url: str, args: argparse.Namespace, workers: int) -> Round:
    """A fresh registry at ``url``, the bare verification rates of its events' signatures, then their
    ingest (with ``workers`` verifying processes, or none), all in this process."""
    pool = VerifierPool(workers) if workers else None
    try:
        registry, events = build(url, args.events // 3, pool=pool)
        if pool is not None:  # the workers up before timing, as a long-running registry has them
            for _ in range(workers):
                pool.submit([]).result()
        signatures = prepared_signatures(registry, events)
        verify_wall, verify_cpu = timed(lambda: verify_all(signatures))
        openssl_wall, _ = timed(lambda: verify_all(signatures, ed25519.BACKENDS["openssl"]))
        all_cpu = cpu_seconds(os.getpid())
        ingest_wall, ingest_cpu = timed(lambda: ingest_all(registry, events, args.batch))
        all_cpu = cpu_seconds(os.getpid()) - all_cpu
        registry.engine.dispose()
    finally:
        if pool is not None:
            pool.close()
    n, m = len(signatures), len(events)
    return Round(
        n / verify_wall,
        n / openssl_wall,
        m / ingest_wall,
        m / ingest_cpu,
        n / verify_cpu,
        m / max(all_cpu, 1e-9),
    )


def report(label: str, rounds: list[Round]) -> None:
    ratios = sorted(r.ratio for r in rounds)
    writer = statistics.median(r.ingest_cpu / r.limit_cpu for r in rounds)
    total = statistics.median(r.total_cpu / r.limit_cpu for r in rounds)
    print(
        f"{label:<40} {statistics.median(r.ingest for r in rounds):>7,.0f} events/s; "
        f"{ed25519.BACKEND.name} {statistics.median(r.limit for r in rounds):>7,.0f}/s "
        f"(OpenSSL {statistics.median(r.openssl for r in rounds):>6,.0f}/s): "
        f"ratio {statistics.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)}); "
        f"by CPU time: the writer's {writer:.2f}, all processes' {total:.2f}"
    )


class Postgres:
    """A scratch database on the PostgreSQL server, one schema per registry; dropped at the end."""

    def __init__(self, url: str) -> None:
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT")
        self.name = f"raretrace_bench_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.base = url.rsplit("/", 1)[0] + f"/{self.name}"
        self._schemas = 0

    def fresh(self) -> str:
        self._schemas += 1
        schema = f"r{self._schemas}"
        engine = create_engine(self.base)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
        return f"{self.base}?options=-csearch_path%3D{schema}"

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


#: --callgrind appends the first K of the saved events for each K here (a multiple of 3 and of the batch)
CALLGRIND_COUNTS = (300, 900)
CALLGRIND_BATCH = 300


def save_world(folder: Path, events: int) -> None:
    """A registry holding the extracted ore lots (``world.db``) and the signed events to append to it
    (``events.bin``, one envelope a line: envelopes are compact JSON), for the --append runs."""
    registry, signed = build(f"sqlite:///{folder / 'world.db'}", events // 3)
    registry.engine.dispose()
    (folder / "events.bin").write_bytes(b"\n".join(signed))


def append_only(folder: Path, count: int, batch: int, verify_only: bool) -> None:
    """``--append K``: a fresh copy of the saved registry, every saved event read, the first K
    appended in batches (or, with ``verify_only``, only their signatures verified by libsodium's bare
    call); nothing timed. Runs with two values of K subtract to the cost of K2 - K1 events."""
    signed = (folder / "events.bin").read_bytes().split(b"\n")
    db = folder / f"run-{os.getpid()}.db"
    shutil.copyfile(folder / "world.db", db)
    try:
        registry = Registry(make_engine(f"sqlite:///{db}"))
        if verify_only:
            verify_all(prepared_signatures(registry, signed[:count]))
        else:
            prepared_signatures(registry, signed[:0])  # the same start-up reads as the verify run
            ingest_all(registry, signed[:count], batch)
        registry.engine.dispose()
    finally:
        db.unlink()


def instructions(folder: Path, count: int, verify_only: bool, source: str | None = None) -> int:
    """Instructions executed by one ``--append K`` run under callgrind (the whole process), with
    ``source`` (a ``src`` folder: other code to compare) first on the import path if given."""
    arguments = ["--append", str(count), "--load", str(folder), "--batch", str(CALLGRIND_BATCH)]
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([source, env.get("PYTHONPATH", "")])
    return instructions_of(__file__, [*arguments, *(["--verify-only"] if verify_only else [])], env)


def callgrind_report(against: str | None) -> None:
    """Instructions per appended event: (run appending K2 - run appending K1) / (K2 - K1), the same
    saved registry and events, so start-up, imports and loading cancel out; the bare libsodium
    verification of the same events' signatures likewise, per signature."""
    if not shutil.which("valgrind"):
        raise SystemExit("--callgrind needs valgrind on PATH")
    low, high = CALLGRIND_COUNTS
    with tempfile.TemporaryDirectory() as tmp:
        save_world(Path(tmp), high)
        print(
            f"valgrind --tool=callgrind: appending {high:,} minus {low:,} transfer/receive/process events "
            f"(batches of {CALLGRIND_BATCH}, SQLite, in-process), one signature each"
        )
        per: dict[str, float] = {}
        runs = [("append", False, None), ("libsodium", True, None)]
        if against is not None:  # the other code's append on the same registry and events
            runs.insert(1, (f"append ({against})", False, against))
        for what, verify_only, source in runs:
            counts = [instructions(Path(tmp), k, verify_only, source) for k in (high, low)]
            per[what] = (counts[0] - counts[1]) / (high - low)
            print(f"  {what:<10} {counts[0]:>15,} - {counts[1]:>15,} instructions: {per[what]:>12,.0f} each")
    if against is not None:
        before = per[f"append ({against})"]
        print(
            f"this code / {against}: {per['append'] / before:.4f} ({per['append'] - before:+,.0f} an event)"
        )
    print(
        f"instructions per appended event {per['append']:,.0f}; per bare verification "
        f"{per['libsodium']:,.0f}; ratio (verification / event) {per['libsodium'] / per['append']:.3f}"
    )


def phases_report(args: argparse.Namespace) -> None:
    """The in-process writer's CPU (``time.thread_time``) per event in each phase of an append, by
    wrapping the phases' functions (no profiler: its overhead is per Python call), then (``--profile``)
    a cProfile of one more round for where inside them."""
    import cProfile
    import pstats

    from raretrace.ledger import registry as module
    from raretrace.ledger.verify import BatchVerifier

    spent: dict[str, float] = {}

    def clocked(name: str, owner: object, attribute: str) -> None:
        inner = getattr(owner, attribute)

        def wrapper(*a: object, **k: object) -> object:
            start = time.thread_time()
            try:
                return inner(*a, **k)
            finally:
                spent[name] = spent.get(name, 0.0) + time.thread_time() - start

        setattr(owner, attribute, staticmethod(wrapper) if attribute == "_parse" else wrapper)

    clocked("parsing", module.Registry, "_parse")
    clocked("reading the batch's rows", module, "load_state")
    clocked("judging", module, "judge")
    clocked("writing, tiles, checkpoint", module.Registry, "_write")
    clocked("verification", BatchVerifier, "first_failure")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds + args.profile):
            registry, events = build(f"sqlite:///{Path(tmp) / f'p{i}.db'}", args.events // 3)
            spent.clear()
            start = time.thread_time()
            if i < args.rounds:
                ingest_all(registry, events, args.batch)
            else:
                profile = cProfile.Profile()
                profile.runcall(ingest_all, registry, events, args.batch)
            total = time.thread_time() - start
            registry.engine.dispose()
            if i < args.rounds:
                parts = "; ".join(f"{name} {1e6 * t / len(events):.1f}" for name, t in spent.items())
                print(f"round {i}: all {1e6 * total / len(events):.1f} µs an event: {parts}")
    if args.profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(40)
        pstats.Stats(profile).sort_stats("cumulative").print_stats("raretrace", 45)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=15_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="verifying processes")
    parser.add_argument(
        "--pg",
        default=os.environ.get("RARETRACE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--callgrind", action="store_true", help="instructions per event under valgrind")
    parser.add_argument("--against", help="with --callgrind: another src folder to count, e.g. main's")
    parser.add_argument("--phases", action="store_true", help="the writer's CPU per event by phase")
    parser.add_argument("--profile", action="store_true", help="with --phases: and a cProfile round")
    parser.add_argument("--append", type=int, help=argparse.SUPPRESS)  # the runs --callgrind makes
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--verify-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.append is not None:
        append_only(Path(args.load), args.append, args.batch, args.verify_only)
        return
    if args.callgrind:
        callgrind_report(args.against)
        return
    if args.phases:
        phases_report(args)
        return
    print(
        f"{args.events:,} signed transfer/receive/process events in batches of {args.batch:,}; "
        f"each round measures the bare Ed25519 verification of the same events on 1 core by "
        f"{ed25519.BACKEND.name} (the baseline: the fastest verifier installed) and by OpenSSL (context), "
        "then their ingest; configurations alternate within each round"
    )
    try:
        pg: Postgres | None = Postgres(args.pg)
    except Exception as e:
        print(f"PostgreSQL ingest: skipped ({type(e).__name__}: no server at {args.pg})")
        pg = None
    configs: list[tuple[str, str, int]] = [
        ("SQLite, in-process", "sqlite", 0),
        (f"SQLite, {args.workers} worker processes", "sqlite", args.workers),
    ]
    if pg is not None:
        configs += [
            ("PostgreSQL, in-process", "pg", 0),
            (f"PostgreSQL, {args.workers} worker processes", "pg", args.workers),
        ]
    results: dict[str, list[Round]] = {label: [] for label, _, _ in configs}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.rounds):
                for label, db, workers in configs:
                    url = f"sqlite:///{Path(tmp) / f'r{i}-{workers}.db'}" if db == "sqlite" else pg.fresh()  # type: ignore[union-attr]
                    results[label].append(one_round(url, args, workers))
    finally:
        if pg is not None:
            pg.drop()
    for label, rounds in results.items():
        report(label, rounds)
    print(
        "(by CPU time: events per CPU-second of the writing process, or of it and its verifying "
        "processes together, over verifications per CPU-second: what the rates would be with a core "
        "each and no other load; a writer ratio of 0.9 needs a core for the writer and verifying "
        "capacity beside it)"
    )
    if pg is not None:
        for sqlite_label, pg_label in ((configs[0][0], configs[2][0]), (configs[1][0], configs[3][0])):
            same = sorted(
                p.ingest / s.ingest for p, s in zip(results[pg_label], results[sqlite_label], strict=True)
            )
            print(
                f"{pg_label} / {sqlite_label}, same round: ratio {statistics.median(same):.2f} "
                f"(rounds: {', '.join(f'{r:.2f}' for r in same)})"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
