"""Security analytics over the API: world concentration by stage (public) and export-ban scenarios
(participants). The figures come from ``raretrace.world`` with their sources."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from raretrace.errors import NotFoundError, ValidationError
from raretrace.io import package_json_folder
from raretrace.server.access import require_participant
from raretrace.server.deps import Caller
from raretrace.server.problems import responses
from raretrace.world.data import WorldData
from raretrace.world.economics import FloorFee, PlatformCost, PremiumFigure, SensitivityRow, economics
from raretrace.world.element_cost import BasisSpread, CrisisRow, ElementLine, element_economics
from raretrace.world.metrics import Concentration, concentration_table, seed_check, stage_shares
from raretrace.world.report import DependenceRow, dependence_rows, scenario_tables
from raretrace.world.scenario import Allocation, Flow, Scenario, ScenarioResult, run

router = APIRouter(prefix="/api/v1", tags=["world"], responses=responses(401, 403, 422))

MAX_MONTHS = 240  # a scenario's horizon: 20 years of monthly linear programs is plenty
SHARE_STAGES = ("mining", "separation", "metallization", "magnet")


@lru_cache(maxsize=1)
def world() -> WorldData:
    return WorldData.load()


class _Out(BaseModel):
    """Every answer model refuses fields it does not declare: the schema is the contract. Rows that are
    frozen dataclasses of ``raretrace.world`` are used as they are (pydantic reads their typed fields)."""

    model_config = ConfigDict(extra="forbid")


Range = tuple[float, float]


class ElementCostOut(_Out):
    """A ``PlatformElementCost`` with its two totals (properties there) as fields."""

    platform: str
    content_kg: float
    reading: str
    lines: list[ElementLine]
    magnet_premium_usd: Range
    china_usd: Range
    premium_usd: Range


class EconomicsOut(_Out):
    """``raretrace economics --json``: premiums, cost per platform, the floor fee, the sensitivity, and
    the element-true tables (cost per platform by element, crisis multipliers, oxide/metal/alloy bases)."""

    premiums: list[PremiumFigure]
    stage_ranges: dict[str, Range]
    platform_costs: list[PlatformCost]
    floor: FloorFee
    floor_row: str
    sensitivity: list[SensitivityRow]
    element_costs: list[ElementCostOut]
    crises: list[CrisisRow]
    bases: list[BasisSpread]


def economics_answer(members: int) -> EconomicsOut:
    """The same object the CLI prints with ``--json``, checked against the declared model."""
    data = world()
    return EconomicsOut.model_validate(
        {**economics(data, members).to_dict(), **element_economics(data).to_dict()}
    )


@router.get("/world/economics", summary="What secure supply costs, element by element (public)")
def world_economics(members: Annotated[int | None, Query(ge=1, le=500)] = None) -> EconomicsOut:
    """``members`` shares the floor fee (default: the consortium regime's members)."""
    from raretrace.ledger.members import consortium_member_count

    return economics_answer(members or consortium_member_count())


class StageShareOut(_Out):
    stage: str
    year: int
    shares: dict[str, float]  # country -> share, largest first
    unallocated: float
    basis: str
    sources: list[str]


class NotPublishedOut(_Out):
    """A stage the world data has no published figures for, and why (said, not silently left out)."""

    stage: str
    reason: str


class StageSharesOut(_Out):
    stages: list[StageShareOut]
    not_published: list[NotPublishedOut]


class ConcentrationOut(_Out):
    concentration: list[Concentration]


class DependenceOut(_Out):
    dependence: list[DependenceRow]


def stage_share_table() -> list[dict[str, object]]:
    """``stage_share_rows`` as plain rows, for the dashboard's chart."""
    return [row.model_dump() for row in stage_share_rows()[0]]


def stage_share_rows() -> tuple[list[StageShareOut], list[NotPublishedOut]]:
    """Each stage with published data: the share of each country, what is unallocated, and sources;
    and each stage without figures, with the reason (the API says which it could not show and why)."""
    out = []
    not_published: list[NotPublishedOut] = []
    for stage in SHARE_STAGES:
        try:
            dist = stage_shares(world(), stage)
        except ValidationError as e:
            not_published.append(NotPublishedOut(stage=stage, reason=e.message))
            continue
        out.append(
            StageShareOut(
                stage=dist.stage,
                year=dist.year,
                shares=dict(sorted(dist.shares.items(), key=lambda kv: -kv[1])),
                unallocated=dist.unallocated,
                basis=dist.basis,
                sources=list(dist.sources),
            )
        )
    return out, not_published


@router.get("/world/stage-shares", summary="Share of each stage by country, world (public)")
def world_stage_shares() -> StageSharesOut:
    rows, not_published = stage_share_rows()
    return StageSharesOut(stages=rows, not_published=not_published)


@router.get("/world/concentration", summary="China's share and HHI bounds per stage (public)")
def world_concentration() -> ConcentrationOut:
    return ConcentrationOut(concentration=concentration_table(world()))


@router.get("/world/dependence", summary="China's share per stage against the seed figures (public)")
def world_dependence() -> DependenceOut:
    return DependenceOut(dependence=dependence_rows(world(), seed_check(world())))


Json = dict[str, object]  # a JSON object as read (a scenario file), checked by the model that reads it
Tables = dict[str, list[dict[str, object]]]  # the report's tables by name: rows of plain values


def shipped_scenarios() -> dict[str, Json]:
    """The scenarios shipped in ``data/scenarios``, by name (only these can be named in a URL)."""
    return {name: dict(doc) for name, doc in package_json_folder("data/scenarios").items()}


def solve(data: object) -> tuple[Scenario, ScenarioResult]:
    scenario = Scenario.from_dict(data)
    if len(scenario.months()) > MAX_MONTHS:
        raise ValidationError(f"the horizon is limited to {MAX_MONTHS} months", field="scenario.horizon")
    return scenario, run(scenario)


@lru_cache(maxsize=8)
def _shipped_result(name: str) -> tuple[Scenario, ScenarioResult]:
    return solve(shipped_scenarios()[name])


def shipped(name: str) -> tuple[Scenario, ScenarioResult]:
    known = shipped_scenarios()
    if name not in known:
        raise NotFoundError(f"no shipped scenario {name} (shipped: {', '.join(known)})", field="name")
    return _shipped_result(name)


class ScenarioListOut(_Out):
    scenarios: dict[str, Json]


class TablesOut(_Out):
    tables: Tables


class SegmentTotals(_Out):
    demand_t: float = 0.0
    met_t: float = 0.0
    unmet_t: float = 0.0


class ScenarioRunOut(_Out):
    """Unmet demand per segment and in total, the stockpile drawn, every allocation and flow."""

    scenario: str
    unmet_t: float
    segments: dict[str, SegmentTotals]
    stock_used_t: dict[str, float]
    rows: list[Allocation]
    flows: list[Flow]


@router.get("/scenarios", summary="The shipped scenarios (public)")
def list_scenarios() -> ScenarioListOut:
    return ScenarioListOut(scenarios=shipped_scenarios())


@router.get("/scenarios/{name}", summary="A shipped scenario's result tables (participants)")
def shipped_tables(name: str, caller: Caller) -> TablesOut:
    require_participant(caller, action="running scenarios")
    return TablesOut(tables=scenario_tables(*shipped(name)))


def run_scenario(data: Json) -> ScenarioRunOut:
    return summarize(*solve(data))


def summarize(scenario: Scenario, result: ScenarioResult) -> ScenarioRunOut:
    segments: dict[str, SegmentTotals] = {}
    for row in result.rows:
        totals = segments.setdefault(row.segment, SegmentTotals())
        totals.demand_t += row.demand_t
        totals.met_t += row.met_t
        totals.unmet_t += row.unmet_t
    return ScenarioRunOut(
        scenario=result.scenario,
        unmet_t=result.unmet(),
        segments=segments,
        stock_used_t=dict(result.stock_used),
        rows=list(result.rows),
        flows=list(result.flows),
    )


@router.post("/scenarios/run", summary="Run an export-ban scenario (participants)")
def scenario_run(
    caller: Caller,
    scenario: Json = Body(description="A scenario (see raretrace.world.scenario)"),  # noqa: B008
) -> ScenarioRunOut:
    """Who gets the rare earths left under a ban, month by month (linear program per element)."""
    require_participant(caller, action="running scenarios")
    return run_scenario(scenario)


@lru_cache(maxsize=1)
def _report() -> tuple[str, Tables]:
    """The security-analytics report of the shipped scenarios and the default forecast plan, as
    `raretrace report` writes it (10,000 paths, seed 0): computed once per process, a few seconds."""
    from raretrace.ledger.members import consortium_member_count
    from raretrace.world.independence import Plan
    from raretrace.world.report import analyse, render_html, tables

    scenarios = [_shipped_result(name)[0] for name in shipped_scenarios()]
    analysis = analyse(scenarios, Plan.load(), members=consortium_member_count(), data=world())
    return render_html(analysis), tables(analysis)


@router.get(
    "/report",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}},
    summary="The security-analytics report, self-contained HTML (participants)",
)
def report_html(caller: Caller) -> HTMLResponse:
    """Sankey of flows per scenario, unmet demand per month, forecast bands, dependence and economics,
    with plotly inlined: the page works offline once saved."""
    require_participant(caller, action="reading the analytics report")
    return HTMLResponse(_report()[0])


@router.get("/report/tables", summary="Every table of the security-analytics report (participants)")
def report_tables(caller: Caller) -> Tables:
    require_participant(caller, action="reading the analytics report")
    return _report()[1]
