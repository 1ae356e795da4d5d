"""``GET /healthz`` (liveness) and ``GET /readyz`` (readiness), for orchestrators and load balancers.

Liveness says only that the process answers: restarting it would not help with anything else.
Readiness says whether this server can do its job now: the database answers, its schema is the one
this code expects (an older one must be upgraded first), and the registry's signing key is loaded
(a key kept outside the database that cannot be read means no checkpoint or certificate can be
signed). Each check is reported by name with the reason when it fails; 503 when any fails. Both are
public and say nothing a caller could not learn from ``/checkpoint``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from raretrace.errors import RaretraceError
from raretrace.jsontypes import JSONObject
from raretrace.ledger.registry import Registry
from raretrace.store.db import SCHEMA_REVISION
from raretrace.store.health import UnreachableError, current_revision

router = APIRouter(tags=["operations"])
NO_STORE = {"Cache-Control": "no-store"}


class Liveness(BaseModel):
    status: str = Field(description='"alive"')


class Check(BaseModel):
    ok: bool
    reason: str | None = Field(default=None, description="why the check failed")
    revision: str | None = Field(default=None, description="the schema revision found (schema check)")
    expected: str | None = Field(default=None, description="the revision this code needs (schema check)")


class Readiness(BaseModel):
    status: str = Field(description='"ready" or "not ready"')
    checks: dict[str, Check] = Field(description="database, schema and key, each with its outcome")


def readiness(registry: Registry) -> dict[str, JSONObject]:
    """Each check's outcome: ``{"ok": bool, …details or the reason}``."""
    checks: dict[str, JSONObject] = {}
    try:
        revision = current_revision(registry.engine)
    except UnreachableError as e:  # the driver's failure, said, not raised
        checks["database"] = {"ok": False, "reason": f"{e.kind}: not reachable"}
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
    if not checks["database"]["ok"]:  # the database names the current key (a rotation changes it)
        checks["key"] = {"ok": False, "reason": "not checked: the database is not reachable"}
        return checks
    try:
        registry.signer  # noqa: B018 -- loads a key kept outside the database, or raises saying why
    except RaretraceError as e:
        checks["key"] = {"ok": False, "reason": e.message}
    else:
        checks["key"] = {"ok": True}
    return checks


@router.get("/healthz", summary="Liveness: the server process answers", response_model=Liveness)
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "alive"}, headers=NO_STORE)


@router.get(
    "/readyz",
    summary="Readiness: database reachable, schema current, signing key loaded",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: a check failed"}},
)
def readyz(request: Request) -> JSONResponse:
    checks = readiness(request.app.state.registry)
    ready = all(check["ok"] for check in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503, headers=NO_STORE)
