"""Per-token and per-address request rates (token buckets), so one participant or one address cannot
starve the others: over the limit, a 429 with ``Retry-After`` (RFC 6585 §4, RFC 9110 §10.2.3).

Each bucket holds up to ``burst`` requests and refills at ``rate`` a second. A request spends one from
its address's bucket and, when it carries a bearer token or session cookie, one from that token's (an
unknown token still has a bucket: guessing tokens is limited like anything else). Limits live in
memory per server process (``--workers N`` gives each worker its own), and behind a reverse proxy
every request shares the proxy's address: set the address limit for that, or to 0 (off).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from raretrace.server.problems import problem

MAX_BUCKETS = 100_000  # idle (full) buckets are dropped beyond this many


@dataclass(frozen=True)
class Rate:
    """``rate`` requests a second on average, ``burst`` at once; a rate of 0 is no limit."""

    rate: float
    burst: float

    @property
    def off(self) -> bool:
        return self.rate <= 0


class Buckets:
    def __init__(self, limit: Rate) -> None:
        self.limit = limit
        self._level: dict[bytes, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: bytes, now: float) -> float:
        """0 if a request may pass now (and spend), else the seconds until it may."""
        tokens, at = self._level.get(key, (self.limit.burst, now))
        tokens = min(self.limit.burst, tokens + (now - at) * self.limit.rate)
        if tokens < 1:
            self._level[key] = (tokens, now)
            return (1 - tokens) / self.limit.rate
        if len(self._level) >= MAX_BUCKETS and key not in self._level:
            self._prune(now)
        self._level[key] = (tokens - 1, now)
        return 0.0

    def _prune(self, now: float) -> None:
        full = self.limit.burst / self.limit.rate
        self._level = {k: v for k, v in self._level.items() if now - v[1] < full}


def has_credentials(scope: Scope) -> bool:
    """Whether the request carries a bearer token or the session cookie (valid or not)."""
    for name, value in scope.get("headers", ()):
        if (name == b"authorization" and value[:7].lower() == b"bearer ") or (
            name == b"cookie" and b"raretrace_session=" in value
        ):
            return True
    return False


def token_key(scope: Scope) -> bytes | None:
    """A digest of the request's bearer token or session cookie (the token itself is not kept)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return hashlib.sha256(value[7:].strip()).digest()
        if name == b"cookie" and b"raretrace_session=" in value:
            cookie = value.split(b"raretrace_session=", 1)[1].split(b";", 1)[0]
            return hashlib.sha256(cookie).digest()
    return None


class RateLimits:
    """The ASGI middleware."""

    def __init__(self, app: ASGIApp, *, per_token: Rate, per_address: Rate) -> None:
        self.app = app
        self.tokens = None if per_token.off else Buckets(per_token)
        self.addresses = None if per_address.off else Buckets(per_address)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            now = time.monotonic()
            wait = 0.0
            if self.addresses is not None:
                client = scope.get("client")
                wait = self.addresses.take(str(client[0] if client else "").encode(), now)
            key = token_key(scope) if self.tokens is not None and not wait else None
            if key is not None and self.tokens is not None:
                wait = self.tokens.take(key, now)
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
