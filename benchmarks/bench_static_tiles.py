"""Static tiles against the API: reading the log's C2SP tiles and entry bundles from files that
`raretrace log publish` wrote, served by a plain HTTP server, and from `raretrace serve`, same run.

    python benchmarks/bench_static_tiles.py [--leaves 50000] [--requests 20000] [--clients 50]

A registry of ``--leaves`` signed extract events is built on SQLite and published to a directory
(the publication is timed, then repeated with nothing new to show it writes only the checkpoint).
Then two servers run, each in its own process on loopback: Python's ``http.server``
(ThreadingHTTPServer, HTTP/1.1 keep-alive, sendfile-less, one process: the slowest static server
there is) serving the directory, and ``raretrace serve`` (uvicorn, one worker) serving the same
paths from the database. The load generator of ``bench_server.py`` (a third process, asyncio,
keep-alive) fetches the same random full tiles from each: level-0 hash tiles, then entry
bundles (256 signed events each; the API needs the secretariat's token for those). A sample of
answers is compared byte for byte between the two.

The baseline is the limit of any server of these files: the same files read from the page cache
in-process (open, read, close), no HTTP at all. Ratios are printed against it and between the two
servers. A CDN or nginx would sit between http.server and that limit.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_server import build, extracts, free_port, run_loadgen, summary


class KeepAlive(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, *args: Any) -> None:
        pass


def serve_static(directory: str, port: int) -> None:
    handler = functools.partial(KeepAlive, directory=directory)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()


def wait_for(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError as e:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"a server did not start: {process.stderr.read() if process.stderr else ''}"
                ) from e
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=20_000, help="requests per phase and server")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve-static", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_static:
        serve_static(args.serve_static, args.port)
        return

    import httpx

    from raretrace.ledger.publish import publish
    from raretrace.ledger.registry import Registry
    from raretrace.log.tiles import TilePath
    from raretrace.store.db import make_engine

    work = Path(tempfile.mkdtemp(prefix="bench-static-"))
    db = f"sqlite:///{work / 'registry.db'}"
    print(f"building a registry of {args.leaves:,} leaves in {work} …", flush=True)
    tokens, _, chain = build(db, 20, 1)
    envelopes = extracts(chain, 20, args.leaves, "x")
    for start in range(0, len(envelopes), 1000):
        chain.registry.append(envelopes[start : start + 1000])
    registry = Registry(make_engine(db))
    out = work / "published"
    t0 = time.perf_counter()
    first = publish(registry, out)
    took = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = publish(registry, out)
    took_again = time.perf_counter() - t0
    print(
        f"publish: {first.tree_size:,} leaves, {first.files_written:,} files, "
        f"{first.bytes_written / 1e6:.1f} MB in {took:.2f} s ({first.files_written / took:,.0f} files/s); "
        "again with nothing new: "
        f"{again.files_written} file in {took_again * 1000:.1f} ms",
        flush=True,
    )
    size = first.tree_size
    rng = random.Random(args.seed)
    phases = {
        "hash tiles": [TilePath(0, i).path for i in range(size // 256)],
        "entry bundles": [TilePath(None, i).path for i in range(size // 256)],
    }
    plans = {name: [rng.choice(paths) for _ in range(args.requests)] for name, paths in phases.items()}

    static_port, api_port = free_port(), free_port()
    static = subprocess.Popen(
        [sys.executable, __file__, "--serve-static", str(out), "--port", str(static_port)],
        stderr=subprocess.PIPE,
        text=True,
    )
    api = subprocess.Popen(
        [sys.executable, "-m", "raretrace", "--db", db, "serve", "--port", str(api_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    rows: list[tuple[str, dict[str, float], dict[str, float], dict[str, float], float]] = []
    try:
        wait_for(static_port, static)
        wait_for(api_port, api)
        head = {"Authorization": f"Bearer {tokens['secretariat']}"}
        with httpx.Client() as client:
            for path in ["checkpoint"] + [p for paths in phases.values() for p in paths[:5]]:
                a = client.get(f"http://127.0.0.1:{static_port}/{path}").content
                b = client.get(f"http://127.0.0.1:{api_port}/{path}", headers=head).content
                if a != b:
                    raise SystemExit(f"{path}: the static file and the API's answer differ")
        for name, plan in plans.items():
            # the limit: the same files read in-process from the page cache
            lat = []
            total_bytes = 0
            start = time.perf_counter()
            for path in plan:
                t = time.perf_counter()
                total_bytes += len((out / path).read_bytes())
                lat.append(time.perf_counter() - t)
            disk = summary(len(plan), time.perf_counter() - start, lat)
            spec = {
                "token": tokens["secretariat"],
                "content_type": "text/plain",
                "requests": [{"method": "GET", "path": "/" + p, "body": ""} for p in plan],
            }
            measured = {}
            for server, port, process in (("static", static_port, static), ("api", api_port, api)):
                result = run_loadgen(
                    work, port, args.clients, f"{name}-{server}".replace(" ", "_"), spec, process.pid
                )
                measured[server] = summary(
                    len(plan), result["wall_s"], result["latencies"], result["server_cpu_s"]
                )
            rows.append((name, measured["static"], measured["api"], disk, total_bytes / len(plan)))
    finally:
        for process in (static, api):
            process.terminate()
            process.wait(timeout=30)

    print(
        f"\n{args.requests:,} random full tiles per phase, {args.clients} clients, loopback; "
        "one process per server"
    )
    print(
        "| phase | static files over http.server: rate · p50/p99 · server CPU/req "
        "| API (raretrace serve): rate · p50/p99 · server CPU/req "
        "| static / API | in-process file read (limit) | static / limit | API / limit |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, st, ap, disk, avg in rows:
        print(
            f"| {name} ({avg / 1024:.1f} KiB) | {cell(st, avg)} | {cell(ap, avg)} | "
            f"{st['per_s'] / ap['per_s']:.2f} | {disk['per_s']:,.0f}/s | "
            f"{st['per_s'] / disk['per_s']:.3f} | {ap['per_s'] / disk['per_s']:.3f} |"
        )


def cell(m: dict[str, float], size: float) -> str:
    """Rate, bandwidth, latency percentiles and server CPU per request of one server."""
    return (
        f"{m['per_s']:,.0f}/s ({m['per_s'] * size / 1e6:.1f} MB/s) · "
        f"{m['p50_ms']:.1f}/{m['p99_ms']:.1f} ms · {m['cpu_ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
