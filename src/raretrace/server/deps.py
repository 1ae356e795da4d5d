"""Request dependencies: the registry the app serves, and who is calling.

A caller is identified by ``Authorization: Bearer <token>`` (API clients) or by the web UI's
``raretrace_session`` cookie, which holds the same token (HttpOnly, SameSite=Strict). No header and no
cookie: the public. A token that names no live participant is refused (401), never downgraded to the
public, so a revoked client notices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool

from raretrace.ledger.participants import ANONYMOUS, Principal, authenticate
from raretrace.ledger.registry import Registry
from raretrace.server.access import AuthenticationError
from raretrace.server.settings import Settings
from raretrace.store.reading import reading, reread_if_lost

T = TypeVar("T")
P = ParamSpec("P")
SESSION_COOKIE = "raretrace_session"
BEARER_DESCRIPTION = "A participant's API token (raretrace participant token)"


async def get_registry(request: Request) -> Registry:
    registry = request.app.state.registry
    assert isinstance(registry, Registry)
    return registry


async def get_settings(request: Request) -> Settings:
    settings = request.app.state.settings
    assert isinstance(settings, Settings)
    return settings


def token_principal(registry: Registry, token: str) -> Principal:
    with reading(registry.engine, one_statement=True) as conn:
        principal = authenticate(conn, token)
    if principal is None:
        raise AuthenticationError("the token is unknown, expired or revoked", field="authorization")
    return principal


def request_token(request: Request) -> str | None:
    """The bearer token of ``Authorization: Bearer …``, else the session cookie's (as HTTPBearer reads
    the header: any other scheme counts as no header)."""
    scheme, credentials = get_authorization_scheme_param(request.headers.get("Authorization"))
    if scheme and credentials and scheme.lower() == "bearer":
        return credentials
    return request.cookies.get(SESSION_COOKIE) or None


async def get_principal(request: Request) -> Principal:
    """The token lookup is one indexed read on the fast DB-API path: on SQLite it runs on the event
    loop, on the loop's own connection (``reads``; ~11 µs measured); on a server database, where it
    is a network round trip, in the thread pool."""
    token = request_token(request)
    if not token:
        return ANONYMOUS
    registry = await get_registry(request)
    if registry.engine.dialect.name == "sqlite":
        return token_principal(registry, token)
    return await in_thread(registry, token_principal, registry, token)


class BearerCaller(HTTPBearer):
    """The caller, as one dependency that is also the OpenAPI document's ``HTTPBearer`` scheme.

    Every request resolves it, and FastAPI's cost per dependency is more than the token lookup itself,
    so it replaces a chain of three (the bearer header, the registry, the principal); ``scheme_name``
    keeps the document as it was. Dependencies are async so that FastAPI does not hand each to the
    thread pool (measured: the hops cost more than the lookups)."""

    def __init__(self, *, web: bool = False) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer", description=BEARER_DESCRIPTION)
        self.web = web

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]  # narrows HTTPBearer's optional credentials to a principal
        if not self.web:
            return await get_principal(request)
        try:
            return await get_principal(request)
        except AuthenticationError:
            # a page whose session cookie holds a revoked or expired token is a logged-out browser
            # (the page offers the login form), not a JSON 401
            return ANONYMOUS


async def quick(registry: Registry, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a short read (a trace, a lot, a tile: well under a millisecond on SQLite) on the event loop
    when the database is SQLite, where the work is CPU in this process and handing it to a thread
    costs more than doing it (GIL hand-offs with a dozen busy threads measured ~1 ms a request); in
    the thread pool when it is a server database, where it waits on the network."""
    if registry.engine.dialect.name == "sqlite":
        return fn(*args, **kwargs)
    return await in_thread(registry, fn, *args, **kwargs)


async def in_thread(registry: Registry, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """A read in the thread pool, made once more if the database connection it took turned out lost
    (``store.reading.reread_if_lost``): never for a write."""

    def made() -> T:
        return reread_if_lost(registry.engine, read, *args, **kwargs)

    return await run_in_threadpool(made)


RegistryDep = Annotated[Registry, Depends(get_registry)]
Caller = Annotated[Principal, Depends(BearerCaller())]
WebCaller = Annotated[Principal, Depends(BearerCaller(web=True))]
SettingsDep = Annotated[Settings, Depends(get_settings)]
