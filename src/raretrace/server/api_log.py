"""The log: C2SP checkpoint and tiles, proofs, witnesses and cosignatures, the audit.

Hash tiles and checkpoints are public (anyone can check the log is append-only and that a leaf is
in it). Entry bundles hold the signed events themselves — every party, lot and mass — so they are
served to the auditor and the secretariat only; operators read their own lots through the lot API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from raretrace.errors import ValidationError
from raretrace.ledger import logview
from raretrace.ledger.audit import AuditResult, audit
from raretrace.ledger.logview import ConsistencyProof, InclusionProof
from raretrace.log.note import verifier_key_text
from raretrace.log.tiles import parse_tile_path
from raretrace.server.access import require
from raretrace.server.answers import typed_answer
from raretrace.server.deps import Caller, RegistryDep, quick
from raretrace.server.logserve import is_full, tile_bytes
from raretrace.server.problems import responses

router = APIRouter(tags=["log"], responses=responses(401, 403, 404, 422))

TEXT = {"content": {"text/plain": {"schema": {"type": "string"}}}}
BINARY = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


@router.get("/checkpoint", response_class=PlainTextResponse, responses={200: TEXT}, summary="C2SP checkpoint")
async def checkpoint(registry: RegistryDep) -> PlainTextResponse:
    """The newest signed checkpoint note, byte-exact, with the witness cosignatures accepted for it."""
    note = await quick(registry, logview.latest_checkpoint, registry)
    return PlainTextResponse(note, headers={"Cache-Control": "no-cache"}, media_type="text/plain")


@router.get(
    "/tile/{path:path}",
    response_class=Response,
    responses={200: BINARY},
    summary="C2SP tlog-tiles: tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>]",
)
async def tile(path: str, registry: RegistryDep, caller: Caller) -> Response:
    """Full tiles never change and are served immutable; partial ones may grow."""
    parsed = parse_tile_path("tile/" + path)
    if parsed.is_entries:
        require(caller, "auditor", "secretariat", action="reading entry bundles")
    data = await quick(registry, tile_bytes, registry, parsed)
    cache = "public, max-age=31536000, immutable" if is_full(parsed) else "no-cache"
    return Response(data, media_type="application/octet-stream", headers={"Cache-Control": cache})


@router.get("/api/v1/log/public-key", response_class=PlainTextResponse, responses={200: TEXT})
def public_key(registry: RegistryDep) -> PlainTextResponse:
    """The checkpoint verifier key, ``name+hash+base64key``."""
    return PlainTextResponse(verifier_key_text(registry.origin, registry.signer.public_key) + "\n")


Size = Annotated[int, Query(ge=0, le=2**62)]


@router.get("/api/v1/log/inclusion", response_model=InclusionProof, summary="Inclusion proof of leaf N")
async def inclusion(registry: RegistryDep, index: Size, size: Size | None = None) -> JSONResponse:
    return typed_answer(await quick(registry, logview.inclusion_proof, registry, index, size))


@router.get("/api/v1/log/consistency", response_model=ConsistencyProof, summary="Consistency proof")
async def consistency(registry: RegistryDep, old: Size, new: Size) -> JSONResponse:
    return typed_answer(await quick(registry, logview.consistency_proof, registry, old, new))


class Accepted(BaseModel):
    accepted: list[str]


@router.post(
    "/api/v1/log/cosignatures",
    response_model=Accepted,
    summary="Give this log witness cosignatures on one of its checkpoints",
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
)
async def add_cosignatures(request: Request, registry: RegistryDep) -> Accepted:
    """Open to anyone: only cosignatures that verify under a witness key the secretariat trusts are kept."""
    note = await _text(request)
    return Accepted(accepted=await run_in_threadpool(logview.add_cosignatures, registry, note))


class WitnessRequest(BaseModel):
    verifier_key: str = Field(min_length=1, max_length=2000)


class WitnessAdded(BaseModel):
    witness: str = Field(description="the witness's name, from its verifier key")


@router.post(
    "/api/v1/log/witnesses",
    status_code=201,
    response_model=WitnessAdded,
    summary="Trust a witness (secretariat)",
)
def add_witness(body: WitnessRequest, registry: RegistryDep, caller: Caller) -> WitnessAdded:
    require(caller, "secretariat", action="adding witnesses")
    return WitnessAdded(witness=logview.add_witness(registry, body.verifier_key))


@router.get(
    "/api/v1/log/audit", response_model=AuditResult, summary="Full audit of the log (auditor, secretariat)"
)
def log_audit(registry: RegistryDep, caller: Caller) -> JSONResponse:
    require(caller, "auditor", "secretariat", action="auditing the log")
    return typed_answer(audit(registry))


async def _text(request: Request) -> str:
    body = await request.body()
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValidationError("the body is not UTF-8 text", field="body") from e
