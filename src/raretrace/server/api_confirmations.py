"""Shipments between members' registries: the certificate kept for the importer to fetch, and the
signed import confirmations that come back (the Kimberley scheme's confirmation step).

``POST /api/v1/shipments`` issues a transfer's certificate (as ``POST /api/v1/certificates``, same rules)
and keeps it for the receiving facility; ``POST /api/v1/shipments/waiting`` answers that facility's
signed request (``ledger.shipments``). Confirmations are open to anyone, like cosignatures: only one
signed by the log key of a registry this one trusts, proving an import of a certificate this registry
issued, is kept (``ledger.confirmations``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from raretrace.jsontypes import JSONObject
from raretrace.ledger.certificates import DEFAULT_VALIDITY_DAYS
from raretrace.ledger.confirmations import HeldConfirmation, Recorded, record_confirmation, recorded
from raretrace.ledger.shipments import keeping_for_importer, waiting_for
from raretrace.render.jsonable import jsonable
from raretrace.server.access import require
from raretrace.server.api_certificates import IssueRequest, issue_for
from raretrace.server.deps import Caller, RegistryDep
from raretrace.server.problems import responses

router = APIRouter(tags=["consortium"], responses=responses(401, 403, 404, 409, 422))

_DSSE_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
}


class Presentation(BaseModel):
    """A certificate as the holder passes it on: the signed credential and its disclosures."""

    credential: dict[str, object]
    disclosures: list[object] = Field(default_factory=list)


class ShipRequest(BaseModel):
    transfer: str = Field(max_length=200, description="The transfer event the certificate covers")
    valid_days: int = Field(default=DEFAULT_VALIDITY_DAYS, ge=1, le=3650)


@router.post(
    "/api/v1/shipments",
    status_code=201,
    response_model=Presentation,
    summary="Certify a shipment to another member and keep the certificate for its importer to fetch",
)
def ship(body: ShipRequest, registry: RegistryDep, caller: Caller) -> JSONObject:
    request = IssueRequest(transfer=body.transfer, valid_days=body.valid_days)
    return issue_for(registry, caller, request, also=keeping_for_importer(registry, body.transfer)).to_dict()


@router.post(
    "/api/v1/shipments/waiting",
    response_model=list[Presentation],
    summary="The certificates kept for a facility, asked for with a request its key signed (public)",
    openapi_extra=_DSSE_BODY,
)
async def waiting(request: Request, registry: RegistryDep) -> list[JSONObject]:
    raw = await request.body()
    return await run_in_threadpool(waiting_for, registry, raw)


@router.post(
    "/api/v1/confirmations",
    status_code=201,
    response_model=Recorded,
    summary="Record a signed import confirmation of a certificate this registry issued",
    responses={200: {"description": "already recorded (sending again is harmless)", "model": Recorded}},
    openapi_extra=_DSSE_BODY,
)
async def confirm(request: Request, registry: RegistryDep) -> JSONResponse:
    raw = await request.body()
    result = await run_in_threadpool(record_confirmation, registry, raw)
    return JSONResponse(jsonable(result), status_code=201 if result.new else 200)


@router.get(
    "/api/v1/confirmations",
    response_model=list[HeldConfirmation],
    summary="Import confirmations received (auditor, secretariat)",
)
def confirmations(registry: RegistryDep, caller: Caller) -> list[HeldConfirmation]:
    require(caller, "auditor", "secretariat", action="reading import confirmations")
    return recorded(registry)
