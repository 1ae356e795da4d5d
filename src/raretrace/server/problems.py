"""One JSON error shape for every failure: RFC 9457 problem details (``application/problem+json``).

``{"type", "title", "status", "detail", "field", "errors"?}`` — for the registry's own errors (each
class has its status), for request validation (FastAPI's 422, with every failing field listed in
``errors``), for the framework's 404/405, for a database that fails under a request (503 with
``Retry-After``: it is down or restarting, not the request at fault) and for anything unexpected (500,
without internals).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from raretrace import errors
from raretrace.server.access import AuthenticationError

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://raretrace.dev/problems/"
log = logging.getLogger("raretrace.server")
#: Seconds a client is asked to wait (``Retry-After``) when the database failed under its request: a
#: restarting PostgreSQL answers again within seconds.
RETRY_AFTER_S = 1
#: What a read is told when the database failed under it (a write is told what became of it:
#: ``store.db.write_transaction``).
DATABASE_FAILED = "the registry's database did not answer (it may be restarting): try again shortly"

#: error class -> (HTTP status, problem type slug, title); the first matching class wins.
STATUS: tuple[tuple[type[errors.RaretraceError], int, str, str], ...] = (
    (AuthenticationError, 401, "unauthenticated", "Authentication required"),
    (errors.AuthorizationError, 403, "forbidden", "Forbidden"),
    (errors.NotFoundError, 404, "not-found", "Not found"),
    (errors.DuplicateError, 409, "duplicate", "Already exists"),
    (errors.CustodyError, 409, "custody", "Custody conflict"),
    (errors.MassBalanceError, 422, "mass-balance", "Mass balance broken"),
    (errors.SignatureError, 422, "signature", "Signature not valid"),
    (errors.ProofError, 422, "proof", "Proof does not verify"),
    (errors.ValidationError, 422, "invalid", "Invalid input"),
    (errors.UnavailableError, 503, "unavailable", "Registry storage unavailable"),
    (errors.StoreError, 503, "store", "Registry storage unavailable"),
    (errors.RaretraceError, 400, "bad-request", "Bad request"),
)


class FieldProblem(BaseModel):
    field: str | None = None
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details, with the field at fault when there is one."""

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[FieldProblem] | None = None


def problem(
    status: int, slug: str, title: str, detail: str, field: str | None = None, **extra: object
) -> JSONResponse:
    body: dict[str, object] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "field": field,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": 'Bearer realm="raretrace"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def classify(error: errors.RaretraceError) -> tuple[int, str, str]:
    for cls, status, slug, title in STATUS:
        if isinstance(error, cls):
            return status, slug, title
    return 400, "bad-request", "Bad request"  # pragma: no cover - RaretraceError is last above


def from_error(error: errors.RaretraceError) -> JSONResponse:
    status, slug, title = classify(error)
    detail = f"{error.context}: {error.message}" if error.context else error.message
    response = problem(status, slug, title, detail, error.field)
    if isinstance(error, errors.UnavailableError):
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


_HTTP_SLUGS = {
    404: "not-found",
    405: "method-not-allowed",
    413: "too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
}


def _loc(loc: Iterable[object]) -> str:
    return ".".join(str(part) for part in loc)


def install(app: FastAPI, unavailable: tuple[type[Exception], ...]) -> None:
    """Route every failure through ``problem``; ``unavailable``: the exceptions by which the database
    says it cannot serve now (``store.db.unavailable_errors``)."""

    async def on_raretrace(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, errors.RaretraceError)
        if isinstance(exc, errors.UnavailableError):
            log.warning("the database failed on %s %s: %s", request.method, request.url.path, exc.message)
        return from_error(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        items = [
            {"field": _loc(e.get("loc", ())), "detail": str(e.get("msg", "invalid"))} for e in exc.errors()
        ]
        first = items[0] if items else {"field": None, "detail": "invalid request"}
        return problem(422, "invalid", "Invalid input", str(first["detail"]), first["field"], errors=items)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug = _HTTP_SLUGS.get(exc.status_code, "http-error")
        title = slug.replace("-", " ").capitalize()
        response = problem(exc.status_code, slug, title, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    async def on_too_deep(_: Request, exc: Exception) -> JSONResponse:
        # JSON nested beyond the standard reader's depth, wherever it was read: the input's fault
        return from_error(errors.too_deep())

    async def on_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("the database failed on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return from_error(errors.UnavailableError(DATABASE_FAILED, field="db"))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem(500, "internal", "Internal error", "the server failed; the error was logged")

    app.add_exception_handler(errors.RaretraceError, on_raretrace)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RecursionError, on_too_deep)
    for kind in unavailable:
        app.add_exception_handler(kind, on_unavailable)
    app.add_exception_handler(Exception, on_unexpected)


def _content() -> dict[str, object]:
    return {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:  # FastAPI's own type for `responses`
    """OpenAPI ``responses`` entries declaring the problem shape for these statuses (400, 401, 404,
    413, 422, 429 and 503 always: a body that is not JSON, a bad token, a missing resource, a body over
    the endpoint's bound, invalid parameters, the rate limits and a database failing under the request
    can reach any operation)."""
    statuses = tuple(sorted({400, 401, 404, 413, 422, 429, 503, *statuses}))
    descriptions = {
        400: "Bad request",
        401: "No or invalid bearer token",
        403: "The caller's role does not allow this",
        404: "Not found (or not visible to the caller)",
        409: "Conflicts with the registry's state",
        413: "Request too large",
        422: "Invalid input",
        429: "Too many requests (see Retry-After)",
        503: "Storage unavailable",
    }
    return {
        s: {"description": descriptions.get(s, "Error"), "model": Problem, "content": _content()}
        for s in statuses
    }
