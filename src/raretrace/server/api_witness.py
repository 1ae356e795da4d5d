"""This registry as a witness of other members' logs: C2SP tlog-witness ``POST /add-checkpoint``.

Body: ``old <size>``, the consistency proof from that size (one base64 hash a line), an empty line,
then the log's signed checkpoint note. The witness answers its cosignature line (C2SP
tlog-cosignature) after ``ledger.witnessing.witness_log`` has checked the log's signature and that the
tree grew append-only from the size it last cosigned. A request whose ``old`` is not that size gets
409 with the size it holds (``text/x.tlog.size``), as the spec asks, so the log can retry.

Logs are known to the witness once the secretariat has witnessed them the first time (``raretrace
witness`` or this endpoint with ``log_key`` and a secretariat token).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from raretrace.errors import AuthorizationError, NotFoundError, ProofError, ValidationError
from raretrace.ledger.participants import Principal
from raretrace.ledger.registry import Registry
from raretrace.ledger.witnessing import SplitViewError, witness_log, witnessed_size
from raretrace.log.checkpoint import Checkpoint
from raretrace.log.note import split_note
from raretrace.server.access import require
from raretrace.server.deps import Caller, RegistryDep
from raretrace.server.problems import from_error, responses

router = APIRouter(tags=["witness"], responses=responses(400, 403, 404, 409, 422))


class _Submitted:
    """A LogSource over what the log sent: its note and its proof."""

    def __init__(self, note: str, proof: list[bytes]) -> None:
        self._note = note
        self._proof = proof

    def checkpoint(self) -> str:
        return self._note

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return self._proof

    def verifier_key(self) -> str:  # pragma: no cover - the witness uses the key it remembers
        raise NotImplementedError


def parse_request(body: str) -> tuple[int, list[bytes], str]:
    head, sep, note = body.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old "):
        raise ValidationError(
            "expected 'old <size>', proof lines, an empty line, the checkpoint", field="body"
        )
    try:
        old = int(lines[0].removeprefix("old "))
        proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
    except (ValueError, binascii.Error) as e:
        raise ValidationError(f"malformed size or proof line: {e}", field="body") from e
    if old < 0 or any(len(h) != 32 for h in proof):
        raise ValidationError("the size is negative or a proof hash is not 32 bytes", field="body")
    return old, proof, note


def add_checkpoint(registry: Registry, caller: Principal, body: str, log_key: str | None) -> Response:
    old, proof, note = parse_request(body)
    text, _ = split_note(note)
    origin = Checkpoint.parse(text).origin
    known = witnessed_size(registry, origin)
    if known is None:
        if log_key is None:
            raise NotFoundError(f"this witness does not know log {origin}", field="origin")
        require(caller, "secretariat", action="witnessing a new log")
    elif known != old:
        return PlainTextResponse(f"{known}\n", status_code=409, media_type="text/x.tlog.size")
    try:
        result = witness_log(registry, _Submitted(note, proof), log_key=log_key if known is None else None)
    except SplitViewError as e:
        return from_error(ValidationError(e.message, field=e.field))
    except ProofError as e:
        return from_error(AuthorizationError(e.message, field=e.field))
    return PlainTextResponse(result.cosignature + "\n", media_type="text/x.tlog.cosignature")


@router.post(
    "/add-checkpoint",
    summary="C2SP tlog-witness: cosign another log's checkpoint after a consistency proof",
    responses={
        200: {"content": {"text/x.tlog.cosignature": {"schema": {"type": "string"}}}},
        409: {"content": {"text/x.tlog.size": {"schema": {"type": "string"}}}},
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
)
async def add_checkpoint_route(
    request: Request,
    registry: RegistryDep,
    caller: Caller,
    log_key: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    raw = await request.body()
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValidationError("the body is not UTF-8 text", field="body") from e
    return await run_in_threadpool(add_checkpoint, registry, caller, body, log_key)
