"""The rest of what the CLI does, over the API: trusting another member's registry, the period
statistics members reconcile and the origin fingerprint of assays (the economics of secure supply live
with the other world analytics in ``api_world``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from raretrace.errors import ValidationError
from raretrace.fingerprint import check_samples, parse_assay_csv
from raretrace.ledger.federation import statistics
from raretrace.ledger.trust import trust_registry
from raretrace.server.access import require, require_participant
from raretrace.server.deps import Caller, RegistryDep
from raretrace.server.problems import responses

router = APIRouter(prefix="/api/v1", tags=["federation and analytics"], responses=responses(401, 403, 422))


class TrustRequest(BaseModel):
    trusted_keys: dict[str, Any] = Field(description="The other registry's trusted-keys document")
    witness_threshold: int | None = Field(default=None, ge=0, le=100)


@router.post("/trusted-registries", status_code=201, summary="Trust another member's registry for imports")
def trust(body: TrustRequest, registry: RegistryDep, caller: Caller) -> dict[str, Any]:
    """Secretariat only: its certificates can then bring lots into this registry (import events)."""
    require(caller, "secretariat", action="trusting registries")
    issuers = trust_registry(registry.engine, body.trusted_keys, witness_threshold=body.witness_threshold)
    return {"trusted": issuers}


@router.get("/stats", summary="Production, certified exports and imports for a period")
def stats(
    registry: RegistryDep,
    caller: Caller,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
) -> dict[str, Any]:
    """What members exchange to reconcile (auditor, secretariat): it covers every participant."""
    require(caller, "auditor", "secretariat", action="reading registry statistics")
    if end < start:
        raise ValidationError("the period ends before it starts", field="to")
    return statistics(registry, start, end)


class FingerprintRequest(BaseModel):
    csv: str = Field(min_length=1, max_length=4_000_000, description="Assays, one sample a row")
    declared: str | None = Field(default=None, max_length=100, description="A deposit or ISO country")
    form: str | None = Field(default=None, max_length=50, description="Form of every sample")


@router.post("/fingerprint", summary="Origin fingerprint of assays against the deposit library")
def fingerprint(body: FingerprintRequest, caller: Caller) -> dict[str, Any]:
    require_participant(caller, action="fingerprinting assays")
    samples = parse_assay_csv(body.csv, default_form=body.form)
    results = check_samples(samples, body.declared)
    return {
        "samples": [
            {"row": s.row, "sample": s.sample_id, **r.to_dict()}
            for s, r in zip(samples, results, strict=True)
        ]
    }
