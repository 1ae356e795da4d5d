"""Request bodies bounded per endpoint, and anonymous writes refused, before a byte of the body is read.

FastAPI reads a request's body before it resolves the caller (a pydantic body is parsed first), so
without this a 150 MB anonymous POST is buffered in full and then refused. This ASGI middleware runs
first: a declared ``Content-Length`` above the endpoint's limit is a 413 at once, a body without one
is counted as it arrives (413 once it passes the limit), and a request with a body to an endpoint that
needs a participant is a 401 when it carries no credentials at all — before the body is read. A
token that is present but wrong is refused by the route as before (with its body bounded).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from raretrace.log.tiles import MAX_ENTRY_BYTES
from raretrace.server.problems import problem
from raretrace.server.ratelimit import has_credentials
from raretrace.server.settings import MAX_BODY_BYTES

KIB, MIB = 1024, 1024 * 1024
#: Largest body per endpoint (method and exact path); any other request: ``DEFAULT_LIMIT``.
LIMITS: Mapping[tuple[str, str], int] = {
    ("POST", "/api/v1/events"): MAX_ENTRY_BYTES,  # one envelope, which the log must be able to serve
    ("POST", "/api/v1/events/batch"): MAX_BODY_BYTES,
    ("POST", "/api/v1/fingerprint"): 8 * MIB,  # 4,000,000 characters of CSV in JSON
    ("POST", "/api/v1/verify"): 16 * MIB,
    ("POST", "/api/v1/scenarios/run"): 4 * MIB,
    ("POST", "/submit"): 16 * MIB + 64 * KIB,  # the form's field or file, and the multipart framing
    ("POST", "/verify"): 16 * MIB + 64 * KIB,
    ("POST", "/scenario"): 4 * MIB + 64 * KIB,
}
DEFAULT_LIMIT = MIB
#: Writes open to the public (everything else that is not GET/HEAD needs a participant's token).
#: ``/api/v1/confirmations`` is posted by another member's registry, authenticated by the signature
#: inside the body (ledger/confirmations.py), not by a participant token; ``/api/v1/shipments/waiting``
#: by the importing facility's key, inside the body too (ledger/shipments.py).
PUBLIC_WRITES = frozenset(
    {
        "/api/v1/verify",
        "/api/v1/log/cosignatures",
        "/api/v1/confirmations",
        "/api/v1/shipments/waiting",
        "/add-checkpoint",
        "/login",
        "/logout",
        "/verify",
    }
)


def limit_of(method: str, path: str) -> int:
    return LIMITS.get((method, path), DEFAULT_LIMIT)


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def chunked(scope: Scope) -> bool:
    return any(name == b"transfer-encoding" for name, _ in scope.get("headers", ()))


def too_large(limit: int) -> str:
    return f"the request body is larger than this endpoint accepts ({limit} bytes)"


class BodyLimits:
    """The ASGI middleware (outermost of the app's own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        length = declared_length(scope)
        carries_body = (length is None and chunked(scope)) or bool(length)
        if carries_body and path not in PUBLIC_WRITES and not has_credentials(scope):
            response = problem(
                401,
                "unauthenticated",
                "Authentication required",
                f"{method} {path} needs a participant's bearer token",
                "authorization",
            )
            await response(scope, receive, send)
            return
        limit = limit_of(method, path)
        if length is not None and length > limit:
            response = problem(413, "too-large", "Request too large", too_large(limit), "body")
            response.headers["Connection"] = "close"  # the unread body is not drained
            await response(scope, receive, send)
            return
        if length is not None or not carries_body:
            await self.app(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # FastAPI passes an HTTPException through its body reader
                    raise HTTPException(413, too_large(limit))
            return message

        await self.app(scope, counted, send)
