"""Request dependencies: the registry the app serves, and who is calling.

A caller is identified by ``Authorization: Bearer <token>`` (API clients) or by the web UI's
``raretrace_session`` cookie, which holds the same token (HttpOnly, SameSite=Strict). No header and no
cookie: the public. A token that names no live participant is refused (401), never downgraded to the
public, so a revoked client notices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from raretrace.ledger.registry import Registry
from raretrace.server.access import AuthenticationError
from raretrace.server.participants import ANONYMOUS, Principal, authenticate
from raretrace.server.settings import Settings

T = TypeVar("T")
SESSION_COOKIE = "raretrace_session"
_bearer = HTTPBearer(auto_error=False, description="A participant's API token (raretrace participant token)")


async def get_registry(request: Request) -> Registry:
    registry = request.app.state.registry
    assert isinstance(registry, Registry)
    return registry


async def get_settings(request: Request) -> Settings:
    settings = request.app.state.settings
    assert isinstance(settings, Settings)
    return settings


def token_principal(registry: Registry, token: str) -> Principal:
    with registry.engine.connect() as conn:
        principal = authenticate(conn, token)
    if principal is None:
        raise AuthenticationError("the token is unknown, expired or revoked", field="authorization")
    return principal


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Dependencies are async so that FastAPI does not hand each to the thread pool (measured: the
    hops cost more than the lookups). The token lookup is one indexed read on the fast DB-API path:
    on SQLite it runs on the event loop (~30 µs); on a server database, where it is a network round
    trip, in the thread pool."""
    token = credentials.credentials if credentials is not None else request.cookies.get(SESSION_COOKIE)
    if not token:
        return ANONYMOUS
    registry = await get_registry(request)
    if registry.engine.dialect.name == "sqlite":
        return token_principal(registry, token)
    return await run_in_threadpool(token_principal, registry, token)


async def quick(registry: Registry, fn: Callable[..., T], *args: Any) -> T:
    """Run a short read (a trace, a lot, a tile: well under a millisecond on SQLite) on the event loop
    when the database is SQLite, where the work is CPU in this process and handing it to a thread
    costs more than doing it (GIL hand-offs with a dozen busy threads measured ~1 ms a request); in
    the thread pool when it is a server database, where it waits on the network."""
    if registry.engine.dialect.name == "sqlite":
        return fn(*args)
    return await run_in_threadpool(fn, *args)


async def get_web_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """For pages: a session cookie whose token was revoked or expired means "logged out" (the page then
    offers the login form) rather than a JSON 401 in the browser."""
    try:
        return await get_principal(request, credentials)
    except AuthenticationError:
        return ANONYMOUS


RegistryDep = Annotated[Registry, Depends(get_registry)]
Caller = Annotated[Principal, Depends(get_principal)]
WebCaller = Annotated[Principal, Depends(get_web_principal)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
