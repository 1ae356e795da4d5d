"""Export-ban scenarios: who gets the rare earths that are left, month by month.

A scenario is data (``Scenario.from_dict`` of a JSON object): an exporter restricts some stages of its
output to some destination countries (optionally only for some end uses) from a start to an end month,
approving a fraction of the restricted flow (the licence approval rate). Destination countries hold
stockpiles by element. Supply lines (country, stage, element, t/month) feed demand lines (segment, country,
element, t/month).

Each month and element is allocated by a linear program solved with ``scipy.optimize.linprog`` (HiGHS):

    variables  x[s,d,t] >= 0  supply line s -> demand line d in month t (same element)
               w[d,t]   >= 0  stockpile draw for demand d (destination countries only)
               u[d,t]   >= 0  unmet demand
    (1) for each d, t:   sum_s x[s,d,t] + w[d,t] + u[d,t] = demand_d
    (2) for each s, t:   sum_d x[s,d,t] <= capacity_s           (line active in month t)
    (3) for each restricted s and t in the ban window:
                         sum_{d covered} x[s,d,t] <= approval_rate * capacity_s
    (4) for each element: sum_{d,t} w[d,t] <= stockpile
    objective: lexicographic — minimise unmet demand of the first priority segment(s), fix that optimum,
               then the next, then everyone else — or weighted (sum of weight x unmet), or none (plain
               total); then, with unmet demand fixed, minimise stockpile use; finally, with that fixed too,
               the stockpile rule decides WHEN it is drawn: "latest" (default) keeps the reserve as long as
               the shortfall allows, "earliest" serves the first short months (a cost rising by month).

A source line is *restricted* when its country is the exporter and its stage is listed; a demand line is
*covered* when its country is a destination and (no end uses listed or its segment is one of them).
Elements never share a constraint, so each element is solved on its own. Besides elements, a line may
name the commodities ``NdPr`` (NdPr oxide) and ``NdFeB`` (magnets), the units the capacity table uses.

A demand entry either states its line (segment, country, element, t/month) or asks for the published
figures: ``{"from": "world", "commodity": "NdFeB", "region": "CN", "year": 2024, ...}`` turns the
tonnages of ``data/world/demand.json`` into one line per segment (``raretrace.world.demand.world_lines``),
so a scenario runs on sourced demand instead of copying numbers by hand, and a missing segment, element,
region or year stops ``from_dict`` with an error naming the field.

The result also carries the flows the solution routes (supply country and stage -> demand segment and
country, stockpile draws, unmet demand) summed over the horizon: what the report's Sankey draws.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, csr_matrix, vstack

from raretrace.elements import parse_element
from raretrace.errors import RaretraceError, ValidationError
from raretrace.fields import Fields
from raretrace.world.data import STAGES, WorldData
from raretrace.world.demand import WorldDemandRequest, world_lines
from raretrace.world.lines import COMMODITIES, DemandLine, SupplyLine, month_index, month_text

MODES = ("lexicographic", "weighted", "none")
STOCKPILE_RULES = ("latest", "earliest")


@dataclass(frozen=True)
class Scenario:
    name: str
    exporter: str
    stages: tuple[str, ...]
    destinations: tuple[str, ...]
    end_uses: tuple[str, ...]  # empty: every end use is covered
    start: str
    end: str
    approval_rate: float
    stockpiles: Mapping[str, float]
    supply: tuple[SupplyLine, ...]
    demand: tuple[DemandLine, ...]
    horizon_start: str
    horizon_end: str
    priority_mode: str = "none"
    priority_order: tuple[str, ...] = ()
    weights: Mapping[str, float] = field(default_factory=dict)
    #: element -> market parameters (``raretrace.world.scenario_market``); empty: quantities only
    market: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    #: when the stockpile is drawn, once how much is fixed: "latest" keeps the reserve as long as the
    #: shortfall allows (drawn in the last short months), "earliest" serves the first short months
    stockpile_rule: str = "latest"

    def __post_init__(self) -> None:
        if not 0.0 <= self.approval_rate <= 1.0:
            raise ValidationError("must be between 0 and 1", field="scenario.approval_rate")
        if month_index(self.start, "scenario.start") > month_index(self.end, "scenario.end"):
            raise ValidationError("the ban ends before it starts", field="scenario.end")
        if month_index(self.horizon_start, "scenario.horizon.start") > month_index(
            self.horizon_end, "scenario.horizon.end"
        ):
            raise ValidationError("the horizon ends before it starts", field="scenario.horizon.end")
        if self.priority_mode not in MODES:
            raise ValidationError(f"must be one of {', '.join(MODES)}", field="scenario.priority.mode")
        if self.stockpile_rule not in STOCKPILE_RULES:
            raise ValidationError(
                f"must be one of {', '.join(STOCKPILE_RULES)}", field="scenario.stockpile_rule"
            )
        for stage in self.stages:
            if stage not in STAGES:
                raise ValidationError(f"unknown stage {stage!r}", field="scenario.stages")
        for i, line in enumerate(self.supply):
            if line.stage not in STAGES:
                raise ValidationError(f"unknown stage {line.stage!r}", field=f"scenario.supply[{i}].stage")

    def months(self) -> list[int]:
        return list(range(month_index(self.horizon_start), month_index(self.horizon_end) + 1))

    def in_ban(self, month: int) -> bool:
        return month_index(self.start) <= month <= month_index(self.end)

    def restricted(self, line: SupplyLine) -> bool:
        return line.country == self.exporter and line.stage in self.stages

    def covered(self, line: DemandLine) -> bool:
        return line.country in self.destinations and (not self.end_uses or line.segment in self.end_uses)

    def to_dict(self) -> dict[str, object]:
        """The JSON shape ``from_dict`` reads (round-trips)."""
        priority: dict[str, object] = {"mode": self.priority_mode, "order": list(self.priority_order)}
        if self.weights:
            priority["weights"] = dict(self.weights)
        return {
            "name": self.name,
            "exporter": self.exporter,
            "stages": list(self.stages),
            "destinations": list(self.destinations),
            "end_uses": list(self.end_uses),
            "start": self.start,
            "end": self.end,
            "horizon": {"start": self.horizon_start, "end": self.horizon_end},
            "approval_rate": self.approval_rate,
            "stockpiles": dict(self.stockpiles),
            "priority": priority,
            "supply": [
                {
                    "country": s.country,
                    "stage": s.stage,
                    "element": s.element,
                    "t_per_month": s.t_per_month,
                    **({"from": s.first} if s.first else {}),
                    **({"to": s.last} if s.last else {}),
                }
                for s in self.supply
            ],
            "demand": [
                {
                    "segment": d.segment,
                    "country": d.country,
                    "element": d.element,
                    "t_per_month": d.t_per_month,
                    **({"source": d.source} if d.source else {}),
                }
                for d in self.demand
            ],
            **({"market": {k: dict(v) for k, v in self.market.items()}} if self.market else {}),
            "stockpile_rule": self.stockpile_rule,
        }

    @classmethod
    def from_dict(cls, data: object, world: WorldData | None = None) -> Scenario:
        """Validate a scenario; ``world`` is the data ``{"from": "world"}`` demand entries read (default:
        the shipped package data, loaded only when such an entry is present)."""
        if not isinstance(data, dict):
            raise ValidationError("a scenario is a JSON object", field="scenario")
        r = _Fields(data, "scenario")
        horizon = data.get("horizon") or {}
        if not isinstance(horizon, dict):
            raise ValidationError("must be an object with start and end", field="scenario.horizon")
        start, end = r.month("start"), r.month("end")
        priority = data.get("priority") or {"mode": "none"}
        if not isinstance(priority, dict):
            raise ValidationError("must be an object", field="scenario.priority")
        p = _Fields(priority, "scenario.priority")
        stockpiles = data.get("stockpiles") or {}
        if not isinstance(stockpiles, dict):
            raise ValidationError("must be an object element -> tonnes", field="scenario.stockpiles")
        return cls(
            name=r.text("name"),
            exporter=r.country("exporter"),
            stages=tuple(r.texts("stages", required=True)),
            destinations=tuple(r.texts("destinations", required=True)),
            end_uses=tuple(r.texts("end_uses")),
            start=start,
            end=end,
            approval_rate=r.amount("approval_rate"),
            stockpiles={
                _element(k, f"scenario.stockpiles.{k}"): _Fields(stockpiles, "scenario.stockpiles").amount(k)
                for k in stockpiles
            },
            supply=tuple(
                SupplyLine(
                    f.country("country"),
                    f.text("stage"),
                    f.element("element"),
                    f.amount("t_per_month"),
                    f.optional_month("from"),
                    f.optional_month("to"),
                )
                for f in r.tables("supply", required=True)
            ),
            demand=_demand(r.tables("demand", required=True), world),
            horizon_start=_Fields(horizon, "scenario.horizon").optional_month("start") or start,
            horizon_end=_Fields(horizon, "scenario.horizon").optional_month("end") or end,
            priority_mode=p.text("mode"),
            priority_order=tuple(p.texts("order")),
            weights=_weights(priority.get("weights") or {}),
            market=_market(data.get("market") or {}),
            stockpile_rule=r.text("stockpile_rule") if "stockpile_rule" in data else "latest",
        )


@dataclass(frozen=True)
class Allocation:
    segment: str
    element: str
    month: str
    demand_t: float
    met_t: float  # from supply and stockpile
    unmet_t: float


@dataclass(frozen=True)
class Flow:
    """Tonnes routed over the whole horizon from a source to a demand line.

    ``source_country``/``source_stage`` name a supply line; a stockpile draw has stage "stockpile" and
    the holder's country; unmet demand has stage "unmet" and country ""."""

    element: str
    source_country: str
    source_stage: str
    segment: str
    country: str
    tonnes: float


@dataclass(frozen=True)
class ScenarioResult:
    scenario: str
    rows: tuple[Allocation, ...]  # one per segment, element and month (summed over countries)
    stock_used: Mapping[str, float]  # element -> tonnes drawn
    flows: tuple[Flow, ...] = ()

    def unmet(
        self, segment: str | None = None, element: str | None = None, month: str | None = None
    ) -> float:
        """Total unmet tonnes, optionally for one segment, element and/or month."""
        return sum(
            a.unmet_t
            for a in self.rows
            if (segment is None or a.segment == segment)
            and (element is None or a.element == element)
            and (month is None or a.month == month)
        )


#: Called after each element is solved with (element, months solved so far, months in total).
Progress = Callable[[str, int, int], None]


def run(scenario: Scenario, progress: Progress | None = None) -> ScenarioResult:
    """Allocate supply to demand for every element and month of the horizon (see the module docstring)."""
    rows: list[Allocation] = []
    flows: list[Flow] = []
    stock_used: dict[str, float] = {}
    elements = sorted({d.element for d in scenario.demand})
    months = len(scenario.months())
    for k, element in enumerate(elements):
        element_rows, used, element_flows = _solve_element(scenario, element)
        rows.extend(element_rows)
        flows.extend(element_flows)
        stock_used[element] = used
        if progress is not None:
            progress(element, (k + 1) * months, len(elements) * months)
    return ScenarioResult(scenario.name, tuple(rows), stock_used, tuple(flows))


def _solve_element(scenario: Scenario, element: str) -> tuple[list[Allocation], float, list[Flow]]:
    lp = _ElementLP(scenario, element)
    demand = lp.demand
    if scenario.priority_mode == "lexicographic":
        levels = [{segment} for segment in scenario.priority_order]
        levels.append({d.segment for d in demand} - set(scenario.priority_order))
        for level in levels:
            cost = lp.unmet_cost(level)
            if cost.any():
                lp.fix(cost, lp.solve(cost))
    else:
        cost = lp.unmet_cost(None, scenario.weights if scenario.priority_mode == "weighted" else None)
        lp.fix(cost, lp.solve(cost))
    # With unmet demand fixed, keep as much stockpile as possible; the small unmet term stops the final
    # solve from spending the optimum's numerical slack on extra shortfall.
    final = lp.stock_cost() + 1e-3 * lp.unmet_cost(None)
    solution = lp.solve(final)
    if lp.holders:  # then the explicit timing rule, with the amount drawn fixed
        lp.fix(final, solution)
        solution = lp.solve(lp.timing_cost(scenario.stockpile_rule) + 1e-3 * lp.unmet_cost(None))

    rows = []
    for segment in sorted({d.segment for d in demand}):
        js = [j for j, d in enumerate(demand) if d.segment == segment]
        for t, month in enumerate(lp.months):
            want = sum(demand[j].t_per_month for j in js)
            short = float(sum(solution[lp.u(j, t)] for j in js))
            short = 0.0 if short < 1e-9 * max(1.0, want) else min(short, want)
            rows.append(Allocation(segment, element, month_text(month), want, want - short, short))
    used = float(sum(solution[lp.w_col[j] + t] for j in lp.holders for t in range(lp.n_t)))
    return rows, used, _flows(lp, solution, element)


def _flows(lp: _ElementLP, solution: np.ndarray, element: str) -> list[Flow]:
    """Sum the solution over months into flows keyed by source and demand line (tiny values dropped)."""
    totals: dict[tuple[str, str, str, str], float] = {}

    def add(key: tuple[str, str, str, str], tonnes: float) -> None:
        if tonnes > 1e-9:
            totals[key] = totals.get(key, 0.0) + tonnes

    for j, d in enumerate(lp.demand):
        for i, s in enumerate(lp.supply):
            start = lp.x(i, j, 0)
            add((s.country, s.stage, d.segment, d.country), float(solution[start : start + lp.n_t].sum()))
        if j in lp.w_col:
            start = lp.w_col[j]
            add((d.country, "stockpile", d.segment, d.country), float(solution[start : start + lp.n_t].sum()))
        start = lp.u(j, 0)
        add(("", "unmet", d.segment, d.country), float(solution[start : start + lp.n_t].sum()))
    return [Flow(element, *key, tonnes) for key, tonnes in sorted(totals.items())]


class _ElementLP:
    """The LP of one element. Variable layout: x (n_s*n_d*n_t), then w (holders*n_t), then u (n_d*n_t)."""

    def __init__(self, scenario: Scenario, element: str) -> None:
        self.name = f"scenario {scenario.name!r}, element {element}"
        self.months = scenario.months()
        self.supply = [s for s in scenario.supply if s.element == element]
        self.demand = [d for d in scenario.demand if d.element == element]
        stock = scenario.stockpiles.get(element, 0.0)
        self.n_t, self.n_s, self.n_d = len(self.months), len(self.supply), len(self.demand)
        self.holders = (
            [j for j, d in enumerate(self.demand) if d.country in scenario.destinations] if stock > 0 else []
        )
        w0 = self.n_s * self.n_d * self.n_t
        self.w_col = {j: w0 + k * self.n_t for k, j in enumerate(self.holders)}
        self.u0 = w0 + len(self.holders) * self.n_t
        self.n_var = self.u0 + self.n_d * self.n_t
        self.extra_rows: list[np.ndarray] = []
        self.extra_b: list[float] = []
        self._build_eq()
        self._build_ub(scenario, stock)

    def x(self, i: int, j: int, t: int) -> int:
        return (i * self.n_d + j) * self.n_t + t

    def u(self, j: int, t: int) -> int:
        return self.u0 + j * self.n_t + t

    def _build_eq(self) -> None:
        rows: list[int] = []
        cols: list[int] = []
        b: list[float] = []
        for j, d in enumerate(self.demand):  # (1)
            for t in range(self.n_t):
                these = [self.x(i, j, t) for i in range(self.n_s)] + [self.u(j, t)]
                if j in self.w_col:
                    these.append(self.w_col[j] + t)
                rows += [len(b)] * len(these)
                cols += these
                b.append(d.t_per_month)
        self.a_eq = coo_matrix(([1.0] * len(rows), (rows, cols)), shape=(len(b), self.n_var)).tocsr()
        self.b_eq = np.array(b, dtype=float)

    def _build_ub(self, scenario: Scenario, stock: float) -> None:
        rows: list[int] = []
        cols: list[int] = []
        b: list[float] = []
        covered = [j for j, d in enumerate(self.demand) if scenario.covered(d)]
        for i, s in enumerate(self.supply):
            for t, month in enumerate(self.months):
                cap = s.t_per_month if s.active(month) else 0.0
                rows += [len(b)] * self.n_d  # (2)
                cols += [self.x(i, j, t) for j in range(self.n_d)]
                b.append(cap)
                if scenario.restricted(s) and scenario.in_ban(month) and covered:  # (3)
                    rows += [len(b)] * len(covered)
                    cols += [self.x(i, j, t) for j in covered]
                    b.append(scenario.approval_rate * cap)
        if self.holders:  # (4)
            these = [self.w_col[j] + t for j in self.holders for t in range(self.n_t)]
            rows += [len(b)] * len(these)
            cols += these
            b.append(stock)
        self.a_ub = coo_matrix(([1.0] * len(rows), (rows, cols)), shape=(len(b), self.n_var)).tocsr()
        self.b_ub = np.array(b, dtype=float)

    def solve(self, cost: np.ndarray) -> np.ndarray:
        a, b = self.a_ub, self.b_ub
        if self.extra_rows:
            a = vstack([a, csr_matrix(np.vstack(self.extra_rows))]).tocsr()
            b = np.concatenate([b, np.array(self.extra_b)])
        result = linprog(
            cost, A_ub=a, b_ub=b, A_eq=self.a_eq, b_eq=self.b_eq, bounds=(0, None), method="highs"
        )
        if result.status != 0:
            raise RaretraceError(f"{self.name}: the allocation LP failed: {result.message}")
        solution: np.ndarray = np.asarray(result.x, dtype=float)
        return solution

    def unmet_cost(self, segments: set[str] | None, weights: Mapping[str, float] | None = None) -> np.ndarray:
        cost = np.zeros(self.n_var)
        for j, d in enumerate(self.demand):
            if segments is None or d.segment in segments:
                start = self.u(j, 0)
                cost[start : start + self.n_t] = 1.0 if weights is None else weights.get(d.segment, 1.0)
        return cost

    def stock_cost(self) -> np.ndarray:
        cost = np.zeros(self.n_var)
        for j in self.holders:
            cost[self.w_col[j] : self.w_col[j] + self.n_t] = 1.0
        return cost

    def timing_cost(self, rule: str) -> np.ndarray:
        """A cost on stockpile draws that rises towards the months the rule wants drawn last."""
        cost = np.zeros(self.n_var)
        ramp = (
            np.arange(self.n_t, 0, -1, dtype=float)
            if rule == "latest"
            else np.arange(1, self.n_t + 1, dtype=float)
        )
        for j in self.holders:
            cost[self.w_col[j] : self.w_col[j] + self.n_t] = ramp / self.n_t
        return cost

    def fix(self, cost: np.ndarray, solution: np.ndarray) -> None:
        """Keep later solves at this objective's optimum (within a relative 1e-9)."""
        optimum = float(cost @ solution)
        self.extra_rows.append(cost)
        self.extra_b.append(optimum + 1e-9 * max(1.0, abs(optimum)))


def _demand(items: list[_Fields], world: WorldData | None) -> tuple[DemandLine, ...]:
    """Demand lines as written, or taken from the world demand table for ``{"from": "world"}`` entries."""
    lines: list[DemandLine] = []
    for f in items:
        if "from" not in f.data:
            lines.append(
                DemandLine(
                    f.text("segment"),
                    f.country("country"),
                    f.element("element"),
                    f.amount("t_per_month"),
                    f.note("source"),
                )
            )
            continue
        if world is None:
            world = WorldData.load()
        lines.extend(_world_demand(f, world))
    return tuple(lines)


def _world_demand(f: _Fields, world: WorldData) -> tuple[DemandLine, ...]:
    if f.data.get("from") != "world":
        raise f.error("from", f'must be "world" (the published demand table), not {f.data.get("from")!r}')
    for name in ("segment", "element", "t_per_month"):
        if name in f.data:
            raise f.error(
                name,
                "is not used with from: world (the lines take segment, element and tonnage from "
                "demand.json; name the commodity, region, year and optionally segments)",
            )
    region = f.text("region")
    if region == "world":
        if "country" not in f.data:
            raise f.error(
                "country",
                'is required when region is "world": name the country whose demand the lines stand for',
            )
        country = f.country("country")
    else:
        country = f.country("country") if "country" in f.data else f.country("region")
    request = WorldDemandRequest(
        commodity=f.text("commodity"),
        region=region,
        year=f.integer("year"),
        country=country,
        segments=tuple(f.texts("segments")),
        rest=f.optional_text("rest"),
        pick=f.optional_text("pick") or "low",
        scenario=f.optional_text("scenario"),
        source=f.optional_text("source_contains"),
    )
    return world_lines(world, request, where=f.where)


def _market(data: object) -> dict[str, dict[str, object]]:
    """The ``market`` block: element -> parameters object (checked in full when the market is built)."""
    if not isinstance(data, dict):
        raise ValidationError("must be an object element -> parameters", field="scenario.market")
    out = {}
    for key, value in data.items():
        if not isinstance(value, dict):
            raise ValidationError("must be an object of market parameters", field=f"scenario.market.{key}")
        out[_element(key, f"scenario.market.{key}")] = dict(value)
    return out


def _weights(data: object) -> dict[str, float]:
    if not isinstance(data, dict):
        raise ValidationError("must be an object segment -> weight", field="scenario.priority.weights")
    fields = _Fields(data, "scenario.priority.weights")
    return {str(k): fields.amount(k) for k in data}


def _element(text: object, where: str) -> str:
    """An element symbol or name, or one of ``COMMODITIES`` (NdPr, NdFeB)."""
    if isinstance(text, str) and text.lower() in COMMODITIES:
        return COMMODITIES[text.lower()]
    try:
        return parse_element(str(text)).value
    except ValidationError as e:
        raise ValidationError(e.message, field=where) from e


class _Fields(Fields):
    """A scenario's table, read by ``fields.Fields`` (paths, required fields, lists of tables), with the
    readers only scenarios need: countries, months, elements and tonnages."""

    def note(self, name: str) -> str | None:
        """A free-text note: kept when it is a non-empty string, ignored otherwise (never an error)."""
        value = self.raw(name, None)
        return value if isinstance(value, str) and value.strip() else None

    def optional_text(self, name: str) -> str | None:
        return self.text(name, None)

    def texts(self, name: str, *, required: bool = False) -> list[str]:
        """A list of non-empty strings (empty when absent, unless ``required``)."""
        value = self.raw(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(name, "must be a list of strings")
        if required and not value:
            raise self.error(name, "must not be empty")
        return value

    def amount(self, name: str) -> float:
        """A tonnage, rate or weight: a finite number of at least 0."""
        value = self.raw(name, None)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
            raise self.error(name, "must be a non-negative number")
        return float(value)

    def country(self, name: str) -> str:
        value = self.raw(name, None)
        if not isinstance(value, str) or not re.match(r"^[A-Z]{2}$", value):
            raise self.error(name, f"must be an ISO 3166-1 alpha-2 code, not {value!r}")
        return value

    def element(self, name: str) -> str:
        return _element(self.raw(name, None), self.field(name))

    def month(self, name: str) -> str:
        value = self.raw(name, None)
        month_index(value, self.field(name))  # type: ignore[arg-type]  # month_index checks the type
        return str(value)

    def optional_month(self, name: str) -> str | None:
        return None if self.raw(name, None) is None else self.month(name)
