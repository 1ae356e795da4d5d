"""Per-token and per-address request rates (token buckets), so one participant or one address cannot
starve the others: over the limit, a 429 with ``Retry-After`` (RFC 6585 §4, RFC 9110 §10.2.3).

Each bucket holds up to ``burst`` requests and refills at ``rate`` a second. A request spends one from
its address's bucket and, when it carries a bearer token or session cookie, one from that token's (an
unknown token still has a bucket: guessing tokens is limited like anything else). The buckets are
one table every worker of the server shares (``server/ratestore.py``), so ``--workers N`` serves the
same limits as one process, or a Redis every machine of the server shares
(``server/ratestore_redis.py``). Behind a reverse proxy every request shares the proxy's address: set
the address limit for that, or to 0 (off).
"""

from __future__ import annotations

import math
import time

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from raretrace.errors import StoreError
from raretrace.server.problems import problem
from raretrace.server.ratestore import Rate, RateStore, Spend, local_store

__all__ = ["Rate", "RateLimits", "has_credentials", "token"]


def has_credentials(scope: Scope) -> bool:
    """Whether the request carries a bearer token or the session cookie (valid or not)."""
    for name, value in scope.get("headers", ()):
        if (name == b"authorization" and value[:7].lower() == b"bearer ") or (
            name == b"cookie" and b"raretrace_session=" in value
        ):
            return True
    return False


def token(scope: Scope) -> bytes | None:
    """The request's bearer token or session cookie, as sent (the store keeps only a salted digest)."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip()
        if name == b"cookie" and b"raretrace_session=" in value:
            return value.split(b"raretrace_session=", 1)[1].split(b";", 1)[0]
    return None


class RateLimits:
    """The ASGI middleware. ``table`` is the server's shared store (None: one of this app's own, as a
    single process or a test has it)."""

    def __init__(
        self, app: ASGIApp, *, per_token: Rate, per_address: Rate, table: RateStore | None = None
    ) -> None:
        self.app = app
        self.per_token = None if per_token.off else per_token
        self.per_address = None if per_address.off else per_address
        limited = self.per_token is not None or self.per_address is not None
        self.table = (table or local_store()) if limited else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.table is not None:
            wanted: list[Spend] = []
            if self.per_address is not None:
                client = scope.get("client")
                wanted.append((b"address", str(client[0] if client else "").encode(), self.per_address))
            sent = token(scope) if self.per_token is not None else None
            if sent is not None and self.per_token is not None:
                wanted.append((b"token", sent, self.per_token))
            try:
                wait = await decide(self.table, wanted) if wanted else 0.0
            except StoreError:  # the rate store (a Redis) does not answer: no unlimited requests
                await refuse(scope, receive, send, 503, "rate store unavailable; try again shortly", 1)
                return
            if wait:
                seconds = max(1, math.ceil(wait))
                await refuse(
                    scope, receive, send, 429, f"too many requests; try again in {seconds} s", seconds
                )
                return
        await self.app(scope, receive, send)


async def decide(table: RateStore, wanted: list[Spend]) -> float:
    """The store's decision; one that waits on the network (a Redis) in a worker thread, so the event
    loop answers other requests meanwhile."""
    if table.remote:
        return await anyio.to_thread.run_sync(table.take, wanted, time.monotonic())
    return table.take(wanted, time.monotonic())


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str, retry: int) -> None:
    """A 429 (over the limit) or 503 (no rate store) with ``Retry-After`` in seconds."""
    slug, title = {429: ("rate-limited", "Too many requests"), 503: ("rate-store", "Rate store unavailable")}[
        status
    ]
    response = problem(status, slug, title, detail, None)
    response.headers["Retry-After"] = str(retry)
    await response(scope, receive, send)
