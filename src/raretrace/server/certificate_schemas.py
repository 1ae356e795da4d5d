"""Response models of the certificate and administration routes, so the OpenAPI document says what
each answer holds.

The certificate, the status list and the trusted-keys file are documents in published formats (W3C
VC 2.0, Bitstring Status List, the registry's trust file): the services build them as JSON, and these
models describe their members. Routes that answered without a model before send their body as the
standard JSON writer writes it (``typed_json``), so declaring a model changes no byte of an answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from raretrace.ledger.participants import ParticipantListing
from raretrace.render.jsonable import jsonable


def typed_json(answer: object, status_code: int = 200) -> JSONResponse:
    """A typed answer (a dataclass, or JSON built by a service) as the JSON body FastAPI writes for
    a route without a response model: the route's declared model documents it."""
    return JSONResponse(jsonable(answer), status_code=status_code)


class IssuedCertificate(BaseModel):
    credential: dict[str, JsonValue] = Field(
        description="The signed W3C Verifiable Credential 2.0 (eddsa-jcs-2022), concealed fields as digests"
    )
    disclosures: list[str] = Field(description="One SD-JWT-style disclosure per concealed value")


class StatusListSubject(BaseModel):
    id: str
    type: str
    statusPurpose: str  # noqa: N815 - the W3C member name
    encodedList: str = Field(description="Multibase base64url of the GZIP-compressed bitstring")  # noqa: N815


class StatusListCredential(BaseModel):
    """W3C Bitstring Status List v1.0 credential, signed by the registry."""

    model_config = ConfigDict(populate_by_name=True)

    context: list[str] = Field(alias="@context")
    id: str
    type: list[str]
    issuer: str
    validFrom: str  # noqa: N815 - the W3C member name
    credentialSubject: StatusListSubject  # noqa: N815 - the W3C member name
    proof: dict[str, JsonValue] = Field(description="Data Integrity proof, eddsa-jcs-2022")


class TrustedIssuer(BaseModel):
    id: str = Field(description="The issuer's did:key")
    log: str = Field(description="The name (origin) of its transparency log")
    logKey: str = Field(description="The log's checkpoint verifier key (C2SP signed note)")  # noqa: N815


class TrustedKeysFile(BaseModel):
    """What a verifier needs to trust this registry (``raretrace trusted-keys``)."""

    issuers: list[TrustedIssuer]
    witnesses: list[str] = Field(description="Witness verifier keys this registry knows")


@dataclass(frozen=True)
class ParticipantList:
    participants: tuple[ParticipantListing, ...]


@dataclass(frozen=True)
class TokensRevoked:
    revoked: int
