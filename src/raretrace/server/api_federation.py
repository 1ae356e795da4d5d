"""Between member registries: trusting another member's registry for imports, and the period statistics
members exchange to reconcile (docs/consortium.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, JsonValue

from raretrace.errors import ValidationError
from raretrace.ledger.federation import statistics
from raretrace.ledger.trust import trust_registry
from raretrace.server.access import require
from raretrace.server.deps import Caller, RegistryDep
from raretrace.server.problems import responses

router = APIRouter(prefix="/api/v1", tags=["federation"], responses=responses(401, 403, 422))


class TrustRequest(BaseModel):
    trusted_keys: dict[str, JsonValue] = Field(description="The other registry's trusted-keys document")
    witness_threshold: int | None = Field(default=None, ge=0, le=100)


class Trusted(BaseModel):
    trusted: list[str] = Field(description="The issuer DIDs now trusted for imports")


class Statistics(BaseModel):
    """One registry's production, certified exports and imports for a period: the document members
    sign and reconcile (``raretrace stats``; docs/consortium.md)."""

    registry: str
    issuer: str
    period: dict[str, str] = Field(description='{"from": YYYY-MM-DD, "to": YYYY-MM-DD}, both inclusive')
    production_kg: dict[str, JsonValue] = Field(description="Recorded production by element (and by form)")
    exports: list[dict[str, JsonValue]] = Field(description="Each certified shipment out, as certified")
    imports: list[dict[str, JsonValue]] = Field(description="Each certified shipment in, as confirmed")


@router.post(
    "/trusted-registries",
    status_code=201,
    response_model=Trusted,
    summary="Trust another member's registry for imports",
)
def trust(body: TrustRequest, registry: RegistryDep, caller: Caller) -> Trusted:
    """Secretariat only: its certificates can then bring lots into this registry (import events)."""
    require(caller, "secretariat", action="trusting registries")
    issuers = trust_registry(registry.engine, body.trusted_keys, witness_threshold=body.witness_threshold)
    return Trusted(trusted=issuers)


@router.get(
    "/stats", response_model=Statistics, summary="Production, certified exports and imports for a period"
)
def stats(
    registry: RegistryDep,
    caller: Caller,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
) -> JSONResponse:
    """What members exchange to reconcile (auditor, secretariat): it covers every participant."""
    require(caller, "auditor", "secretariat", action="reading registry statistics")
    if end < start:
        raise ValidationError("the period ends before it starts", field="to")
    return JSONResponse(statistics(registry, start, end))
