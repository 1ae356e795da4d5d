"""What deciding one request's rate limits costs: the table the server's processes share
(server/ratestore.py: a memory-mapped file under flock, keys salted) and a Redis every machine shares
(server/ratestore_redis.py: one Lua script a decision, over a connection) against the per-process
dictionary the table replaced (the fastest there is: no lock, no system call, no salt), on the same
keys in the same run.

    python benchmarks/bench_ratelimit.py [--requests 200000] [--keys 1000] [--redis redis://127.0.0.1:6379/15]

The Redis row is left out when ``--redis ''`` is given or no Redis answers (the run says so); it
decides fewer requests (``--redis-requests``, default 20,000): each is a round trip.

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

from raretrace.errors import StoreError
from raretrace.server.ratelimit import RateLimits
from raretrace.server.ratestore import ProcessRates, Rate, RateStore, RateTable, create_table


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
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15", help="a Redis URL ('': no Redis row)")
    parser.add_argument("--redis-requests", type=int, default=20_000)
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
        shared = store_cost(RateTable(path), order)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    process = store_cost(ProcessRates(), order)
    redis = redis_cost(args.redis, order[: args.redis_requests])

    on, off = middleware_cost(order, Rate(1e9, 2e9)), middleware_cost(order, Rate(0, 0))
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.requests:,} requests over {args.keys:,} addresses and tokens; load average {load}")
    rows = [
        ("per-process dictionary (baseline)", baseline),
        ("process dictionary, salted (fallback)", process),
        ("shared table (mmap + flock, salted)", shared),
    ]
    if isinstance(redis, float):
        rows.append(("Redis (one Lua script, loopback)", redis))
    for name, seconds in rows:
        print(f"{name:40} {seconds * 1e6:8.2f} µs a request {seconds / baseline:6.2f}")
    if not isinstance(redis, float):
        print(f"{'Redis':40} not measured: {redis}")
    print(f"{'middleware, limits off':40} {off * 1e6:8.2f} µs a request")
    print(f"{'middleware, limits on':40} {on * 1e6:8.2f} µs a request {on / off:6.2f} x off")


def store_cost(store: RateStore, order: list[tuple[bytes, bytes]]) -> float:
    """Seconds ``store`` takes to decide one request (its address's bucket and its token's)."""
    rate = Rate(1e9, 2e9)
    start = time.perf_counter()
    for address, token in order:
        store.take([(b"address", address, rate), (b"token", token, rate)], time.monotonic())
    return (time.perf_counter() - start) / len(order)


def redis_cost(url: str, order: list[tuple[bytes, bytes]]) -> float | str:
    """``store_cost`` of a Redis at ``url``, or why it was not measured."""
    if not url:
        return "no --redis given"
    from raretrace.server.ratestore_redis import RedisRates

    try:
        store = RedisRates.from_url(url)
    except StoreError as e:
        return e.message
    try:
        return store_cost(store, order)
    finally:
        store.close()


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
