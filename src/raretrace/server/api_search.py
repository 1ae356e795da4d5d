"""Lot search for the API (``GET /api/v1/search/lots``, JSON or a CSV/JSON download of the whole
result) and the web page (``/search``): both parse the same query parameters into a ``LotQuery``,
and both answer only what the caller may see."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import QueryParams

from raretrace.errors import RaretraceError, ValidationError
from raretrace.ledger.participants import Principal
from raretrace.ledger.registry import Registry
from raretrace.ledger.search import LotQuery, SearchResult, parse_day, parse_verdict, search_lots
from raretrace.render.verdicts import search_csv
from raretrace.server.access import require_participant, visible_lots
from raretrace.server.answers import as_object, json_answer
from raretrace.server.deps import Caller, RegistryDep, WebCaller
from raretrace.server.problems import responses
from raretrace.server.redact import HIDDEN
from raretrace.server.schemas import SearchAnswer

router = APIRouter(tags=["lots"], responses=responses(401, 403, 422))
LISTS = ("form", "stage", "producer_country")
PARAMS = ("q", *LISTS, "facility", "element", "country", "verdict", "from", "to", "sort", "limit", "offset")


def _whole(value: str | None, name: str, default: int, high: int) -> int:
    if value in (None, ""):
        return default
    if not value.isdigit() or int(value) > high:
        raise ValidationError(f"{value!r} is not a whole number from 0 to {high}", field=name)
    return int(value)


def query_from(params: QueryParams, *, download: bool = False) -> LotQuery:
    """The query the parameters ask for; an unknown parameter is refused, not ignored."""
    unknown = sorted(set(params) - {*PARAMS, "format"})
    if unknown:
        raise ValidationError(
            f"unknown parameter {unknown[0]!r} (known: {', '.join(PARAMS)})", field=unknown[0]
        )
    lists = {name: tuple(v for v in params.getlist(name) if v) for name in LISTS}
    regime, outcome = parse_verdict(params.get("verdict") or None)
    return LotQuery(
        text=params.get("q") or None,
        forms=lists["form"],
        stages=lists["stage"],
        facility=params.get("facility") or None,
        producer_countries=tuple(c.upper() for c in lists["producer_country"]),
        element=params.get("element") or None,
        country=(params.get("country") or "").upper() or None,
        regime=regime,
        outcome=outcome,
        created_from=parse_day(params.get("from"), "from"),
        created_to=parse_day(params.get("to"), "to"),
        sort=params.get("sort") or "id",
        limit=None if download else _whole(params.get("limit"), "limit", 50, 1000),
        offset=0 if download else _whole(params.get("offset"), "offset", 0, 10**9),
    )


def run_search(registry: Registry, caller: Principal, query: LotQuery) -> SearchResult:
    """A participant sees the lots it may see, and their custody only while it holds them (as on the
    lot listing: docs/security.md); a filter on who holds a lot is for its own facilities only."""
    require_participant(caller, action="searching lots")
    if caller.sees_everything:
        return search_lots(registry, query)
    if query.facility is not None and query.facility not in caller.facilities:
        raise ValidationError(
            "filter by one of your own facilities: who holds a lot after it left you is not shown "
            "(search by producer country, form or stage instead)",
            field="facility",
        )

    def visible(ids: Sequence[str]) -> set[str]:
        with registry.engine.connect() as conn:
            return visible_lots(conn, caller, ids)

    found = search_lots(registry, query, visible=visible)
    hidden = [
        hit if hit.custodian in caller.facilities else replace(hit, custodian=HIDDEN, remaining_kg=None)
        for hit in found.lots
    ]
    return replace(found, lots=tuple(hidden))


@router.get(
    "/api/v1/search/lots",
    summary="Search lots: filters, facets with counts, sorting, downloads",
    response_model=SearchAnswer,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def search_api(
    request: Request,
    registry: RegistryDep,
    caller: Caller,
    q: Annotated[str | None, Query(description="a part of the lot id")] = None,
    form: Annotated[list[str] | None, Query(description="lot form; repeatable")] = None,
    stage: Annotated[list[str] | None, Query(description="stage that made the lot; repeatable")] = None,
    producer_country: Annotated[list[str] | None, Query(description="ISO code; repeatable")] = None,
    facility: Annotated[str | None, Query(description="produced or held by this facility")] = None,
    element: Annotated[str | None, Query(description="contains this element")] = None,
    country: Annotated[str | None, Query(description="some stage of its history done there (ISO)")] = None,
    verdict: Annotated[
        str | None, Query(description="REGIME=OUTCOME, e.g. us-dfars-252.225-7052=fail")
    ] = None,
    created_from: Annotated[
        str | None, Query(alias="from", description="created on or after (YYYY-MM-DD)")
    ] = None,
    created_to: Annotated[
        str | None, Query(alias="to", description="created on or before (YYYY-MM-DD)")
    ] = None,
    sort: Annotated[
        str | None, Query(description="id, mass_kg, created_time, form, producer; '-' descends")
    ] = None,
    limit: Annotated[str | None, Query(description="lots per page (up to 1000; 50)")] = None,
    offset: Annotated[str | None, Query(description="lots skipped")] = None,
    format: Annotated[str | None, Query(description="json (a page), or csv / json-all: every match")] = None,
) -> Response:
    """Lots the caller may see that match every filter given; ``total`` counts them all, ``facets``
    count them by form, stage, producer country and producer. ``format=csv`` or ``json-all``
    downloads every match."""
    chosen = format or "json"
    if chosen not in ("json", "csv", "json-all"):
        raise ValidationError(f"{chosen!r} is not one of json, csv, json-all", field="format")
    download = chosen != "json"
    result = run_search(registry, caller, query_from(request.query_params, download=download))
    if chosen == "csv":
        return Response(
            search_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="lots.csv"'},
        )
    answer = json_answer(as_object(result))
    if download:
        answer.headers["Content-Disposition"] = 'attachment; filename="lots.json"'
    return answer


# --- the page ---------------------------------------------------------------------------------------------


Params = Mapping[str, str | int | list[str]]


def link(params: Params, **change: str | int | list[str] | None) -> str:
    """The search URL with ``change`` applied (a list value replaces, None removes)."""
    merged = {k: v for k, v in params.items() if k not in change} | {k: v for k, v in change.items() if v}
    pairs = [
        (k, x) for k, v in merged.items() for x in (v if isinstance(v, list) else [v]) if x not in (None, "")
    ]
    return "/search" + ("?" + urlencode(pairs) if pairs else "")


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(request: Request, registry: RegistryDep, caller: WebCaller) -> Response:
    from raretrace.server import charts
    from raretrace.server.web import error_page, page

    if caller.id is None:
        return RedirectResponse("/login", status_code=303)
    given = request.query_params
    params: Params = {k: given.getlist(k) if k in LISTS else given.get(k, "") for k in PARAMS}
    try:
        result = run_search(registry, caller, query_from(request.query_params))
    except RaretraceError as e:
        return error_page(caller, e)
    api = "/api/v1/search/lots?" + urlencode(
        [(k, v) for k, v in request.query_params.multi_items() if k not in ("limit", "offset", "format")]
    )
    return page(
        "search.html",
        caller,
        result=as_object(result),
        params=params,
        link=link,
        href=charts.lot_href,
        kg=charts.kilograms,
        csv_url=api + "&format=csv",
        desk_url="/desk?" + urlencode({"search": str(request.query_params)}),
        json_url=api + "&format=json-all",
    )
