"""``GET /healthz`` (liveness) and ``GET /readyz`` (readiness), for orchestrators and load balancers.

Liveness says only that the process answers: restarting it would not help with anything else.
Readiness says whether this server can do its job now: the database answers, its schema is the one
this code expects (an older one must be upgraded first), and the registry's signing key is loaded
(a key kept outside the database that cannot be read means no checkpoint or certificate can be
signed). Each check is reported by name with the reason when it fails; 503 when any fails. Both are
public and say nothing a caller could not learn from ``/checkpoint``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from raretrace.errors import RaretraceError
from raretrace.ledger.registry import Registry
from raretrace.store.db import SCHEMA_REVISION, schema_revision

router = APIRouter(tags=["operations"])
NO_STORE = {"Cache-Control": "no-store"}


def readiness(registry: Registry) -> dict[str, dict[str, Any]]:
    """Each check's outcome: ``{"ok": bool, …details or the reason}``."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        with registry.engine.connect() as conn:
            revision = schema_revision(conn)
    except (SQLAlchemyError, OSError) as e:  # the driver's failure, said, not raised
        checks["database"] = {"ok": False, "reason": f"{type(e).__name__}: not reachable"}
        checks["schema"] = {"ok": False, "reason": "database not reachable", "expected": SCHEMA_REVISION}
    else:
        checks["database"] = {"ok": True}
        checks["schema"] = {
            "ok": revision == SCHEMA_REVISION,
            "revision": revision,
            "expected": SCHEMA_REVISION,
        }
        if revision != SCHEMA_REVISION:
            checks["schema"]["reason"] = "run `raretrace upgrade` on this database"
    try:
        registry.signer  # noqa: B018 -- loads a key kept outside the database, or raises saying why
    except RaretraceError as e:
        checks["key"] = {"ok": False, "reason": e.message}
    else:
        checks["key"] = {"ok": True}
    return checks


@router.get("/healthz", summary="Liveness: the server process answers")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "alive"}, headers=NO_STORE)


@router.get("/readyz", summary="Readiness: database reachable, schema current, signing key loaded")
def readyz(request: Request) -> JSONResponse:
    checks = readiness(request.app.state.registry)
    ready = all(check["ok"] for check in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503, headers=NO_STORE)
