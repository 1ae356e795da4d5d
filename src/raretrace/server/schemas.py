"""Response models of the read routes, so the OpenAPI document says what each answer holds (and the
schema fuzzing checks every answer against it). Fields that are ``hidden`` for some callers are
documented as such (docs/security.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Me(BaseModel):
    id: str | None = Field(description="The participant id; null for the public")
    name: str | None = None
    role: str
    facilities: list[str]


class LotRow(BaseModel):
    id: str
    form: str
    mass_kg: float
    remaining_kg: float | None = Field(description="null when the caller no longer holds the lot")
    custodian: str = Field(description='"hidden" when the caller neither holds nor is receiving the lot')
    in_transit_to: str | None = Field(description='"hidden" as for the custodian')
    producer: str
    stage: str


class LotPage(BaseModel):
    lots: list[LotRow]
    limit: int
    offset: int
    after: str | None = None
    next_after: str | None = Field(default=None, description="Pass as `after` for the next page")


class CertificateSummary(BaseModel):
    id: str
    number: str
    lots: list[str] = Field(description="Lots the caller may not see appear as hidden-N")
    transfer_event: str | None
    issued_at: str
    valid_until: str
    revoked_at: str | None
    revocation_reason: str | None
    credential: dict[str, Any] | None = Field(
        default=None, description="The signed credential; null when it names lots the caller may not see"
    )
    credential_withheld: str | None = None


class LotCertificates(BaseModel):
    certificates: list[CertificateSummary]


class FacilityOut(BaseModel):
    id: str
    name: str
    operator: str
    country: str
    stages: list[str]
    technology: dict[str, str]
    accreditation: str | None


class Facilities(BaseModel):
    facilities: list[FacilityOut]
