"""Certificates: issue (operators for what they hold or ship), read, revoke (secretariat), the status
list and trusted keys (public), and verification in eight steps (public)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, JsonValue, WithJsonSchema

from raretrace.certify.credential import Presentation
from raretrace.certify.verify import TrustedKeys, load_presentation, verify_certificate
from raretrace.errors import NotFoundError
from raretrace.jsontypes import JSONObject
from raretrace.ledger import certificates as certs
from raretrace.ledger.participants import Principal
from raretrace.ledger.registry import Registry
from raretrace.render.jsonable import jsonable
from raretrace.server.access import require, require_holds, require_participant, visible_lots
from raretrace.server.certificate_schemas import (
    IssuedCertificate,
    StatusListCredential,
    TrustedKeysFile,
    typed_json,
)
from raretrace.server.deps import Caller, RegistryDep
from raretrace.server.problems import responses
from raretrace.server.redact import redact_certificate
from raretrace.server.schemas import CertificateSummary
from raretrace.times import parse_instant

router = APIRouter(tags=["certificates"], responses=responses(401, 403, 404, 409, 422))


class IssueRequest(BaseModel):
    transfer: str | None = Field(default=None, max_length=200, description="A transfer event id")
    lots: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=1000)
    valid_days: int = Field(default=certs.DEFAULT_VALIDITY_DAYS, ge=1, le=3650)


def issue_for(
    registry: Registry,
    caller: Principal,
    request: IssueRequest,
    also: certs.InTransaction | None = None,
) -> Presentation:
    """The secretariat certifies anything; an operator its own shipments and the lots it holds.
    ``also``: see ``certificates.issue``."""
    require(caller, "operator", "secretariat", action="issuing certificates")
    if caller.role == "operator":
        with registry.engine.connect() as conn:
            if request.transfer is not None:
                sender = registry.store.transfer_sender(conn, request.transfer)
                if sender is None or sender not in caller.facilities:
                    # the same answer for a missing transfer and another participant's
                    raise NotFoundError(
                        f"no transfer {request.transfer} sent by your facilities", field="transfer"
                    )
            else:
                require_holds(conn, caller, request.lots, action="certifying")
    return certs.issue(
        registry, transfer=request.transfer, lots=request.lots, valid_days=request.valid_days, also=also
    )


@router.post(
    "/api/v1/certificates",
    status_code=201,
    response_model=IssuedCertificate,
    summary="Issue a signed shipment certificate",
)
def issue(body: IssueRequest, registry: RegistryDep, caller: Caller) -> JSONResponse:
    """Returns ``{credential, disclosures}``; pass it on whole or with fields hidden."""
    return typed_json(issue_for(registry, caller, body), status_code=201)


def certificate_for(registry: Registry, caller: Principal, certificate: str) -> JSONObject:
    require_participant(caller, action="reading certificates")
    record = certs.certificate(registry, certificate)
    visible: set[str] | None = None
    if record is not None and not caller.sees_everything:
        with registry.engine.connect() as conn:
            visible = visible_lots(conn, caller, list(record.lots))
        if not visible:
            record = None
    if record is None:
        raise NotFoundError(f"no certificate {certificate} visible to you", field="certificate")
    summary = jsonable(record)
    assert isinstance(summary, dict)  # a dataclass is a JSON object
    shown: JSONObject = {**summary, "credential": json.loads(record.credential)}
    return shown if visible is None else redact_certificate(shown, visible)


@router.get(
    "/api/v1/certificates/{certificate}",
    summary="A certificate as issued (concealed fields)",
    response_model=CertificateSummary,
    response_model_exclude_unset=True,
)
def get_certificate(certificate: str, registry: RegistryDep, caller: Caller) -> JSONObject:
    return certificate_for(registry, caller, certificate)


class RevokeRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


@router.post(
    "/api/v1/certificates/{certificate}/revoke",
    response_model=certs.Revocation,
    summary="Revoke a certificate (secretariat)",
)
def revoke(certificate: str, body: RevokeRequest, registry: RegistryDep, caller: Caller) -> JSONResponse:
    require(caller, "secretariat", action="revoking certificates")
    return typed_json(certs.revoke(registry, certificate, body.reason))


@router.get(
    "/status/1",
    response_model=StatusListCredential,
    summary="The signed Bitstring Status List of revoked certificates (public)",
)
def status_list(registry: RegistryDep) -> JSONResponse:
    return typed_json(certs.status_list(registry))


@router.get(
    "/trusted-keys",
    response_model=TrustedKeysFile,
    summary="What a verifier needs to trust this registry (public)",
)
def trusted_keys(registry: RegistryDep) -> JSONResponse:
    return typed_json(certs.trusted_keys(registry))


class VerifyRequest(BaseModel):
    certificate: dict[str, JsonValue] = Field(
        description="The certificate as received: {credential, disclosures}"
    )
    trusted_keys: dict[str, JsonValue] | None = Field(default=None, description="Default: this registry's")
    status_list: dict[str, JsonValue] | None = Field(
        default=None, description="Default: this registry's current"
    )
    witness_threshold: int = Field(default=0, ge=0, le=100)
    at: Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})] | None = Field(
        default=None,
        description="Judge validity at this instant: RFC 3339 with its offset (Z or +hh:mm); default now",
    )


class StepOut(BaseModel):
    step: int
    name: str
    ok: bool | None
    detail: str


class VerifyReport(BaseModel):
    ok: bool
    steps: list[StepOut]
    hidden_fields: int
    certificate: str | None = None


def verify_for(registry: Registry, request: VerifyRequest) -> JSONObject:
    moment = None if request.at is None else parse_instant(request.at, "at")  # the option first: cheap
    presentation = load_presentation(request.certificate)
    trusted = TrustedKeys.from_dict(request.trusted_keys or certs.trusted_keys(registry))
    listing = request.status_list if request.status_list is not None else certs.status_list(registry)
    report = verify_certificate(
        presentation, trusted, status_list=listing, witness_threshold=request.witness_threshold, now=moment
    )
    return report.to_dict()


@router.post(
    "/api/v1/verify",
    response_model=VerifyReport,
    summary="Verify a certificate in eight steps (public; nothing is written)",
)
def verify(body: VerifyRequest, registry: RegistryDep) -> JSONObject:
    """``ok`` is true only if every step passes; each step says why."""
    return verify_for(registry, body)
