"""The origin fingerprint over the API: assays (CSV, as labs report them) against the deposit library,
and a declared origin tested (docs/fingerprint.md)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, JsonValue

from raretrace.fingerprint import check_samples, parse_assay_csv
from raretrace.fingerprint.declared import Blend, Candidate
from raretrace.render.jsonable import jsonable
from raretrace.server.access import require_participant
from raretrace.server.deps import Caller
from raretrace.server.problems import responses

router = APIRouter(prefix="/api/v1", tags=["fingerprint"], responses=responses(401, 403, 422))


class FingerprintRequest(BaseModel):
    csv: str = Field(min_length=1, max_length=4_000_000, description="Assays, one sample a row")
    declared: str | None = Field(default=None, max_length=100, description="A deposit or ISO country")
    form: str | None = Field(default=None, max_length=50, description="Form of every sample")


class SampleResult(BaseModel):
    """One sample's answer: its CSV row and id, then ``fingerprint.declared.FingerprintResult``."""

    row: int
    sample: str
    form: str
    declared: str | None
    status: str | None = Field(description="consistent, inconsistent or indeterminate; null if none declared")
    basis: str
    candidates: list[Candidate]
    unknown: bool
    p_value: float | None
    likelihood_ratio: float | None
    tested_deposits: list[str]
    features_used: list[str]
    features_missing: list[str]
    features_ignored: dict[str, str]
    false_rejection_rate: float
    explanation: str
    descriptors: dict[str, JsonValue] | None = None
    mixture: Blend | None = None


class Fingerprints(BaseModel):
    samples: list[SampleResult]


@router.post(
    "/fingerprint",
    response_model=Fingerprints,
    summary="Origin fingerprint of assays against the deposit library",
)
def fingerprint(body: FingerprintRequest, caller: Caller) -> JSONResponse:
    require_participant(caller, action="fingerprinting assays")
    samples = parse_assay_csv(body.csv, default_form=body.form)
    results = check_samples(samples, body.declared)
    answers = [
        {"row": s.row, "sample": s.sample_id, **r.to_dict()} for s, r in zip(samples, results, strict=True)
    ]
    return JSONResponse({"samples": jsonable(answers)})
