"""The app factory: ``create_app(settings)`` opens the registry, checks the secrets, mounts the API
routers, the log endpoints and the web pages, and installs the one error shape."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from raretrace.crypto.verifier_pool import VerifierPool
from raretrace.errors import StoreError
from raretrace.ledger.participants import has_live_secretariat
from raretrace.ledger.registry import Registry
from raretrace.server import (
    api_admin,
    api_certificates,
    api_confirmations,
    api_events,
    api_federation,
    api_fingerprint,
    api_log,
    api_lots,
    api_search,
    api_witness,
    api_world,
    apidocs,
    health,
    problems,
    web,
)
from raretrace.server.bodylimits import BodyLimits
from raretrace.server.group_commit import GroupCommit
from raretrace.server.headers import SecurityHeaders
from raretrace.server.ratelimit import Rate, RateLimits
from raretrace.server.ratestore import open_store
from raretrace.server.settings import RATE_PER_ADDRESS, RATE_PER_TOKEN, Settings
from raretrace.store import reading as reads
from raretrace.store.db import make_engine, unavailable_errors

WORKER_THREADS = 12
#: A server database's pooled connections: one for each worker thread (each handler holds at most one
#: at a time, the group commit's writer is one of the threads) and two to spare, so none is opened and
#: closed again per request (``store.db.make_engine``).
POOLED_CONNECTIONS = WORKER_THREADS + 2
NO_SECRETS = (
    "the server has no credentials configured: no secretariat participant holds a live token. Create "
    "one with `raretrace --db DB participant add --id secretariat --name NAME --role secretariat` and "
    "`raretrace --db DB participant token secretariat`, or run with --dev on your own machine"
)


def open_registry(settings: Settings) -> Registry:
    return Registry(make_engine(settings.db, must_exist=True, connections=POOLED_CONNECTIONS))


def create_app(settings: Settings, *, registry: Registry | None = None) -> FastAPI:
    """An app serving one registry. Refuses (StoreError) without a live secretariat token unless dev."""
    registry = registry or open_registry(settings)
    if not settings.dev and not has_live_secretariat(registry.engine):
        raise StoreError(NO_SECRETS, field="secrets")
    group = GroupCommit(registry) if settings.group_commit else None
    app = FastAPI(
        title=settings.title,
        version="1",
        description="A consortium registry of signed rare-earth custody events: submit events, read "
        "your lots, trace, check compliance, issue and verify certificates, read the log as C2SP "
        "tlog-tiles. Errors are RFC 9457 problem details.",
        lifespan=_lifespan(settings, registry, group),
        docs_url=None,  # /docs and /redoc are apidocs': from an installed package, no CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.registry = registry
    app.state.group_commit = group
    problems.install(app, unavailable_errors(registry.engine))
    # outermost last: rates first, then body bounds (before any body is read), then the headers
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimits)
    app.add_middleware(
        RateLimits,
        per_token=Rate(settings.rate_per_token, 2 * settings.rate_per_token),
        per_address=Rate(settings.rate_per_address, 2 * settings.rate_per_address),
        table=open_store(settings.rate_file, settings.rate_store),
    )
    for module in _API_MODULES:
        app.include_router(module.router)
    web.install(app)
    apidocs.install(app)
    return app


_API_MODULES = (
    api_events,
    api_lots,
    api_certificates,
    api_log,
    api_witness,
    api_admin,
    api_world,
    api_federation,
    api_fingerprint,
    api_confirmations,
    api_search,
    health,
)


def _lifespan(
    settings: Settings, registry: Registry, group: GroupCommit | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What the app starts when it starts serving and stops when it stops: the thread limit, the event
    loop's read connection, the signature verifier processes and the group commit."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Fewer worker threads than pooled connections (POOLED_CONNECTIONS on a server database; on
        # SQLite 5 + 10 overflow, one of them the event loop's own, see store/reading.py), so a handler
        # never waits for a connection.
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        reads.hold(registry.engine)  # the event loop's own read connection (SQLite)
        pool = VerifierPool(settings.signature_workers) if settings.signature_workers > 0 else None
        if pool is not None:
            registry.signature_pool = pool
        if group is not None:
            await group.start()
        try:
            yield
        finally:
            if group is not None:
                await group.stop()
            if pool is not None:
                registry.signature_pool = None
                pool.close()
            reads.release(registry.engine)

    return lifespan


DB_ENV, DEV_ENV = "RARETRACE_DB", "RARETRACE_SERVE_DEV"
RATE_TOKEN_ENV, RATE_ADDRESS_ENV = "RARETRACE_RATE_TOKEN", "RARETRACE_RATE_ADDRESS"
RATE_FILE_ENV = "RARETRACE_RATE_FILE"  # the rate table the workers share, made by `raretrace serve`
RATE_STORE_ENV = "RARETRACE_RATE_STORE"  # or the Redis they share with other machines (serve --rate-store)
SIGNATURE_WORKERS_ENV = "RARETRACE_SIGNATURE_WORKERS"


def app_from_environment() -> FastAPI:
    """The app for each worker process of ``raretrace serve --workers N`` (uvicorn imports it by name,
    so the settings travel in the environment: ``RARETRACE_DB``, ``RARETRACE_SERVE_DEV``, the
    rate limits and the rate table they share)."""
    import os

    dev = os.environ.get(DEV_ENV) == "1"
    app = create_app(
        Settings(
            db=os.environ.get(DB_ENV),
            dev=dev,
            secure_cookies=not dev,
            rate_per_token=float(os.environ.get(RATE_TOKEN_ENV, RATE_PER_TOKEN)),
            rate_per_address=float(os.environ.get(RATE_ADDRESS_ENV, RATE_PER_ADDRESS)),
            rate_file=os.environ.get(RATE_FILE_ENV),
            rate_store=os.environ.get(RATE_STORE_ENV) or None,
            signature_workers=int(os.environ.get(SIGNATURE_WORKERS_ENV) or 0),
        )
    )
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Move everything loaded before serving (modules, compiled statements, regimes, the app) out of
    the garbage collector's generations.

    It lives as long as the process, yet every full collection that requests' garbage triggers would
    walk it again: measured as the tail of submission latency (p99 135-140 ms at 1,100/s; 52 ms with
    this, same benchmark). Only for a serving process: frozen objects are never collected."""
    gc.collect()
    gc.freeze()
