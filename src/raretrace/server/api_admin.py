"""The secretariat's administration: participants and tokens, facilities and keys, corrections."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, JsonValue

from raretrace.crypto.keys import PublicKey, b64decode_strict
from raretrace.custody.events import sign_event
from raretrace.jsontypes import JSONObject
from raretrace.ledger import participants
from raretrace.ledger.admin import register_facility
from raretrace.ledger.registry import Registry
from raretrace.render.jsonable import jsonable
from raretrace.server import queries
from raretrace.server.access import require, require_participant
from raretrace.server.answers import as_object
from raretrace.server.api_events import Appended
from raretrace.server.certificate_schemas import ParticipantList, TokensRevoked, typed_json
from raretrace.server.deps import Caller, RegistryDep
from raretrace.server.problems import responses
from raretrace.server.schemas import Facilities, Me
from raretrace.times import utc_now

router = APIRouter(prefix="/api/v1", tags=["administration"], responses=responses(401, 403, 404, 409, 422))

Id = Annotated[str, Field(min_length=1, max_length=200)]


@router.get("/me", summary="Who the credentials name (the public without any)", response_model=Me)
def me(caller: Caller) -> JSONObject:
    return as_object(caller)


class ParticipantRequest(BaseModel):
    id: Id
    name: str = Field(min_length=1, max_length=500)
    role: str = Field(description="operator, auditor or secretariat")
    facilities: list[Id] = Field(default_factory=list, max_length=1000)


@router.get("/participants", response_model=ParticipantList, summary="Participants (secretariat)")
def list_participants(registry: RegistryDep, caller: Caller) -> JSONResponse:
    require(caller, "secretariat", action="listing participants")
    return typed_json(ParticipantList(tuple(participants.list_participants(registry.engine))))


@router.post("/participants", status_code=201, response_model=Me, summary="Add a participant (secretariat)")
def add_participant(body: ParticipantRequest, registry: RegistryDep, caller: Caller) -> JSONObject:
    require(caller, "secretariat", action="adding participants")
    added = participants.add_participant(registry.engine, body.id, body.name, body.role, body.facilities)
    return as_object(added)  # written in the order of ``Me``, the response model


class TokenRequest(BaseModel):
    label: str | None = Field(default=None, max_length=200)
    valid_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    participant: str
    token: str = Field(description="Shown once; only its SHA-256 is stored")
    expires_at: str | None
    label: str | None


@router.post(
    "/participants/{participant_id}/tokens",
    status_code=201,
    response_model=TokenOut,
    summary="Issue a token for a participant (secretariat)",
)
def issue_token(participant_id: str, body: TokenRequest, registry: RegistryDep, caller: Caller) -> JSONObject:
    require(caller, "secretariat", action="issuing tokens")
    issued = participants.issue_token(
        registry.engine, participant_id, label=body.label, valid_days=body.valid_days
    )
    answer = jsonable(issued)
    assert isinstance(answer, dict)  # a dataclass is a JSON object
    return answer


@router.post(
    "/participants/{participant_id}/revoke-tokens",
    response_model=TokensRevoked,
    summary="Revoke a participant's tokens",
)
def revoke_tokens(participant_id: str, registry: RegistryDep, caller: Caller) -> JSONResponse:
    require(caller, "secretariat", action="revoking tokens")
    return typed_json(TokensRevoked(participants.revoke_tokens(registry.engine, participant_id)))


@router.get("/facilities", summary="Registered facilities (participants)", response_model=Facilities)
def list_facilities(registry: RegistryDep, caller: Caller) -> dict[str, object]:
    require_participant(caller, action="listing facilities")
    with registry.engine.connect() as conn:
        return {"facilities": queries.facilities(registry.store, conn)}


class FacilitySpec(BaseModel):
    id: Id
    name: str = Field(min_length=1, max_length=500)
    operator: str = Field(min_length=1, max_length=500)
    country: str = Field(min_length=2, max_length=2)
    stages: list[str] = Field(min_length=1, max_length=20)
    technology: dict[str, str] = Field(default_factory=dict)
    accreditation: str | None = Field(default=None, max_length=500)


class FacilityRequest(BaseModel):
    facility: FacilitySpec
    keys: list[str] = Field(min_length=1, max_length=20, description="base64 Ed25519 public keys")
    valid_from: str | None = Field(default=None, description="RFC 3339; default now")


@router.post(
    "/facilities", status_code=201, response_model=Appended, summary="Register a facility and its keys"
)
def add_facility(body: FacilityRequest, registry: RegistryDep, caller: Caller) -> Appended:
    """A register_facility event signed by the registry's key (secretariat)."""
    require(caller, "secretariat", action="registering facilities")
    keys = [PublicKey(b64decode_strict(k, field=f"keys[{i}]")) for i, k in enumerate(body.keys)]
    spec = body.facility.model_dump(exclude_none=True)
    return Appended.of(register_facility(registry, spec, keys, valid_from=body.valid_from))


class CorrectionRequest(BaseModel):
    target_event: Id
    reason: str = Field(min_length=1, max_length=2000)
    amend_lots: list[dict[str, JsonValue]] = Field(default_factory=list, max_length=1000)
    event_id: str | None = Field(default=None, max_length=200)


def correct(registry: Registry, body: CorrectionRequest) -> Appended:
    """A correct event signed by the registry's key; the registry judges it like any other."""
    event = {
        "kind": "correct",
        "event_id": body.event_id or f"urn:uuid:{uuid.uuid4()}",
        "time": utc_now(),
        "target_event": body.target_event,
        "reason": body.reason,
        "amend_lots": body.amend_lots,
    }
    return Appended.of(registry.append([sign_event(event, [registry.signer])]))


@router.post("/corrections", status_code=201, response_model=Appended, summary="Issue a correction")
def add_correction(body: CorrectionRequest, registry: RegistryDep, caller: Caller) -> Appended:
    require(caller, "secretariat", action="issuing corrections")
    return correct(registry, body)
