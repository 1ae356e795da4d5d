"""Import confirmations from other members' registries (the exporting side of the confirmation step).

Open to anyone, like cosignatures: only a confirmation signed by the log key of a registry this one
trusts, proving an import of a certificate this registry issued, is kept (``ledger.confirmations``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from raretrace.ledger.confirmations import record_confirmation, recorded
from raretrace.server.access import require
from raretrace.server.deps import Caller, RegistryDep
from raretrace.server.problems import responses

router = APIRouter(tags=["consortium"], responses=responses(401, 403, 404, 409, 422))


@router.post(
    "/api/v1/confirmations",
    status_code=201,
    summary="Record a signed import confirmation of a certificate this registry issued",
    responses={200: {"description": "already recorded (sending again is harmless)"}},
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    },
)
async def confirm(request: Request, registry: RegistryDep) -> JSONResponse:
    raw = await request.body()
    result = await run_in_threadpool(record_confirmation, registry, raw)
    return JSONResponse(result.to_dict(), status_code=201 if result.new else 200)


@router.get("/api/v1/confirmations", summary="Import confirmations received (auditor, secretariat)")
def confirmations(registry: RegistryDep, caller: Caller) -> list[dict[str, Any]]:
    require(caller, "auditor", "secretariat", action="reading import confirmations")
    return recorded(registry)
