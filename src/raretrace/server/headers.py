"""Security headers on every response: a Content-Security-Policy on pages, and ``Cache-Control:
no-store`` on API answers to a caller with credentials (a shared cache must never keep one
participant's lots for the next).

The pages' only scripts are plotly.js (served from ``/static``) and the inline ``<script>`` blocks
that draw each chart. The policy allows scripts from this origin and exactly those inline blocks, by
their SHA-256 hashes (CSP Level 3 hash sources), computed from each page as it is sent; nothing else
inline runs, and nothing from another origin loads. Styles may be inline (plotly sets them).
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from raretrace.server.ratelimit import has_credentials

_INLINE = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
POLICY = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def policy_for(html: bytes) -> str:
    """The page's CSP: its inline scripts allowed by hash, nothing else inline."""
    hashes = sorted(
        {
            "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
            for m in _INLINE.finditer(html)
        }
    )
    return POLICY.format(hashes="".join(" " + h for h in hashes))


class SecurityHeaders:
    """The ASGI middleware. HTML responses are held until complete (to hash their scripts); others
    pass through as they are sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = scope["path"].startswith("/api/") and has_credentials(scope)
        start: Message | None = None
        chunks: list[bytes] = []

        async def sending(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if private:
                    headers["Cache-Control"] = "no-store"
                if headers.get("content-type", "").startswith("text/html"):
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            html = b"".join(chunks)
            MutableHeaders(scope=start)["Content-Security-Policy"] = policy_for(html)
            await send(start)
            await send({"type": "http.response.body", "body": html})

        await self.app(scope, receive, sending)
