"""The web UI, server-rendered (Jinja2): dashboard, login, lots, a lot's page, event submission,
certificate verification and scenarios. Pages call the same functions as the API routes, so a page
shows exactly what its caller may see; charts are plotly, with plotly.js served from the package."""

from __future__ import annotations

import json
import time
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any

import jinja2
from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from raretrace.elements import REE_SYMBOLS
from raretrace.errors import RaretraceError, ValidationError
from raretrace.ledger.compliance import check_lots
from raretrace.ledger.lineage import trace_down, trace_up
from raretrace.ledger.logview import latest_checkpoint
from raretrace.ledger.participants import Principal
from raretrace.ledger.registry import Registry
from raretrace.ledger.stage_shares import stage_shares as stage_shares_recorded
from raretrace.ledger.trace_answers import DownTrace, UpTrace
from raretrace.log.checkpoint import Checkpoint
from raretrace.log.note import split_note
from raretrace.server import certificate_pages, charts, queries
from raretrace.server.access import require_participant, visible_lots
from raretrace.server.answers import as_object, ready_object
from raretrace.server.api_certificates import VerifyRequest, verify_for
from raretrace.server.api_lots import certificates_seen, lot_page, lot_view
from raretrace.server.api_world import shipped, shipped_scenarios, solve, stage_share_table, summarize
from raretrace.server.deps import SESSION_COOKIE, RegistryDep, SettingsDep, WebCaller, token_principal
from raretrace.server.problems import classify
from raretrace.server.redact import HiddenNames, redact_typed_trace
from raretrace.server.submit import split_batch, submit
from raretrace.world.report import sankey as report_sankey
from raretrace.world.report import unmet_series
from raretrace.world.scenario import Scenario, ScenarioResult

if TYPE_CHECKING:  # the certificate view loads QR and country tables: only when a page needs it
    from raretrace.certify.view import CertificateView

TRACE_PATHS = 20  # paths listed on a lot's page
MAX_DRAWN = 120  # lots in a lineage graph or Sankey; a mine's recall list can reach thousands
router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("raretrace", "data/templates/web"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["kg"] = charts.kilograms  # 2,500,000 kg, never 2.5e+06
    return env


@lru_cache(maxsize=4)
def static_file(name: str) -> bytes:
    if name == "plotly.min.js":
        from plotly.offline import get_plotlyjs

        return str(get_plotlyjs()).encode("utf-8")
    return resources.files("raretrace").joinpath("data/static", name).read_bytes()


STATIC = {
    "app.css": "text/css",
    "plotly.min.js": "application/javascript",
    "scenario-example.json": "application/json",
}


#: Pages may not be framed (clickjacking), sniffed as another type, or leak their URL (lot ids) onward.
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def page(name: str, caller: Principal, *, status: int = 200, **context: Any) -> HTMLResponse:
    html = templates().get_template(name).render(caller=caller, **context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def error_page(caller: Principal, error: RaretraceError) -> HTMLResponse:
    status, slug, title = classify(error)
    detail = f"{error.context}: {error.message}" if error.context else error.message
    return page("error.html", caller, status=status, title=title, detail=detail, field=error.field, slug=slug)


SHARES_TTL_S = 60.0  # the registry's own shares scan every lot: recomputed at most once a minute


def registry_shares(registry: Registry, cache: dict[str, Any]) -> list[dict[str, Any]]:
    """Each stage's share by producer country in this registry's recorded lots (by rare-earth mass
    for mining and separation, by mass for magnets: ``ledger.stage_shares``), cached."""
    now = time.monotonic()
    if cache.get("at") is None or now - cache["at"] > SHARES_TTL_S:
        measured = stage_shares_recorded(registry)
        cache["value"] = [{"stage": stage, "shares": shares} for stage, shares in measured.items()]
        cache["at"] = now
    return list(cache["value"])


def dashboard_model(registry: Registry, cache: dict[str, Any]) -> dict[str, Any]:
    note = latest_checkpoint(registry)
    recorded = registry_shares(registry, cache)
    text, lines = split_note(note)
    checkpoint = Checkpoint.parse(text)
    witnesses = sorted({line.removeprefix("— ").split(" ", 1)[0] for line in lines} - {registry.origin})
    return {
        "origin": registry.origin,
        "tree_size": checkpoint.size,
        "checkpoint": note,
        "witnesses": witnesses,
        "stage_chart": charts.stage_share_chart(stage_share_table()),
        "stages": stage_share_table(),
        "registry_chart": charts.stage_share_chart(
            recorded, "Share of the lots recorded here, by producer country (%)"
        )
        if recorded
        else None,
    }


def _element_kg(registry: Registry, root: str, up: UpTrace) -> list[dict[str, float]]:
    """The kilograms of each element of THIS lot that each edge of its up-trace carried (in the order of
    ``up.edges``), worked out before any lot is hidden: the lot's element mass is traced back
    generation by generation, each lot's share split over its inputs in proportion to the element mass
    each input brought (controlled blending, as the origin vectors do). Whole input masses would show
    the ore's entire content, most of which went into other lots."""
    with registry.engine.connect() as conn:
        found = registry.store.lots(conn, sorted(up.lots))
    fractions = {i: lot.spec.composition.fractions for i, lot in found.items()}
    edges = up.edges or ()
    flows: list[dict[str, float]] = [{} for _ in edges]
    incoming: dict[str, list[int]] = {}
    pending: dict[str, int] = {}
    for i, edge in enumerate(edges):
        incoming.setdefault(edge["child"], []).append(i)
        pending[edge["parent"]] = pending.get(edge["parent"], 0) + 1
    lot = found[root]
    carried: dict[str, dict[str, float]] = {
        root: {e: lot.spec.element_mass(e) for e in fractions[root] if e in REE_SYMBOLS}
    }
    ready = [root]
    while ready:
        node = ready.pop()
        into_node = incoming.get(node, [])
        for element, kg in carried.get(node, {}).items():
            brought = [
                edges[i]["mass_kg"] * fractions.get(edges[i]["parent"], {}).get(element, 0.0)
                for i in into_node
            ]
            total = sum(brought)
            for i, part in zip(into_node, brought, strict=True):
                flow = kg * part / total if total > 0 else 0.0
                flows[i][element] = flow
                into = carried.setdefault(edges[i]["parent"], {})
                into[element] = into.get(element, 0.0) + flow
        for i in into_node:
            pending[edges[i]["parent"]] -= 1
            if pending[edges[i]["parent"]] == 0:
                ready.append(edges[i]["parent"])
    return flows


def _shown(
    registry: Registry, caller: Principal, up: UpTrace, down: DownTrace
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The traces as the page shows them: their JSON as the API writes it (``render.jsonable.json_ready``,
    redacted by ``redact_typed_trace`` for a caller who does not see everything), read by key by the
    template, the graph and the Sankeys; no dict is made for an edge or a summary left as it is, and a
    redacted edge keeps its place."""
    if caller.sees_everything:
        return ready_object(up), ready_object(down)
    with registry.engine.connect() as conn:
        visible = visible_lots(conn, caller, {*up.lots, *down.lots})
    names = HiddenNames(visible)  # one numbering for the page: the graph merges both traces
    return (
        redact_typed_trace(up, visible, caller.facilities, names),
        redact_typed_trace(down, visible, caller.facilities, names),
    )


def lot_model(registry: Registry, caller: Principal, lot_id: str) -> dict[str, Any]:
    details = lot_view(registry, caller, lot_id)  # 404 alike for missing and not visible
    traced_up = trace_up(registry, lot_id, max_paths=TRACE_PATHS)
    up, down = _shown(registry, caller, traced_up, trace_down(registry, lot_id))
    # the Sankeys' kilograms (``charts.origin_sankey``), on new dicts: the answer's edges are its own
    flows = _element_kg(registry, lot_id, traced_up)
    up["edges"] = [edge | {"element_kg": kg} for edge, kg in zip(up["edges"], flows, strict=True)]
    composition = details["lot"]["composition"]
    elements = [e for e in sorted(composition, key=lambda e: -composition[e]) if e in REE_SYMBOLS]
    with registry.engine.connect() as conn:
        certificates = certificates_seen(conn, caller, lot_id)
    for summary in certificates:  # one naming another participant's lot is withheld (docs/security.md)
        if isinstance(summary, dict):
            lots = summary.get("lots")
            hidden = (
                [lot for lot in lots if isinstance(lot, str) and lot.startswith("hidden-")]
                if isinstance(lots, list)
                else []
            )
            summary["withheld"] = bool(hidden)
    drawable = len({*up["lots"], *down["lots"]}) <= MAX_DRAWN
    return {
        "details": details,
        "lot": details["lot"],
        "up": up,
        "down": down,
        "lineage_size": len({*up["lots"], *down["lots"]}),
        "graph": charts.lineage_svg(lot_id, up, down) if drawable else None,
        "sankeys": [(e, charts.origin_sankey(lot_id, up, e)) for e in elements[:4]]
        if len(up["lots"]) <= MAX_DRAWN
        else [],
        "verdicts": [as_object(v) for v in check_lots(registry, [lot_id])],
        "certificates": certificates,
        "href": charts.lot_href,
        "view_href": certificate_pages.view_href,
        "download_href": certificate_pages.download_href,
    }


def solve_form(name: str, text: str) -> tuple[Scenario, ScenarioResult]:
    """A shipped scenario by name, or the JSON pasted in the form."""
    if name:
        return shipped(name)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError(f"the scenario is not JSON: {e}", field="scenario") from e
    return solve(data)


def scenario_context(
    text: str, *, solved: tuple[Scenario, ScenarioResult] | None = None, error: str | None = None
) -> dict[str, Any]:
    """The scenario page: the form (shipped names, the text) and, once run, the summary and the
    world report's own charts (unmet demand per month, the Sankey of flows)."""
    context: dict[str, Any] = {
        "text": text,
        "names": list(shipped_scenarios()),
        "error": error,
        "result": None,
        "charts": [],
    }
    if solved is not None:
        scenario, result = solved
        context["result"] = summarize(scenario, result)
        context["charts"] = [
            charts.fragment(unmet_series(scenario, result)),
            charts.fragment(report_sankey(scenario, result)),
        ]
    return context


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        from starlette.exceptions import HTTPException

        raise HTTPException(404, f"no static file {name}")
    return Response(
        static_file(name), media_type=STATIC[name], headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, registry: RegistryDep, caller: WebCaller) -> HTMLResponse:
    cache: dict[str, Any] = request.app.state.share_cache
    return page("dashboard.html", caller, charts_needed=True, **dashboard_model(registry, cache))


@router.get("/login", response_class=HTMLResponse)
def login_form(caller: WebCaller) -> HTMLResponse:
    return page("login.html", caller, error=None)


@router.post("/login")
def login(
    registry: RegistryDep, settings: SettingsDep, token: Annotated[str, Form(max_length=200)]
) -> Response:
    from raretrace.ledger.participants import ANONYMOUS

    try:
        token_principal(registry, token.strip())  # a token naming no live participant is refused here
    except RaretraceError as e:
        return page("login.html", ANONYMOUS, status=401, error=e.message)
    response = RedirectResponse("/lots", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token.strip(),
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        max_age=8 * 3600,
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


LOTS_PER_PAGE = 200


@router.get("/lots", response_class=HTMLResponse)
def lots(registry: RegistryDep, caller: WebCaller, after: str | None = None) -> Response:
    """A page of the lots the caller may see; the next one follows from the last id shown."""
    if caller.id is None:
        return RedirectResponse("/login", status_code=303)
    rows = lot_page(registry, caller, LOTS_PER_PAGE, 0, after or None)
    following = queries.next_after(rows, LOTS_PER_PAGE)
    return page("lots.html", caller, lots=rows, href=charts.lot_href, after=after, following=following)


@router.get("/lots/{lot_id}", response_class=HTMLResponse)
def lot(lot_id: str, registry: RegistryDep, caller: WebCaller) -> Response:
    if caller.id is None:
        return RedirectResponse("/login", status_code=303)
    try:
        model = lot_model(registry, caller, lot_id)
    except RaretraceError as e:
        return error_page(caller, e)
    return page("lot.html", caller, charts_needed=True, **model)


@router.get("/submit", response_class=HTMLResponse)
def submit_form(caller: WebCaller) -> Response:
    if caller.id is None:
        return RedirectResponse("/login", status_code=303)
    return page("submit.html", caller, result=None, error=None, text="")


@router.post("/submit", response_class=HTMLResponse)
async def submit_events(
    registry: RegistryDep,
    caller: WebCaller,
    settings: SettingsDep,
    envelopes: Annotated[str, Form(max_length=16 * 1024 * 1024)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    raw = (await file.read()) if file is not None and file.filename else envelopes.encode("utf-8")
    try:
        batch = split_batch(raw, "application/x-ndjson", settings.max_batch)
        result = await run_in_threadpool(submit, registry, caller, batch)
    except RaretraceError as e:
        status, _, title = classify(e)
        detail = f"{e.context}: {e.message}" if e.context else e.message
        return page(
            "submit.html", caller, status=status, result=None, error=f"{title}: {detail}", text=envelopes
        )
    return page("submit.html", caller, status=201, result=result, error=None, text="")


@router.get("/verify", response_class=HTMLResponse)
def verify_form(caller: WebCaller) -> HTMLResponse:
    return page("verify.html", caller, report=None, error=None, text="", stated=None)


@router.post("/verify", response_class=HTMLResponse)
async def verify_page(
    registry: RegistryDep,
    caller: WebCaller,
    certificate: Annotated[str, Form(max_length=16 * 1024 * 1024)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse:
    raw = (
        (await file.read()).decode("utf-8", "replace") if file is not None and file.filename else certificate
    )
    try:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ValidationError(f"the certificate is not JSON: {e}", field="certificate") from e
        if not isinstance(data, dict):
            raise ValidationError("a certificate is a JSON object", field="certificate")
        report = await run_in_threadpool(verify_for, registry, VerifyRequest(certificate=data))
    except RaretraceError as e:
        return page(
            "verify.html", caller, status=422, report=None, error=e.message, text=certificate, stated=None
        )
    return page("verify.html", caller, report=report, error=None, text="", stated=stated_facts(data))


def stated_facts(presentation: dict[str, Any]) -> CertificateView | None:
    """What the certificate says it certifies (parties, lots, mass, value, origin by stage, verdicts),
    as the printable page shows it; None when its disclosures do not match what was signed."""
    from raretrace.certify.view import certificate_view

    try:
        return certificate_view(presentation)
    except RaretraceError:
        return None


@router.get("/scenario", response_class=HTMLResponse)
def scenario_form(caller: WebCaller) -> Response:
    if caller.id is None:
        return RedirectResponse("/login", status_code=303)
    example = static_file("scenario-example.json").decode("utf-8")
    return page("scenario.html", caller, **scenario_context(example))


@router.post("/scenario", response_class=HTMLResponse)
async def scenario_page(
    caller: WebCaller,
    scenario: Annotated[str, Form(max_length=4 * 1024 * 1024)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        require_participant(caller, action="running scenarios")
        solved = await run_in_threadpool(solve_form, name, scenario)
    except RaretraceError as e:
        status, _, _ = classify(e)
        return page("scenario.html", caller, status=status, **scenario_context(scenario, error=e.message))
    return page("scenario.html", caller, charts_needed=True, **scenario_context(scenario, solved=solved))


def install(app: FastAPI) -> None:
    """Mount the pages (the desk's page and API route with them) and the static files."""
    from raretrace.server import desk

    app.state.share_cache = {}
    app.include_router(router)
    app.include_router(desk.router)
    app.include_router(certificate_pages.router)
