"""Server load benchmark: signed event submissions and trace queries over HTTP on loopback, from a
separate load-generator process with 50 concurrent clients, against the same work done in-process.

    python benchmarks/bench_server.py [--singles 10000] [--batched 30000] [--batch-size 500]
                                      [--traces 5000] [--clients 50] [--workers N] [--pg ADMIN_URL]
                                      [--phases single,batch,trace] [--rate-limit 0,1e9]
                                      [--trees OLD,NEW,OLD,NEW] [--workers 1,2] [--profile sample|cprofile]
                                      [--base-cache DIR] [--skip-inproc] [--no-http-floor]

The server is ``raretrace serve`` in its own process (uvicorn, one worker, group commit on); the load
generator is this script in a third process (``--loadgen``), speaking plain HTTP/1.1 keep-alive over
asyncio streams so that the client costs little CPU (the machine has two shared cores). Every
submitted event is a signed extract of a new lot (independent events, so no submission is refused);
every trace is ``GET /api/v1/lots/{magnet}/trace`` by the magnet maker's operator, with the access
check and the redaction of other participants' lots. In-process, the same envelopes are appended one
call each (``Registry.append([e])``) and in the same batches, and the same lots traced with
``trace_up``, on an identical copy of the database. The log audit must pass on both afterwards.

``--rate-limit`` takes one or more limits (comma-separated, e.g. ``0,1e9,0,1e9``): the server is run
once per limit on a fresh copy of the database, and each run's rates and server CPU are printed beside
the first's (0: limits off, the fastest server there is; 1e9: limits on and checked on every request
but far above the load, so the run measures what checking them costs).

The HTTP floor: the same requests (the same bodies and paths, phase by phase) sent by the same load
generator at the same clients to the fastest trivial endpoint on the same server stack, a bare ASGI app
that reads the body and returns a fixed 11-byte JSON body, on uvicorn with httptools and uvloop, one
process (``--floor-server``). Its rates are printed beside each run's, with ``HTTP / floor``: what is
left above 1 / floor per request is the server's own work. It adds a few seconds to a run
(``--no-http-floor`` leaves it out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

CLIENTS = 50
ORE = {"La": 0.022, "Ce": 0.033, "Pr": 0.003, "Nd": 0.008, "other": 0.9}


# --- the load generator (its own process) ------------------------------------------------------------


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str, path: str, body: bytes, head: str
) -> tuple[int, bytes]:
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode()
        + body
    )
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _drive(
    host: str, port: int, clients: int, requests: list[tuple[str, str, bytes]], head: str
) -> dict[str, Any]:
    latencies: list[float] = [0.0] * len(requests)
    statuses: dict[int, int] = {}
    errors: list[str] = []
    position = 0

    async def client() -> None:
        nonlocal position
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while position < len(requests):
                i = position
                position += 1
                method, path, body = requests[i]
                start = time.perf_counter()
                status, answer = await _request(reader, writer, method, path, body, head)
                latencies[i] = time.perf_counter() - start
                statuses[status] = statuses.get(status, 0) + 1
                if status >= 300 and len(errors) < 5:
                    errors.append(f"{status} {answer[:300]!r}")
        finally:
            writer.close()

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "client_cpu_s": time.process_time() - cpu,
        "latencies": latencies,
        "statuses": statuses,
        "errors": errors,
    }


def loadgen(args: argparse.Namespace) -> None:
    """Read the requests from a JSON file, drive them at ``--clients``, print the measurements."""
    spec = json.loads(Path(args.requests).read_text())
    head = f"Authorization: Bearer {spec['token']}\r\nContent-Type: {spec['content_type']}\r\n"
    requests = [(r["method"], r["path"], r["body"].encode("latin-1")) for r in spec["requests"]]
    result = asyncio.run(_drive(args.host, args.port, args.clients, requests, head))
    sys.stdout.write(json.dumps(result) + "\n")


# --- the HTTP floor (its own process) -------------------------------------------------------------------

FLOOR_BODY = b'{"ok":true}'


async def floor_app(scope: dict[str, Any], receive: Callable[[], Any], send: Callable[[Any], Any]) -> None:
    """The fastest trivial endpoint: every request's body read and a fixed small answer."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"11")],
        }
    )
    await send({"type": "http.response.body", "body": FLOOR_BODY})


def floor_server(port: int) -> None:
    """The floor on the stack ``raretrace serve`` runs on (uvicorn picks httptools and uvloop there when
    installed; here they are required)."""
    import uvicorn

    uvicorn.run(
        floor_app, host="127.0.0.1", port=port, http="httptools", loop="uvloop", lifespan="off",
        log_level="warning", access_log=False,
    )  # fmt: skip


# --- the orchestrator ------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(url: str, mines: int, chains: int) -> tuple[dict[str, str], list[str], Any]:
    """A registry with ``mines`` mines, ``chains`` mine-to-magnet chains to trace, and participants.
    Returns the tokens, the magnet lots and the scripted chain (with the mines' keys)."""
    from raretrace.ledger.participants import add_participant, issue_token
    from raretrace.ledger.registry import Registry
    from raretrace.ledger.scripted import ScriptedChain, mine_to_magnet
    from raretrace.store.db import make_engine

    registry = Registry.init(make_engine(url), "bench.raretrace.example/log")
    chain = ScriptedChain(registry)
    registry.append(
        [chain.facility_event(f"MINE-{i}", country="US", stages=["mining"]) for i in range(mines)]
        + [
            chain.facility_event("T-MINE", country="AU", stages=["mining"]),
            chain.facility_event("T-SEP", country="MY", stages=["separation"]),
            chain.facility_event("T-MAG", country="US", stages=["metallization", "magnet"]),
        ]
    )
    magnets = [
        mine_to_magnet(chain, f"c{i}", "T-MINE", "T-SEP", "T-MAG", "T-MAG", 50_000.0).magnet
        for i in range(chains)
    ]
    engine = registry.engine
    add_participant(engine, "secretariat", "Secretariat", "secretariat")
    add_participant(engine, "mines", "Mining co.", "operator", [f"MINE-{i}" for i in range(mines)])
    add_participant(engine, "maker", "Magnet maker", "operator", ["T-MAG"])
    tokens = {name: str(issue_token(engine, name).token) for name in ("secretariat", "mines", "maker")}
    return tokens, magnets, chain


def extracts(chain: Any, mines: int, count: int, tag: str) -> list[bytes]:
    from raretrace.custody.namespaces import namespaced
    from raretrace.ledger.scripted import lot

    return [
        chain.envelope(
            f"MINE-{i % mines}",
            "extract",
            event_id=namespaced("event", f"MINE-{i % mines}", f"{tag}-{i}"),
            deposit="Mountain Pass",
            outputs=[lot(namespaced("lot", f"MINE-{i % mines}", f"{tag}-{i}"), "ore", 1000.0, ORE)],
        )
        for i in range(count)
    ]


class Databases:
    """The base registry and its two identical copies (in-process and served), on SQLite files or as
    PostgreSQL databases cloned from the base with CREATE DATABASE … TEMPLATE."""

    def __init__(self, work: Path, pg_admin: str | None) -> None:
        self.work, self.pg_admin = work, pg_admin
        self.tag = f"bench_server_{os.getpid()}"
        self.names = ["base"]

    def url(self, name: str) -> str:
        if self.pg_admin is None:
            return str(self.work / f"{name}.db")
        return self.pg_admin.rsplit("/", 1)[0] + f"/{self.tag}_{name}"

    def _admin(self, sql: str) -> None:
        from sqlalchemy import create_engine, text

        from raretrace.store.db import resolve_url

        assert self.pg_admin is not None
        engine = create_engine(resolve_url(self.pg_admin), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()

    def create_base(self) -> str:
        if self.pg_admin is not None:
            self._admin(f'CREATE DATABASE "{self.tag}_base"')
        return self.url("base") if self.pg_admin else f"sqlite:///{self.url('base')}"

    def copy(self, name: str) -> None:
        self.names.append(name)
        if self.pg_admin is None:
            copy_sqlite(Path(self.url("base")), Path(self.url(name)))
        else:
            self._admin(f'CREATE DATABASE "{self.tag}_{name}" TEMPLATE "{self.tag}_base"')

    def drop(self) -> None:
        if self.pg_admin is not None:
            for name in self.names:
                self._admin(f'DROP DATABASE IF EXISTS "{self.tag}_{name}" WITH (FORCE)')


def built(
    args: argparse.Namespace, databases: Databases, work: Path
) -> tuple[dict[str, str], list[str], list[bytes], list[bytes]]:
    """The base registry and the work for it: built afresh, or (``--base-cache DIR``) the registry and
    envelopes a previous run with the same sizes left (SQLite: a file in DIR; PostgreSQL: a database
    kept beside the server's, named in DIR), since building takes minutes on a loaded machine and is
    not what is measured."""
    import pickle

    kind = "pg" if args.pg else "sqlite"
    sizes = f"{kind}-{args.mines}-{args.chains}-{args.singles}-{args.batched}"
    cache = Path(args.base_cache) / sizes if args.base_cache else None
    kept = f"bench_server_cache_{sizes.replace('-', '_')}"
    if cache is not None and (cache / "work.pickle").exists():
        print(f"the registry and envelopes from {cache}", flush=True)
        if args.pg:
            databases._admin(f'CREATE DATABASE "{databases.tag}_base" TEMPLATE "{kept}"')
        else:
            databases.create_base()
            shutil.copyfile(cache / "base.db", databases.url("base"))
        loaded: tuple[dict[str, str], list[str], list[bytes], list[bytes]] = pickle.loads(
            (cache / "work.pickle").read_bytes()
        )
        return loaded
    print(f"building the registry in {work} …", flush=True)
    tokens, magnets, chain = build(databases.create_base(), args.mines, args.chains)
    singles = extracts(chain, args.mines, args.singles, "single")
    batched = extracts(chain, args.mines, args.batched, "batched")
    chain.registry.engine.dispose()
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        if args.pg:
            databases._admin(f'CREATE DATABASE "{kept}" TEMPLATE "{databases.tag}_base"')
        else:
            copy_sqlite(Path(databases.url("base")), cache / "base.db")
        (cache / "work.pickle").write_bytes(pickle.dumps((tokens, magnets, singles, batched)))
    return tokens, magnets, singles, batched


def tree_root(given: str) -> str:
    """The root of a source tree given to ``--trees``: its ``src/raretrace`` must exist, since the
    server runs with ``PYTHONPATH=<root>/src``. A ``src`` folder given instead is taken as its tree (it
    used to be served from the installed copy, silently, comparing that copy with itself); anything
    else is refused."""
    path = Path(given).resolve()
    if (path / "raretrace").is_dir() and path.name == "src":
        path = path.parent
    if not (path / "src" / "raretrace").is_dir():
        raise SystemExit(f"--trees: {given} is not a source tree (no src/raretrace in it)")
    return str(path)


def copy_sqlite(source: Path, target: Path) -> None:
    import sqlite3

    with sqlite3.connect(source) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(source, target)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its children (uvicorn's workers), from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run_loadgen(
    work: Path, port: int, clients: int, name: str, spec: dict[str, Any], server_pid: int
) -> dict[str, Any]:
    path = work / f"{name}.json"
    before = cpu_seconds(server_pid)
    path.write_text(json.dumps(spec))
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--loadgen",
            "--requests",
            str(path),
            "--port",
            str(port),
            "--clients",
            str(clients),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{name}: the load generator failed: {out.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout)
    result["server_cpu_s"] = cpu_seconds(server_pid) - before
    bad = {s: n for s, n in result["statuses"].items() if int(s) >= 300}
    if bad:
        raise SystemExit(f"{name}: non-2xx answers {bad}: {result['errors']}")
    return result


def summary(count: int, wall: float, latencies: list[float], cpu: float | None = None) -> dict[str, float]:
    """Rate, latency percentiles and (over HTTP) the server's CPU ms per item."""
    out = {"per_s": count / wall, "p50_ms": 1000 * pct(latencies, 50), "p99_ms": 1000 * pct(latencies, 99)}
    if cpu is not None:
        out["cpu_ms"] = 1000 * cpu / count
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--singles", type=int, default=10_000)
    parser.add_argument("--batched", type=int, default=30_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--traces", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--mines", type=int, default=50)
    parser.add_argument("--chains", type=int, default=50)
    parser.add_argument(
        "--phases",
        default="single,batch,trace",
        help="which phases to run, comma-separated (single, batch, trace); e.g. --phases trace",
    )
    parser.add_argument(
        "--workers",
        default="1",
        help="server processes (raretrace serve --workers); comma-separated, one run each, alternating with "
        "the rate limits and trees (e.g. 1,2,1,2)",
    )
    parser.add_argument(
        "--rate-limit",
        default="1e9",
        help="the server's per-token and per-address limits (raretrace serve --rate-token/--rate-address), "
        "one run each, comma-separated: 1e9 is on but far above the load, so the run measures what "
        "checking them costs; 0 turns them off (the server before issue 17 had none); e.g. 0,1e9,0,1e9",
    )
    parser.add_argument(
        "--signature-workers",
        type=int,
        default=None,
        help="raretrace serve --signature-workers (default: serve's own, 0: in the server)",
    )
    parser.add_argument("--pg", help="PostgreSQL admin URL (e.g. postgresql://postgres@127.0.0.1/postgres)")
    parser.add_argument(
        "--trees",
        default="",
        help="source trees to serve from, one run each, comma-separated, alternating with the rate limits "
        "(e.g. /work/wt/server-old,.,/work/wt/server-old,. for before/after in the same run); default: "
        "the code this script imports",
    )
    parser.add_argument(
        "--profile",
        choices=("sample", "cprofile"),
        help="run each server under benchmarks/profile_server.py in this mode (see it)",
    )
    parser.add_argument(
        "--base-cache", help="keep the built registry and envelopes and reuse them (see built)"
    )
    parser.add_argument(
        "--skip-inproc", action="store_true", help="measure over HTTP only (the in-process columns are blank)"
    )
    parser.add_argument(
        "--profile-dir", default="profile-server", help="where --profile writes, a folder a run"
    )
    parser.add_argument(
        "--no-http-floor",
        action="store_true",
        help="leave out the HTTP floor (a bare ASGI app on uvicorn + httptools + uvloop, same requests)",
    )
    parser.add_argument("--floor-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--requests", help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loadgen:
        loadgen(args)
        return
    if args.floor_server:
        floor_server(args.port)
        return

    from raretrace.ledger.audit import audit
    from raretrace.ledger.lineage import trace_up
    from raretrace.ledger.registry import Registry
    from raretrace.store.db import make_engine

    phases = [p for p in ("single", "batch", "trace") if p in args.phases.split(",")]
    if not phases or set(args.phases.split(",")) - set(phases):
        parser.error(f"--phases: give some of single, batch, trace, not {args.phases!r}")
    if "single" not in phases:
        args.singles = 0
    if "batch" not in phases:
        args.batched = 0
    work = Path(tempfile.mkdtemp(prefix="bench-server-"))
    databases = Databases(work, args.pg)
    load_at_start = " ".join(f"{x:.1f}" for x in os.getloadavg())
    tokens, magnets, singles, batched = built(args, databases, work)
    given_limits, trees = args.rate_limit.split(","), [tree_root(t) for t in args.trees.split(",") if t]
    given_workers = [int(w) for w in str(args.workers).split(",")]
    count = max(len(given_limits), len(trees), len(given_workers))
    limits = [given_limits[k % len(given_limits)] for k in range(count)]
    sources = [trees[k % len(trees)] if trees else None for k in range(count)]
    processes = [given_workers[k % len(given_workers)] for k in range(count)]
    labels_of = [
        ", ".join(
            part
            for part in (sources[k], f"{processes[k]} process(es)" if len(set(processes)) > 1 else None)
            if part
        )
        for k in range(count)
    ]
    databases.copy("inproc")
    for k in range(len(limits)):
        databases.copy(f"server{k}")
    inproc_db = databases.url("inproc")
    traced = [magnets[i % len(magnets)] for i in range(args.traces)]
    batches = [batched[i : i + args.batch_size] for i in range(0, len(batched), args.batch_size)]

    # --- in-process: the same envelopes, the same batches, the same traces ------------------------------
    registry = Registry(make_engine(inproc_db))
    calls: dict[str, tuple[int, list[Callable[[], Any]]]] = {
        "single": (len(singles), [partial(registry.append, [e]) for e in singles]),
        "batch": (len(batched), [partial(registry.append, b) for b in batches]),
        "trace": (len(traced), [partial(trace_up, registry, lot_id) for lot_id in traced]),
    }
    inproc: dict[str, dict[str, float]] = {}
    for phase in phases:
        count, steps = calls[phase]
        if args.skip_inproc:
            inproc[phase] = {"per_s": float("nan"), "p50_ms": float("nan"), "p99_ms": float("nan")}
            continue
        lat: list[float] = []
        start = time.perf_counter()
        for step in steps:
            t0 = time.perf_counter()
            step()
            lat.append(time.perf_counter() - t0)
        inproc[phase] = summary(count, time.perf_counter() - start, lat)
    inproc_audit = audit(registry).ok
    registry.engine.dispose()

    # --- over HTTP: the server in its own process, the load generator in another, once per limit -------
    expected = Registry(make_engine(inproc_db)).tree_size()
    runs = [
        serve_and_drive(
            args,
            databases.url(f"server{k}"),
            (limit, sources[k], k, processes[k]),
            phases,
            tokens,
            work,
            (singles, batches, traced),
        )
        for k, limit in enumerate(limits)
    ]
    counts = {phase: calls[phase][0] for phase in phases}
    floor: dict[str, dict[str, float]] = {}
    if not args.no_http_floor:
        floor_results = drive_floor(args, phases, tokens, work, (singles, batches, traced))
        floor = {
            phase: summary(counts[phase], r["wall_s"], r["latencies"], r["server_cpu_s"])
            for phase, r in floor_results.items()
        }
    runs_summary: dict[str, list[dict[str, dict[str, float]]]] = {}
    labels = {
        "single": ("single submissions/s", ">= 1,000/s, p99 < 100 ms"),
        "batch": (f"batch events/s ({args.batch_size}/request)", ">= 3,000 events/s"),
        "trace": ("trace queries/s", "p99 < 50 ms"),
    }
    print(
        f"\n{args.clients} concurrent clients on loopback; {os.cpu_count()} CPUs; "
        f"{'PostgreSQL' if args.pg else 'SQLite'}; {args.workers} server process(es); "
        f"in-process = one caller, sequential, same work on a copy of the database"
    )
    first: dict[str, dict[str, float]] = {}
    for run, (limit, (results, server_audit, served_size)) in enumerate(zip(limits, runs, strict=True), 1):
        over_http = {
            phase: summary(counts[phase], r["wall_s"], r["latencies"], r["server_cpu_s"])
            for phase, r in results.items()
        }
        first = first or over_http
        source = labels_of[run - 1]
        runs_summary.setdefault(source or "this tree", []).append(over_http)
        served_by = f"; server from {source}" if source else ""
        print(f"\nrun {run}: rate limit {limit}/s per token and per address{served_by}")
        print(
            f"{'':32} {'HTTP /s':>9} {'p50 ms':>8} {'p99 ms':>8} {'srv cpu':>8} | {'in-proc /s':>10} "
            f"{'p50 ms':>8} {'p99 ms':>8} | {'ratio':>6} | {'vs run 1: /s':>12} {'cpu':>6}  target"
        )
        for phase in phases:
            http, local, base = over_http[phase], inproc[phase], first[phase]
            print(
                f"{labels[phase][0]:32} {http['per_s']:9,.0f} {http['p50_ms']:8.1f} {http['p99_ms']:8.1f} "
                f"{http['cpu_ms']:6.2f}ms | {local['per_s']:10,.0f} {local['p50_ms']:8.2f} "
                f"{local['p99_ms']:8.2f} | {http['per_s'] / local['per_s']:6.2f} | "
                f"{http['per_s'] / base['per_s']:12.2f} {http['cpu_ms'] / base['cpu_ms']:6.2f}  "
                f"{labels[phase][1]}"
            )
        for phase in phases if floor else ():
            http, bare = over_http[phase], floor[phase]
            print(
                f"{'  HTTP floor (bare ASGI app)':32} {bare['per_s']:9,.0f} {bare['p50_ms']:8.1f} "
                f"{bare['p99_ms']:8.1f} {bare['cpu_ms']:6.2f}ms | "
                f"HTTP / floor {http['per_s'] / bare['per_s']:.3f} "
                f"({phase}; server CPU {cpu_times(http['cpu_ms'], bare['cpu_ms'])} the floor's)"
            )
        client_cpu = ", ".join(f"{results[phase]['client_cpu_s']:.1f} s ({phase})" for phase in phases)
        print(
            f"the load generator used {client_cpu} of CPU; log audit: server "
            f"{'passed' if server_audit else 'FAILED'} (tree size {served_size}, in-process {expected})"
        )
    if len(runs_summary) > 1:
        print_tree_ratios(runs_summary, phases)
    if floor:
        floor_cpu = ", ".join(f"{floor_results[p]['client_cpu_s']:.1f} s ({p})" for p in phases)
        print(
            "HTTP floor: a bare ASGI app returning a fixed 11-byte body on uvicorn + httptools + uvloop, one "
            f"process, the same requests, clients and load generator (which used {floor_cpu} of CPU)"
        )
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        "srv cpu: the server processes' CPU time per event or query; load average (1, 5, 15 min) at the "
        f"start {load_at_start}, at the end {load}; log audit in-process "
        f"{'passed' if inproc_audit else 'FAILED'}"
    )
    databases.drop()
    shutil.rmtree(work, ignore_errors=True)


def cpu_times(ours: float, floor: float) -> str:
    """``ours`` as a multiple of ``floor``; a floor too short for the kernel's CPU clock (10 ms) says so."""
    return f"{ours / floor:.1f}x" if floor > 0 else "unmeasured (under one clock tick) against"


def print_tree_ratios(runs: dict[str, list[dict[str, dict[str, float]]]], phases: list[str]) -> None:
    """Each tree's runs pooled (median of its runs per figure), and every tree against the first."""
    names = list(runs)
    print("\nper tree, median over its runs (each run its own fresh copy of the database):")
    medians = {
        name: {
            phase: {k: statistics.median(r[phase][k] for r in rs) for k in rs[0][phase]} for phase in phases
        }
        for name, rs in runs.items()
    }
    for phase in phases:
        for name in names:
            m, base = medians[name][phase], medians[names[0]][phase]
            print(
                f"  {phase:6} {name:28} {m['per_s']:8,.0f}/s p50 {m['p50_ms']:7.1f} "
                f"p99 {m['p99_ms']:7.1f} ms "
                f"cpu {m['cpu_ms']:5.2f} ms | vs {names[0]}: /s x{m['per_s'] / base['per_s']:.2f} "
                f"p99 x{m['p99_ms'] / base['p99_ms']:.2f} cpu x{m['cpu_ms'] / base['cpu_ms']:.2f}"
            )


def wait_up(port: int, server: subprocess.Popen[str]) -> None:
    """Return once ``port`` accepts connections; stop the benchmark if ``server`` exits or takes 180 s."""
    deadline = time.monotonic() + 180  # a busy machine starts the processes slowly
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError as e:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"the server did not start: {server.stderr.read() if server.stderr else ''}"
                ) from e
            time.sleep(0.1)


def phase_specs(
    phases: list[str],
    tokens: dict[str, str],
    work_items: tuple[list[bytes], list[list[bytes]], list[str]],
) -> dict[str, dict[str, Any]]:
    """Each phase's requests as the load generator reads them (``loadgen``)."""
    singles, batches, traced = work_items
    loads = {
        "single": ("mines", "application/json", [("POST", "/api/v1/events", e) for e in singles]),
        "batch": (
            "mines",
            "application/x-ndjson",
            [("POST", "/api/v1/events/batch", b"".join(e + b"\n" for e in b)) for b in batches],
        ),
        "trace": (
            "maker",
            "application/json",
            [("GET", f"/api/v1/lots/{lot_id}/trace?direction=up", b"") for lot_id in traced],
        ),
    }
    return {
        phase: {
            "token": tokens[who],
            "content_type": content_type,
            "requests": [{"method": m, "path": p, "body": b.decode("latin-1")} for m, p, b in requests],
        }
        for phase in phases
        for who, content_type, requests in [loads[phase]]
    }


def drive_floor(
    args: argparse.Namespace,
    phases: list[str],
    tokens: dict[str, str],
    work: Path,
    work_items: tuple[list[bytes], list[list[bytes]], list[str]],
) -> dict[str, Any]:
    """Every phase's requests driven against the HTTP floor (``floor_server``) in its own process."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--floor-server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_up(port, server)
        print("HTTP floor up", flush=True)
        return {
            phase: run_loadgen(work, port, args.clients, f"floor-{phase}", spec, server.pid)
            for phase, spec in phase_specs(phases, tokens, work_items).items()
        }
    finally:
        server.terminate()
        server.wait(timeout=60)


def serve_and_drive(
    args: argparse.Namespace,
    server_db: str,
    run: tuple[str, str | None, int, int],
    phases: list[str],
    tokens: dict[str, str],
    work: Path,
    work_items: tuple[list[bytes], list[list[bytes]], list[str]],
) -> tuple[dict[str, Any], bool, int]:
    """One server on ``server_db`` with rate limit ``limit``, every phase driven against it; its results,
    whether its log audit passed, and its tree size."""
    from raretrace.ledger.audit import audit
    from raretrace.ledger.registry import Registry
    from raretrace.store.db import make_engine

    limit, source, number, workers = run
    port = free_port()
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(Path(source).resolve() / "src")
    if args.profile:
        out = Path(args.profile_dir).resolve() / f"run{number + 1}"
        launcher = [
            str(Path(__file__).with_name("profile_server.py")),
            "--mode",
            args.profile,
            "--out",
            str(out),
            "--",
        ]
    else:
        launcher = ["-m", "raretrace"]
    server = subprocess.Popen(
        [
            sys.executable,
            *launcher,
            "--db",
            server_db,
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--rate-token",
            limit,
            "--rate-address",
            limit,
            *([] if args.signature_workers is None else ["--signature-workers", str(args.signature_workers)]),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_up(port, server)
        print("server up", flush=True)
        if args.profile == "sample":  # start-up's profile apart from the phases'
            (Path(args.profile_dir).resolve() / f"run{number + 1}" / "phase.txt").write_text("startup")
            server.send_signal(signal.SIGUSR1)
            time.sleep(1)

        results: dict[str, Any] = {}
        for phase, spec in phase_specs(phases, tokens, work_items).items():
            print(f"{phase} phase …", flush=True)
            results[phase] = run_loadgen(work, port, args.clients, phase, spec, server.pid)
            if args.profile == "sample":  # the profile of this phase apart (profile_server.dump_phase)
                (Path(args.profile_dir).resolve() / f"run{number + 1}" / "phase.txt").write_text(phase)
                server.send_signal(signal.SIGUSR1)
                time.sleep(1)
    finally:
        server.terminate()
        server.wait(timeout=60)
    served = Registry(make_engine(server_db))
    passed, size = audit(served).ok, served.tree_size()
    served.engine.dispose()
    return results, passed, size


if __name__ == "__main__":
    main()
