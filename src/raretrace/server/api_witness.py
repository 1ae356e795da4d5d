"""This registry as a witness of other members' logs: C2SP tlog-witness ``POST /add-checkpoint``, the
checkpoints it cosigned (``GET /api/v1/witnessed``, what a witness that is behind catches up from), and
its newest ``raretrace witness run`` round for monitoring: ``GET /api/v1/witness/status`` (JSON),
``GET /witness/metrics`` (Prometheus text exposition format 0.0.4) and ``GET /witness`` (a page). The
round is recorded by the witness process in the registry's database; an alarm (split view, rollback,
refused) shows in all three until a round without one.

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
from datetime import datetime
from html import escape
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from raretrace.errors import AuthorizationError, NotFoundError, ProofError, ValidationError
from raretrace.ledger.participants import Principal
from raretrace.ledger.registry import Registry
from raretrace.ledger.witness_service import ALARM_KINDS, WitnessStatus, last_status
from raretrace.ledger.witnessing import SplitViewError, witness_log, witnessed_note, witnessed_size
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


@router.get(
    "/api/v1/witnessed",
    summary="The newest checkpoint of a log this registry cosigned, as a signed note (public)",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def witnessed(registry: RegistryDep, origin: Annotated[str, Query(max_length=500)]) -> Response:
    note = witnessed_note(registry, origin)
    if note is None:
        raise NotFoundError(f"this registry does not witness log {origin}", field="origin")
    return PlainTextResponse(note)


def _status(registry: Registry) -> WitnessStatus:
    status = last_status(registry)
    if status is None:
        raise NotFoundError("no witness round recorded yet (raretrace witness run)", field="witness")
    return status


@router.get(
    "/api/v1/witness/status",
    response_model=WitnessStatus,
    summary="The newest witness round: each peer log's status, gossip, alarms (public)",
)
def witness_status(registry: RegistryDep) -> WitnessStatus:
    return _status(registry)


def _label(value: str) -> str:
    """A Prometheus label value: backslash, double quote and newline escaped (exposition format 0.0.4)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics_text(status: WitnessStatus) -> str:
    """The round as gauges: alarms by kind, ok, the round's time, each peer's status and cosigned size."""
    kinds = [p.status for p in status.peers] + [g.status for g in status.gossip]
    moment = datetime.fromisoformat(status.time.replace("Z", "+00:00")).timestamp()
    lines = [
        "# HELP raretrace_witness_alarms Alarms in the newest witness round, by kind.",
        "# TYPE raretrace_witness_alarms gauge",
        *(f'raretrace_witness_alarms{{kind="{k}"}} {kinds.count(k)}' for k in ALARM_KINDS),
        "# HELP raretrace_witness_ok 1 when the newest witness round raised no alarm.",
        "# TYPE raretrace_witness_ok gauge",
        f"raretrace_witness_ok {int(status.ok)}",
        "# HELP raretrace_witness_last_round_timestamp_seconds When the newest witness round ran.",
        "# TYPE raretrace_witness_last_round_timestamp_seconds gauge",
        f"raretrace_witness_last_round_timestamp_seconds {moment:.0f}",
        "# HELP raretrace_witness_peer_status 1 for each peer log and its status in the newest round.",
        "# TYPE raretrace_witness_peer_status gauge",
        *(
            f'raretrace_witness_peer_status{{member="{_label(p.member)}",origin="{_label(p.origin)}",'
            f'status="{p.status}"}} 1'
            for p in status.peers
        ),
        "# HELP raretrace_witness_cosigned_tree_size The tree size cosigned for each peer log this round.",
        "# TYPE raretrace_witness_cosigned_tree_size gauge",
        *(
            f'raretrace_witness_cosigned_tree_size{{member="{_label(p.member)}",'
            f'origin="{_label(p.origin)}"}} {p.size}'
            for p in status.peers
            if p.size is not None
        ),
    ]
    return "\n".join(lines) + "\n"


@router.get(
    "/witness/metrics",
    summary="The newest witness round as Prometheus metrics (public)",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def witness_metrics(registry: RegistryDep) -> Response:
    return PlainTextResponse(metrics_text(_status(registry)), media_type="text/plain; version=0.0.4")


def page_html(status: WitnessStatus | None) -> str:
    """The witness page: alarms first, then each peer log and what gossip said."""
    if status is None:
        body = "<p>No witness round recorded yet (<code>raretrace witness run</code>).</p>"
    else:
        alarms = "".join(f"<li>{escape(a)}</li>" for a in status.alarms)
        verdict = (
            '<p class="ok">No alarm.</p>'
            if status.ok
            else f'<section class="alarm"><h2>ALARM</h2><ul>{alarms}</ul></section>'
        )
        peers = "".join(
            f"<tr><td>{escape(p.member)}</td><td>{escape(p.origin)}</td><td>{escape(p.status)}</td>"
            f"<td>{'' if p.size is None else p.size}</td><td>{escape(p.detail)}</td></tr>"
            for p in status.peers
        )
        gossip = "".join(
            f"<tr><td>{escape(g.origin)}</td><td>{escape(g.witness)}</td><td>{escape(g.status)}</td>"
            f"<td>{escape(g.detail)}</td></tr>"
            for g in status.gossip
        )
        body = (
            f"<p>Round at {escape(status.time)}.</p>{verdict}"
            "<h2>Peer logs</h2><table><tr><th>member</th><th>log</th><th>status</th><th>size</th>"
            f"<th>detail</th></tr>{peers}</table>"
            "<h2>Gossip</h2><table><tr><th>log</th><th>witness</th><th>status</th><th>detail</th></tr>"
            f"{gossip}</table>"
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Witness</title></head>'
        f"<body><h1>Witness</h1>{body}</body></html>"
    )


@router.get("/witness", response_class=HTMLResponse, summary="The newest witness round as a page (public)")
def witness_page(registry: RegistryDep) -> HTMLResponse:
    return HTMLResponse(page_html(last_status(registry)))
