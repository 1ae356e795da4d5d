"""Per-token and per-address request rates (token buckets), so one participant or one address cannot
starve the others: over the limit, a 429 with ``Retry-After`` (RFC 6585 §4, RFC 9110 §10.2.3).

Each bucket holds up to ``burst`` requests and refills at ``rate`` a second. A request spends one from
its address's bucket and, when it carries a bearer token or session cookie, one from that token's (an
unknown token still has a bucket: guessing tokens is limited like anything else). The buckets are
one table every worker of the server shares (``server/ratestore.py``), so ``--workers N`` serves the
same limits as one process. Behind a reverse proxy every request shares the proxy's address: set the
address limit for that, or to 0 (off).
"""

from __future__ import annotations

import math
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from raretrace.server.problems import problem
from raretrace.server.ratestore import Rate, RateTable, key_of

__all__ = ["Rate", "RateLimits", "has_credentials", "token_key"]


def has_credentials(scope: Scope) -> bool:
    """Whether the request carries a bearer token or the session cookie (valid or not)."""
    for name, value in scope.get("headers", ()):
        if (name == b"authorization" and value[:7].lower() == b"bearer ") or (
            name == b"cookie" and b"raretrace_session=" in value
        ):
            return True
    return False


def token_key(scope: Scope) -> bytes | None:
    """The rate table's key for the request's bearer token or session cookie (a digest: the token
    itself is not kept)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return key_of(b"token", value[7:].strip())
        if name == b"cookie" and b"raretrace_session=" in value:
            return key_of(b"token", value.split(b"raretrace_session=", 1)[1].split(b";", 1)[0])
    return None


class RateLimits:
    """The ASGI middleware. ``table`` is the server's shared one (None: a table of this app's own,
    as a single process or a test has it)."""

    def __init__(
        self, app: ASGIApp, *, per_token: Rate, per_address: Rate, table: RateTable | None = None
    ) -> None:
        self.app = app
        self.per_token = None if per_token.off else per_token
        self.per_address = None if per_address.off else per_address
        limited = self.per_token is not None or self.per_address is not None
        self.table = (table or RateTable.private()) if limited else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.table is not None:
            wanted: list[tuple[bytes, Rate]] = []
            if self.per_address is not None:
                client = scope.get("client")
                wanted.append(
                    (key_of(b"address", str(client[0] if client else "").encode()), self.per_address)
                )
            key = token_key(scope) if self.per_token is not None else None
            if key is not None and self.per_token is not None:
                wanted.append((key, self.per_token))
            wait = self.table.take(wanted, time.monotonic()) if wanted else 0.0
            if wait:
                seconds = max(1, math.ceil(wait))
                response = problem(
                    429,
                    "rate-limited",
                    "Too many requests",
                    f"too many requests; try again in {seconds} s",
                    None,
                )
                response.headers["Retry-After"] = str(seconds)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
