"""Lots, lineage and compliance: each answer limited to what the caller may see."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from raretrace.jsontypes import JSONObject, JSONValue
from raretrace.ledger.compliance import check_lots, today
from raretrace.ledger.lineage import DEFAULT_MAX_PATHS, trace_down, trace_up
from raretrace.ledger.participants import Principal
from raretrace.ledger.registry import Registry
from raretrace.ledger.trace_answers import Trace as TraceAnswer
from raretrace.rules import load_regimes
from raretrace.server import queries
from raretrace.server.access import require_lots, require_participant, visible_among, visible_lots
from raretrace.server.answers import as_object, json_answer, json_ready, typed_answer
from raretrace.server.deps import Caller, RegistryDep, in_thread, quick
from raretrace.server.problems import responses
from raretrace.server.redact import (
    HiddenNames,
    redact_certificate,
    redact_custody,
    redact_lot,
    redact_typed_trace,
)
from raretrace.server.schemas import LotCertificates, LotDetailsOut, LotPage, Regimes, Trace, Verdicts
from raretrace.server.shortcut import one_of, shortcut_route, whole_number
from raretrace.store.certificates import of_lot as certificates_of_lot
from raretrace.store.reading import Connection, reading, snapshot

router = APIRouter(prefix="/api/v1", tags=["lots"], responses=responses(401, 403, 404, 422))

LotId = Annotated[str, Field(min_length=1, max_length=200)]
MAX_PATHS = 10_000


def lot_page(
    registry: Registry, caller: Principal, limit: int, offset: int, after: str | None = None
) -> list[JSONObject]:
    require_participant(caller, action="listing lots")
    with reading(registry.engine) as conn:
        rows = queries.lots_for(registry.store, conn, caller, limit=limit, offset=offset, after=after)
    if caller.sees_everything:
        return rows
    return [redact_custody(row, caller.facilities) for row in rows]


@router.get(
    "/lots",
    summary="The lots the caller may see",
    response_model=LotPage,
    response_model_exclude_unset=True,
)
def list_lots(
    registry: RegistryDep,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    after: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="the last lot id of the previous page: the lots after it (cheaper than an offset)",
        ),
    ] = None,
) -> JSONObject:
    lots = lot_page(registry, caller, limit, offset, after)
    page: JSONObject = {"lots": list[JSONValue](lots), "limit": limit, "offset": offset}
    if after is not None:
        page["after"] = after
    following = queries.next_after(lots, limit)
    if following is not None:
        page["next_after"] = following
    return page


def lot_view(registry: Registry, caller: Principal, lot_id: str) -> dict[str, Any]:
    """``lot show`` for a caller: 404 alike for a missing lot and another participant's. (Any: the web
    lot page reads this JSON by key; typed as ``schemas.LotDetailsOut`` for API clients.)"""
    require_participant(caller, action="reading lots")
    with reading(registry.engine) as conn:
        require_lots(conn, caller, [lot_id])
    details = registry.lot_details(lot_id)
    if caller.sees_everything:
        return as_object(details)
    with reading(registry.engine) as conn:
        visible = visible_lots(conn, caller, [used.lot for used in details.inputs])
    return redact_lot(as_object(details), visible, caller.facilities)


@router.get(
    "/lots/{lot_id}",
    summary="A lot: composition, origin, custody, inputs, transfers, assays",
    response_model=LotDetailsOut,
)
async def get_lot(lot_id: str, registry: RegistryDep, caller: Caller) -> JSONResponse:
    return typed_answer(await quick(registry, lot_view, registry, caller, lot_id))


def trace_view(registry: Registry, caller: Principal, lot_id: str, direction: str, max_paths: int) -> object:
    """The trace for ``json_answer`` (``render.jsonable.json_ready``: the JSON ``render.jsonable`` makes
    of it, with what orjson writes itself left as it is), with the lots the caller may not see as
    placeholders (``redact_typed_trace``: redacted on the typed answer, no JSON object of it made first)."""
    require_participant(caller, action="tracing lots")
    # One connection (the event loop's own on SQLite) and one read transaction for the access check,
    # the trace and the visibility check: no pool checkout for the trace, and all three see the
    # registry in the same state.
    with reading(registry.engine) as conn, snapshot(conn):
        require_lots(conn, caller, [lot_id])
        result: TraceAnswer = (
            trace_up(registry, lot_id, max_paths=max_paths, conn=conn)
            if direction == "up"
            else trace_down(registry, lot_id, conn=conn)
        )
        if caller.sees_everything:
            return json_ready(result)
        visible = visible_among(conn, caller, result.lots)
    # the direction in the placeholder: an up and a down answer merged never name two lots alike
    names = HiddenNames(visible, f"hidden-{direction}-")
    return redact_typed_trace(result, visible, caller.facilities, names)


async def trace(
    lot_id: str,
    request: Request,
    caller: Caller,
    direction: Literal["up", "down"] = "up",
    max_paths: Annotated[int, Query(ge=0, le=MAX_PATHS)] = DEFAULT_MAX_PATHS,
) -> Response:
    """Lots the caller may not see appear as ``hidden-up-N`` / ``hidden-down-N`` placeholders (shares
    and masses kept)."""
    # The busiest read of all: the registry comes from the request rather than as one more dependency,
    # plain requests skip FastAPI's dependency solving (TraceRoute) and the answer is serialized once.
    registry: Registry = request.app.state.registry
    if direction == "down":  # a recall list can reach thousands of lots: never on the event loop
        result = await in_thread(registry, trace_view, registry, caller, lot_id, direction, max_paths)
    else:
        result = await quick(registry, trace_view, registry, caller, lot_id, direction, max_paths)
    return json_answer(result)


TraceRoute = shortcut_route(direction=one_of("up", "down"), max_paths=whole_number(0, MAX_PATHS))
router.add_api_route(
    "/lots/{lot_id}/trace",
    trace,
    methods=["GET"],
    summary="Lineage up to the sources, or down to everything made from it",
    response_model=Trace,
    route_class_override=TraceRoute,
)


class CheckRequest(BaseModel):
    lots: list[LotId] = Field(min_length=1, max_length=1000)
    regimes: list[str] | None = None
    as_of: date | None = None
    end_use: str | None = Field(
        default=None, max_length=100, description="civil, military or dual-use (aliases: defense, defence)"
    )
    assertions: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Facts no record shows: waiver, outside-us, cots, electronic-device",
    )
    as_one: bool = False


def verdicts_for(registry: Registry, caller: Principal, request: CheckRequest) -> JSONObject:
    require_participant(caller, action="checking compliance")
    with reading(registry.engine) as conn:
        require_lots(conn, caller, request.lots)
    verdicts = check_lots(
        registry,
        request.lots,
        regimes=request.regimes or None,
        as_of=request.as_of,
        end_use=request.end_use,
        assertions=request.assertions,
        as_one=request.as_one,
    )
    return {"verdicts": [as_object(v) for v in verdicts]}


@router.post("/check", summary="Compliance verdicts for lots under regimes", response_model=Verdicts)
def check(body: CheckRequest, registry: RegistryDep, caller: Caller) -> JSONResponse:
    return typed_answer(verdicts_for(registry, caller, body))


@router.get(
    "/lots/{lot_id}/certificates",
    summary="Certificates issued for a lot",
    response_model=LotCertificates,
    response_model_exclude_unset=True,
)
def lot_certificates(lot_id: str, registry: RegistryDep, caller: Caller) -> JSONObject:
    require_participant(caller, action="reading certificates")
    with reading(registry.engine) as conn:
        require_lots(conn, caller, [lot_id])
        return {"certificates": certificates_seen(conn, caller, lot_id)}


def certificates_seen(conn: Connection, caller: Principal, lot_id: str) -> list[JSONValue]:
    """The certificates of a lot, each naming only the lots the caller may see."""
    records = certificates_of_lot(conn, lot_id)
    found = [queries.certificate_summary(record) for record in records]
    if caller.sees_everything:
        return list[JSONValue](found)
    visible = visible_lots(conn, caller, [x for record in records for x in record.lots])
    return [redact_certificate(summary, visible) for summary in found]


@router.get("/regimes", summary="The compliance regimes the registry judges by", response_model=Regimes)
async def regimes() -> JSONResponse:
    known = await run_in_threadpool(load_regimes, ())
    day = today()
    return typed_answer({"regimes": [r.describe(day) for r in known.values()]})
