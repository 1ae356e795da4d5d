"""What deciding one request's rate limits costs: the table the server's processes share
(server/ratestore.py: a memory-mapped file under flock) against the per-process dictionary it
replaced (the fastest there is: no lock, no system call), on the same keys in the same run.

    python benchmarks/bench_ratelimit.py [--requests 200000] [--keys 1000]

A request spends from its address's bucket and its token's (two keys a request, as the middleware
does); limits far above the load, so every request passes and every decision writes its cell. Then
the whole middleware (``RateLimits``, reading the request's address and bearer token) with the limits
on and off, around an app that does nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import time
from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from raretrace.server.ratelimit import RateLimits
from raretrace.server.ratestore import Rate, RateTable, create_table, key_of


@dataclass(frozen=True)
class _Limit:
    rate: float
    burst: float


class DictBuckets:
    """The per-process token buckets of the server before the table (git d0f7823,
    server/ratelimit.py ``Buckets``), less its pruning: the baseline."""

    def __init__(self, limit: _Limit) -> None:
        self.limit = limit
        self._level: dict[bytes, tuple[float, float]] = {}

    def take(self, key: bytes, now: float) -> float:
        tokens, at = self._level.get(key, (self.limit.burst, now))
        tokens = min(self.limit.burst, tokens + (now - at) * self.limit.rate)
        if tokens < 1:
            self._level[key] = (tokens, now)
            return (1 - tokens) / self.limit.rate
        self._level[key] = (tokens - 1, now)
        return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=1_000, help="distinct addresses (and as many tokens)")
    args = parser.parse_args()
    addresses = [f"10.0.{i // 256}.{i % 256}".encode() for i in range(args.keys)]
    tokens = [os.urandom(32) for _ in range(args.keys)]
    order = [(addresses[i % args.keys], tokens[(i * 7) % args.keys]) for i in range(args.requests)]

    limit = _Limit(1e9, 2e9)
    by_address, by_token = DictBuckets(limit), DictBuckets(limit)
    start = time.perf_counter()
    for address, token in order:
        now = time.monotonic()
        if not by_address.take(address, now):
            by_token.take(token, now)
    baseline = (time.perf_counter() - start) / args.requests

    path = create_table()
    try:
        table, rate = RateTable(path), Rate(1e9, 2e9)
        start = time.perf_counter()
        for address, token in order:
            table.take(
                [(key_of(b"address", address), rate), (key_of(b"token", token), rate)], time.monotonic()
            )
        shared = (time.perf_counter() - start) / args.requests
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)

    on, off = middleware_cost(order, Rate(1e9, 2e9)), middleware_cost(order, Rate(0, 0))
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.requests:,} requests over {args.keys:,} addresses and tokens; load average {load}")
    print(f"{'per-process dictionary (baseline)':36} {baseline * 1e6:8.2f} µs a request   1.00")
    print(f"{'shared table (mmap + flock)':36} {shared * 1e6:8.2f} µs a request {shared / baseline:6.2f}")
    print(f"{'middleware, limits off':36} {off * 1e6:8.2f} µs a request")
    print(f"{'middleware, limits on':36} {on * 1e6:8.2f} µs a request {on / off:6.2f} x off")


def middleware_cost(order: list[tuple[bytes, bytes]], limit: Rate) -> float:
    """Seconds ``RateLimits`` adds to a request (its own table, the app behind it doing nothing)."""

    async def nothing(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    limits = RateLimits(nothing, per_token=limit, per_address=limit)
    scopes = [
        {
            "type": "http",
            "client": (address.decode(), 40000),
            "headers": [(b"host", b"bench"), (b"authorization", b"Bearer " + token.hex().encode())],
        }
        for address, token in order
    ]

    async def run() -> float:
        start = time.perf_counter()
        for scope in scopes:
            await limits(scope, nothing, nothing)  # type: ignore[arg-type]  # receive/send never called
        return (time.perf_counter() - start) / len(scopes)

    return asyncio.run(run())


if __name__ == "__main__":
    main()
