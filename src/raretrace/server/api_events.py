"""Submitting signed events: one envelope, or a batch appended all or nothing."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from raretrace.errors import RaretraceError
from raretrace.jsontypes import JSONObject
from raretrace.ledger.registry import AppendResult
from raretrace.server.deps import Caller, RegistryDep, SettingsDep, quick
from raretrace.server.problems import responses
from raretrace.server.settings import MAX_BODY_BYTES
from raretrace.server.submit import refusal, split_batch, submit

router = APIRouter(prefix="/api/v1", tags=["events"], responses=responses(400, 401, 403, 409, 413, 422))

ENVELOPE_SCHEMA: JSONObject = {
    "type": "object",
    "required": ["payload", "payloadType", "signatures"],
    "properties": {
        "payload": {"type": "string", "description": "base64 of the in-toto Statement"},
        "payloadType": {"type": "string", "example": "application/vnd.in-toto+json"},
        "signatures": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sig"],
                "properties": {"keyid": {"type": "string"}, "sig": {"type": "string"}},
            },
        },
    },
}


class Appended(BaseModel):
    recorded: int
    first_index: int
    tree_size: int
    checkpoint: str

    @classmethod
    def of(cls, result: AppendResult) -> Appended:
        return cls(
            recorded=result.count,
            first_index=result.first_index,
            tree_size=result.tree_size,
            checkpoint=result.checkpoint,
        )


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        from raretrace.errors import ValidationError

        raise ValidationError(f"the body exceeds {MAX_BODY_BYTES} bytes", field="body")
    return body


@router.post(
    "/events",
    status_code=201,
    response_model=Appended,
    summary="Submit one signed event (a DSSE envelope, stored byte for byte)",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": ENVELOPE_SCHEMA}}}
    },
)
async def submit_event(request: Request, registry: RegistryDep, caller: Caller) -> Appended:
    """Operators submit events acted by their own facilities; the secretariat any event."""
    body = await _body(request)
    group = request.app.state.group_commit
    if group is not None:
        try:
            result = await group.submit(caller, body)
        except RaretraceError as e:
            raise await quick(registry, refusal, registry, caller, e) from e
    else:
        result = await run_in_threadpool(submit, registry, caller, [body])
    return Appended.of(result)


@router.post(
    "/events/batch",
    status_code=201,
    response_model=Appended,
    summary="Submit a batch of signed events, appended all or nothing",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["envelopes"],
                        "properties": {
                            "envelopes": {
                                "type": "array",
                                "items": {"type": "string", "format": "byte"},
                                "description": "base64 of each envelope's bytes",
                            }
                        },
                    }
                },
                "application/x-ndjson": {"schema": {"type": "string", "description": "one envelope a line"}},
            },
        }
    },
)
async def submit_batch(
    request: Request, registry: RegistryDep, caller: Caller, settings: SettingsDep
) -> Appended:
    """JSON Lines keep each envelope's bytes as sent; the JSON form carries them in base64."""
    body = await _body(request)
    envelopes = split_batch(body, request.headers.get("content-type", ""), settings.max_batch)
    result = await run_in_threadpool(submit, registry, caller, envelopes)
    return Appended.of(result)
