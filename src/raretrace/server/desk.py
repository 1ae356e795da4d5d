"""The compliance desk: judge one lot, a search's lots or an uploaded bill of material for a chosen day,
end use and set of regimes, with the clause that decided each verdict and how each verdict will change
on the days the regimes' files say their rules change (``ledger.upcoming``).

The page (``/desk``) and the API (``POST /api/v1/check/upcoming``) ask the same function, so both
judge only lots the caller may see (docs/security.md): a lot that does not exist and another
participant's get the same answer, in a bill of material with the row that names it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams

from raretrace.bom import BomError, BomLine, parse_bom
from raretrace.errors import RaretraceError, ValidationError
from raretrace.jsontypes import JSONObject
from raretrace.ledger.compliance import prepare, today
from raretrace.ledger.participants import Principal
from raretrace.ledger.registry import Registry
from raretrace.ledger.search import parse_day
from raretrace.ledger.upcoming import Outlook, upcoming
from raretrace.render.jsonable import as_object
from raretrace.rules import load_regimes
from raretrace.rules.judging import END_USES
from raretrace.server.access import not_found, require_lots, require_participant, visible_lots
from raretrace.server.api_lots import CheckRequest
from raretrace.server.deps import Caller, RegistryDep, WebCaller
from raretrace.server.problems import responses

router = APIRouter()

#: Lots one desk question may judge (a search matching more is refused with advice to narrow it).
MAX_LOTS = 1000


@dataclass(frozen=True)
class Question:
    """What the desk is asked: which lots (with the kilograms a bill of material takes of each), on
    which day, for which end use, under which regimes (none: every regime)."""

    lots: tuple[str, ...]
    regimes: tuple[str, ...] = ()
    as_of: date | None = None
    end_use: str | None = None
    as_one: bool = False
    quantities: Mapping[str, float] | None = None
    assertions: tuple[str, ...] = ()
    until: date | None = None


@dataclass(frozen=True)
class Answer:
    """The desk's answer: the day and end use used, and each verdict with its upcoming changes (the
    fields in the order of the JSON ``render.jsonable`` makes of it, the API's ``UpcomingAnswer``)."""

    as_of: date
    end_use: str | None
    outlooks: tuple[Outlook, ...] = field(default=())


def judge(registry: Registry, caller: Principal, question: Question) -> Answer:
    """Verdicts and upcoming changes for lots the caller may see (404 alike for the others)."""
    require_participant(caller, action="checking compliance")
    if not question.lots:
        raise ValidationError("give at least one lot to judge", field="lots")
    if len(question.lots) > MAX_LOTS:
        raise ValidationError(
            f"{len(question.lots):,} lots; the desk judges up to {MAX_LOTS:,}", field="lots"
        )
    with registry.engine.connect() as conn:
        require_lots(conn, caller, question.lots)
    judging = prepare(
        registry,
        question.lots,
        regimes=question.regimes or None,
        end_use=question.end_use,
        as_one=question.as_one,
        assertions=question.assertions,
        quantities=question.quantities,
    )
    day = question.as_of or today()
    return Answer(day, judging.end_use, tuple(upcoming(judging, day, question.until)))


def bom_question(registry: Registry, caller: Principal, lines: Sequence[BomLine]) -> dict[str, float]:
    """The kilograms of each lot a bill of material takes, once every row names a lot the caller may
    see and takes no more than the lot's mass; otherwise every bad row is reported at once."""
    ids = [line.lot for line in lines]
    with registry.engine.connect() as conn:
        seen = visible_lots(conn, caller, ids)
        found = registry.store.lots(conn, sorted(seen))
    problems: list[str] = []
    for line in lines:
        if line.lot not in seen:
            problems.append(f"row {line.row}, column lot: {not_found(line.lot).message}")
        elif line.kg > found[line.lot].spec.mass_kg:
            mass = found[line.lot].spec.mass_kg
            problems.append(
                f"row {line.row}, column quantity_kg: {line.kg:g} kg is more than the lot's {mass:g} kg"
            )
    if problems:
        raise BomError(problems)
    return {line.lot: line.kg for line in lines}


# --- the API ---------------------------------------------------------------------------------------


class UpcomingRequest(CheckRequest):
    until: date | None = Field(default=None, description="list changes up to this day (default: all known)")


class ChangeOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: str = Field(alias="from", description="the first day of the new verdict (YYYY-MM-DD)")
    outcome: str
    decided_by: list[str] = Field(description="the rules (clauses) that decide the new verdict")
    because: str = Field(description="the deciding findings on that day")


class OutlookOut(BaseModel):
    regime: str
    subject: list[str]
    as_of: str
    outcome: str
    decided_by: list[str] = Field(description="the rules (clauses) that decided the verdict")
    changes: list[ChangeOut] = Field(description="each later change of the outcome, in date order")
    summary: str = Field(description='e.g. "passes US DFARS 252.225-7052 today; fails from 2027-01-01: …"')


class UpcomingAnswer(BaseModel):
    as_of: str = Field(description="the day judged")
    end_use: str | None = Field(description="the end use judged for (null: not given)")
    outlooks: list[OutlookOut]


@router.post(
    "/api/v1/check/upcoming",
    summary="Compliance verdicts and how each will change on the regimes' change days",
    response_model=UpcomingAnswer,
    tags=["lots"],
    responses=responses(401, 403, 404, 422),
)
def check_upcoming(body: UpcomingRequest, registry: RegistryDep, caller: Caller) -> JSONObject:
    """Each verdict of ``/check`` with the days after ``as_of`` on which a regime's file changes what
    binds (a rule coming into force, a suspension ending) and the verdict changes, with the clause
    that decides it then."""
    question = Question(
        lots=tuple(body.lots),
        regimes=tuple(body.regimes or ()),
        as_of=body.as_of,
        end_use=body.end_use,
        as_one=body.as_one,
        assertions=tuple(body.assertions),
        until=body.until,
    )
    return as_object(judge(registry, caller, question))


# --- the page --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeskForm:
    """The desk form as typed, shown again with the answer."""

    lots: str = ""
    search: str = ""
    as_of: str = ""
    end_use: str = ""
    regimes: tuple[str, ...] = ()
    as_one: bool = False


def _lot_list(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(text.replace(",", " ").split()))


def search_lots(registry: Registry, caller: Principal, search: str) -> tuple[str, ...]:
    """The lots a search page's query matches (as the caller may see them), at most ``MAX_LOTS``."""
    from raretrace.server.api_search import query_from, run_search

    params = QueryParams(
        [(k, v) for k, v in parse_qsl(search, keep_blank_values=False) if k not in ("limit", "offset")]
    )
    # a page of MAX_LOTS: the total says whether there are more, without reading them all
    result = run_search(registry, caller, replace(query_from(params, download=True), limit=MAX_LOTS))
    if result.total > MAX_LOTS:
        raise ValidationError(
            f"the search matches {result.total:,} lots; the desk judges up to {MAX_LOTS:,}: narrow it first",
            field="search",
        )
    return tuple(hit.id for hit in result.lots)


def _lots(count: int) -> str:
    return "1 lot" if count == 1 else f"{count:,} lots"


def _question(
    registry: Registry, caller: Principal, form: DeskForm, bom: bytes | None
) -> tuple[Question, str]:
    """The question a form asks and what it judges, in words; a bill of material is one item."""
    require_participant(caller, action="checking compliance")
    as_of = parse_day(form.as_of, "as_of")
    end_use = form.end_use or None
    if bom is not None:
        quantities = bom_question(registry, caller, parse_bom(bom))
        question = Question(tuple(quantities), form.regimes, as_of, end_use, True, quantities)
        return question, f"the bill of material ({_lots(len(quantities))} judged as one item)"
    if form.search:
        lots = search_lots(registry, caller, form.search)
        if not lots:
            raise ValidationError("the search matches no lot you may see", field="search")
        return Question(lots, form.regimes, as_of, end_use, form.as_one), f"the search's {_lots(len(lots))}"
    lots = _lot_list(form.lots)
    described = _lots(len(lots))
    return Question(lots, form.regimes, as_of, end_use, form.as_one), described + (
        " as one item" if form.as_one else ""
    )


def _render(
    caller: Principal,
    form: DeskForm,
    *,
    answer: Answer | None = None,
    what: str = "",
    problems: Sequence[str] = (),
    status: int = 200,
) -> HTMLResponse:
    from raretrace.server import charts
    from raretrace.server.web import page

    return page(
        "desk.html",
        caller,
        status=status,
        form=form,
        answer=answer,
        what=what,
        problems=list(problems),
        regimes=[(r.id, r.title) for r in load_regimes(()).values()],
        end_uses=END_USES,
        today=today().isoformat(),
        href=charts.lot_href,
        search_link="/search?" + form.search if form.search else None,
    )


def _answer(registry: Registry, caller: Principal, form: DeskForm, bom: bytes | None) -> HTMLResponse:
    from raretrace.server.problems import classify

    try:
        question, what = _question(registry, caller, form, bom)
        answer = judge(registry, caller, question)
    except BomError as e:
        return _render(caller, form, problems=e.problems, status=422)
    except RaretraceError as e:
        status, _, title = classify(e)
        where = f"{e.field}: " if e.field else ""
        return _render(caller, form, problems=[f"{title}: {where}{e.message}"], status=status)
    return _render(caller, form, answer=answer, what=what)


@router.get("/desk", response_class=HTMLResponse, include_in_schema=False)
def desk_page(request: Request, registry: RegistryDep, caller: WebCaller) -> Response:
    """The form; with ``lot`` (repeatable) or ``search`` (a search page's query) the answer too."""
    if caller.id is None:
        return RedirectResponse("/login", status_code=303)
    given = request.query_params
    form = DeskForm(
        lots="\n".join(given.getlist("lot")),
        search=given.get("search", ""),
        as_of=given.get("as_of", ""),
        end_use=given.get("end_use", ""),
        regimes=tuple(given.getlist("regime")),
        as_one=given.get("as_one") in ("1", "on", "true"),
    )
    if not form.lots and not form.search:
        return _render(caller, form)
    return _answer(registry, caller, form, None)


@router.post("/desk", response_class=HTMLResponse, include_in_schema=False)
async def desk_post(
    request: Request,
    registry: RegistryDep,
    caller: WebCaller,
    lots: Annotated[str, Form(max_length=200_000)] = "",
    search: Annotated[str, Form(max_length=4000)] = "",
    as_of: Annotated[str, Form(max_length=20)] = "",
    end_use: Annotated[str, Form(max_length=100)] = "",
    as_one: Annotated[str, Form(max_length=10)] = "",
    bom: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The form sent: a bill of material (CSV upload) if one is attached, else the lots typed."""
    if caller.id is None:
        return RedirectResponse("/login", status_code=303)
    regimes = tuple(str(v) for v in (await request.form()).getlist("regime"))
    raw = (await bom.read()) if bom is not None and bom.filename else None
    form = DeskForm(lots, search, as_of, end_use, regimes, as_one in ("1", "on", "true"))
    return await run_in_threadpool(_answer, registry, caller, form, raw)
