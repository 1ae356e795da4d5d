"""Static tiles against the API: reading the log's C2SP tiles and entry bundles from files that
`raretrace log publish` wrote, served by a plain HTTP server, and from `raretrace serve`, same run.

    python benchmarks/bench_static_tiles.py [--leaves 50000] [--requests 20000] [--clients 50]

A registry of ``--leaves`` signed extract events is built on SQLite and published to a directory
(the publication is timed, then repeated with nothing new to show it writes only the checkpoint).
Then three servers run, each in its own process on loopback: Python's ``http.server``
(ThreadingHTTPServer, HTTP/1.1 keep-alive, sendfile-less, one process: the slowest static server
there is) and nginx serving the directory, and ``raretrace serve`` (uvicorn, one worker, its rate
limits on but far above the load, as in ``bench_server.py``) serving the same paths from the
database. The load generator of ``bench_server.py`` (a fourth process, asyncio, keep-alive) fetches
the same random full tiles from each: level-0 hash tiles, then entry bundles (256 signed events
each; the API needs the secretariat's token for those). A sample of answers is compared byte for
byte between them.

The baseline over HTTP is the fastest static file server there is, nginx, serving the same directory on
another loopback port from a configuration generated in the work directory (``nginx -c CONF -p
PREFIX``, ``daemon off``, its pid file, logs and temporary files there: nothing of the system's own
nginx configuration is read or changed). It runs ``worker_processes 1``, as ``raretrace serve`` and
http.server run one process here, with ``sendfile``, ``tcp_nopush``, ``tcp_nodelay``, an
``open_file_cache`` and no access log: its fastest single-process configuration. It is fetched with
the same plan by the same load generator, and ``API / nginx`` (raretrace's rate over nginx's) is
printed. When nginx is missing it is installed (``apt-get install -y nginx-light``, then ``nginx``;
root only); if it cannot be installed or started the run says so on a line of its own and leaves its
columns out (``--no-nginx`` skips it). The limit of any server of these files, HTTP aside, is also
printed: the same files read from the page cache in-process (open, read, close).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_server import build, extracts, free_port, run_loadgen, summary, wait_up


class KeepAlive(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, *args: Any) -> None:
        pass


def serve_static(directory: str, port: int) -> None:
    handler = functools.partial(KeepAlive, directory=directory)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()


NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    default_type text/plain;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    open_file_cache max=100000 inactive=60s;
    open_file_cache_valid 60s;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


def nginx_binary() -> tuple[str | None, str]:
    """The nginx executable (installed now with apt-get when missing and this process is root), or None and
    why not."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found:
        return found, "found"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, "not installed, and installing it needs root and apt-get"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    why = "no package tried"
    for package in ("nginx-light", "nginx"):
        print(f"nginx missing: apt-get install -y {package} …", flush=True)
        done = subprocess.run(
            ["apt-get", "install", "-y", package], check=False, env=env, capture_output=True, text=True
        )
        if done.returncode == 0 and os.access("/usr/sbin/nginx", os.X_OK):
            return "/usr/sbin/nginx", f"installed now ({package})"
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
    return None, f"apt-get install failed: {why}"


def start_nginx(root: Path, work: Path, port: int) -> tuple[subprocess.Popen[str] | None, str]:
    """nginx serving ``root`` on loopback ``port`` from a configuration written under ``work`` (one worker,
    in the foreground), or None and why it could not run."""
    binary, how = nginx_binary()
    if binary is None:
        return None, how
    prefix = work / "nginx"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    # a root master hands requests to workers running as "nobody", who cannot read a 0700 temporary directory
    user = "user root;" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, user=user, port=port, root=root.resolve()))
    process = subprocess.Popen(
        [binary, "-c", str(conf), "-p", str(prefix)], stderr=subprocess.PIPE, text=True
    )
    try:
        wait_up(port, process)
    except SystemExit as e:
        process.kill()
        process.wait()
        return None, f"{how}, but it did not start: {e}"
    version = subprocess.run([binary, "-v"], check=True, capture_output=True, text=True).stderr.strip()
    return process, f"{version} ({how}), worker_processes 1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=20_000, help="requests per phase and server")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-nginx", action="store_true", help="leave the nginx baseline out")
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
        [
            *(sys.executable, "-m", "raretrace", "--db", db, "serve", "--port", str(api_port)),
            *("--rate-token", "1e9", "--rate-address", "1e9"),  # on, far above the load (as bench_server)
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    nginx: subprocess.Popen[str] | None = None
    nginx_port = 0
    if args.no_nginx:
        nginx_note = "left out (--no-nginx)"
    else:
        nginx_port = free_port()
        nginx, nginx_note = start_nginx(out, work, nginx_port)
    print(f"nginx baseline: {nginx_note if nginx else 'SKIPPED: ' + nginx_note}", flush=True)
    servers = [("static", static_port, static), ("api", api_port, api)]
    if nginx is not None:
        servers.append(("nginx", nginx_port, nginx))
    rows: list[tuple[str, dict[str, dict[str, float]], dict[str, float], float]] = []
    busy: dict[str, float] = {}  # the load generator's CPU over the wall time of the nginx runs
    try:
        wait_up(static_port, static)
        wait_up(api_port, api)
        head = {"Authorization": f"Bearer {tokens['secretariat']}"}
        with httpx.Client() as client:
            for path in ["checkpoint"] + [p for paths in phases.values() for p in paths[:5]]:
                b = client.get(f"http://127.0.0.1:{api_port}/{path}", headers=head).content
                for server, port, _ in servers:
                    if server != "api" and client.get(f"http://127.0.0.1:{port}/{path}").content != b:
                        raise SystemExit(f"{path}: {server}'s file and the API's answer differ")
        for name, plan in plans.items():
            # the limit: the same files read in-process from the page cache
            lat = []
            total_bytes = 0
            began = time.perf_counter()
            for path in plan:
                t = time.perf_counter()
                total_bytes += len((out / path).read_bytes())
                lat.append(time.perf_counter() - t)
            disk = summary(len(plan), time.perf_counter() - began, lat)
            spec = {
                "token": tokens["secretariat"],
                "content_type": "text/plain",
                "requests": [{"method": "GET", "path": "/" + p, "body": ""} for p in plan],
            }
            measured = {}
            for server, port, process in servers:
                result = run_loadgen(
                    work, port, args.clients, f"{name}-{server}".replace(" ", "_"), spec, process.pid
                )
                measured[server] = summary(
                    len(plan), result["wall_s"], result["latencies"], result["server_cpu_s"]
                )
                if server == "nginx":
                    busy[name] = result["client_cpu_s"] / result["wall_s"]
            rows.append((name, measured, disk, total_bytes / len(plan)))
    finally:
        for _, _, process in servers:
            process.terminate()
            process.wait(timeout=30)

    with_nginx = nginx is not None
    print(
        f"\n{args.requests:,} random full tiles per phase, {args.clients} clients, loopback; "
        "one process per server" + ("; nginx worker_processes 1" if with_nginx else "; nginx skipped")
    )
    print(
        "| phase | static files over http.server: rate · p50/p99 · server CPU/req "
        "| API (raretrace serve): rate · p50/p99 · server CPU/req "
        + (
            "| nginx (the fastest static server): rate · p50/p99 · server CPU/req | API / nginx "
            if with_nginx
            else ""
        )
        + "| static / API | in-process file read (limit) | static / limit | API / limit |"
    )
    print("|---|---|---|" + ("---|---|" if with_nginx else "") + "---|---|---|---|")
    for name, measured, disk, avg in rows:
        st, ap = measured["static"], measured["api"]
        versus_nginx = (
            f"{cell(measured['nginx'], avg)} | {ap['per_s'] / measured['nginx']['per_s']:.3f} | "
            if with_nginx
            else ""
        )
        print(
            f"| {name} ({avg / 1024:.1f} KiB) | {cell(st, avg)} | {cell(ap, avg)} | {versus_nginx}"
            f"{st['per_s'] / ap['per_s']:.2f} | {disk['per_s']:,.0f}/s | "
            f"{st['per_s'] / disk['per_s']:.3f} | {ap['per_s'] / disk['per_s']:.3f} |"
        )
    if busy:
        print(
            "the load generator (one Python process) was busy "
            + ", ".join(f"{share:.0%} of the nginx run's wall time ({name})" for name, share in busy.items())
            + ": near 100%, nginx's rate is the load generator's ceiling and nginx's own is higher"
        )
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def cell(m: dict[str, float], size: float) -> str:
    """Rate, bandwidth, latency percentiles and server CPU per request of one server."""
    return (
        f"{m['per_s']:,.0f}/s ({m['per_s'] * size / 1e6:.1f} MB/s) · "
        f"{m['p50_ms']:.1f}/{m['p99_ms']:.1f} ms · {m['cpu_ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
