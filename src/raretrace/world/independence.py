"""Time to independence: when does allied supply cover US defense demand, and all US demand?

``forecasts.json`` (package data, or the caller's own file) states demand as magnet rare earths a year per
segment; this module turns that into NdFeB, NdPr oxide, Dy oxide and Tb oxide with the magnet composition
and the oxide factors of ``raretrace.elements``:

    NdFeB t     = magnet REE / REE fraction of the magnet (0.30)
    Dy oxide t  = NdFeB x Dy fraction (0.04) / oxide factor of Dy2O3
    Tb oxide t  = NdFeB x Tb fraction / oxide factor of Tb4O7
    NdPr oxide t = NdFeB x (REE - Dy - Tb fractions) / oxide factor of Nd2O3 (Pr taken at Nd's factor)

Allied supply per commodity is built from ``capacity.json``: rows in the commodity's unit that are
operating form the baseline; every other row with a capacity and a start is a project whose delay, ramp-up
and cancellation follow the stage's uncertainty row. The Monte Carlo itself is ``forecast.simulate``.
Each result is set beside the published estimates (12-24 months, 3-4 years, the 2027 defense goal): the
share of paths covered by the end of each estimate's window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from raretrace.elements import oxide_factor
from raretrace.errors import ValidationError
from raretrace.io import read_package_json
from raretrace.world.data import WorldData, _Doc, _Row
from raretrace.world.forecast import ForecastModel, ForecastProject, ForecastResult, simulate
from raretrace.world.lines import month_index, month_text
from raretrace.world.production import ProductionData, Settings, calibrated_ramp, supply_parts

COMMODITY_ORDER = ("NdPr", "Dy", "Tb", "NdFeB")


@dataclass(frozen=True)
class Target:
    segment: str
    magnet_ree_t_per_year: float
    basis: str
    source: str

    @property
    def assumption(self) -> bool:
        return self.basis.startswith("assumption")


@dataclass(frozen=True)
class Commodity:
    commodity: str
    unit: str  # the capacity table's unit, e.g. "t NdPr oxide"
    stage: str
    oxide_of: str | None  # element whose oxide factor converts metal to the traded oxide


@dataclass(frozen=True)
class Uncertainty:
    delay_mean_months: float
    delay_sd_months: float
    ramp_months_min: float
    ramp_months_max: float
    p_cancel: float
    basis: str


@dataclass(frozen=True)
class Estimate:
    id: str
    segment: str
    label: str
    last_month: str  # the end of the estimate's window as a month (YYYY-MM)
    first_month: str | None
    source: str


@dataclass(frozen=True)
class Plan:
    start: str
    months: int
    growth: float
    growth_source: str
    targets: tuple[Target, ...]
    composition: Mapping[str, tuple[float, bool]]  # commodity -> (mass fraction of NdFeB, is assumption)
    uncertainty: Mapping[str, Uncertainty]  # stage -> parameters
    commodities: tuple[Commodity, ...]
    estimates: tuple[Estimate, ...]

    @classmethod
    def from_dict(cls, data: object, name: str = "forecasts.json") -> Plan:
        """Validate a plan; errors name the file, row and field."""
        doc = _Doc(name, data)
        top = _Row(name, "plan", data)
        start = top.text("start")
        month_index(start, f"{name}: start")
        months = top.integer("months")
        if months < 1:
            raise top.error("months", "must be at least 1")
        targets = tuple(
            Target(
                r.choice("segment", ("defense", "all")),
                r.positive("magnet_ree_t_per_year"),
                r.text("basis"),
                r.text("source"),
            )
            for r in doc.rows("targets")
        )
        composition = _composition(doc, name)
        uncertainty = {
            r.stage("stage"): Uncertainty(
                r.number("delay_mean_months"),
                r.number("delay_sd_months"),
                r.number("ramp_months_min"),
                r.number("ramp_months_max"),
                r.fraction("p_cancel"),
                r.text("basis"),
            )
            for r in doc.rows("uncertainty")
        }
        commodities = tuple(
            Commodity(
                r.choice("commodity", COMMODITY_ORDER),
                r.text("unit"),
                r.stage("stage"),
                r.text("oxide_of") if "oxide_of" in r.data else None,
            )
            for r in doc.rows("commodities")
        )
        for c in commodities:
            if c.stage not in uncertainty:
                raise ValidationError(
                    f"no uncertainty row for stage {c.stage!r}", field=f"{name}: uncertainty"
                )
        estimates = tuple(_estimate(r, month_index(start), name) for r in doc.rows("estimates"))
        return cls(
            start,
            months,
            top.number("demand_growth_per_year"),
            top.text("demand_growth_source"),
            targets,
            composition,
            uncertainty,
            commodities,
            estimates,
        )

    @classmethod
    def load(cls) -> Plan:
        """The shipped plan (``data/world/forecasts.json``)."""
        return cls.from_dict(read_package_json("data/world/forecasts.json"))

    def demand_t_per_year(self, target: Target, commodity: Commodity) -> float:
        """The target's demand for one commodity, in the capacity table's unit (see the module docstring)."""
        ree = self.composition["magnet REE"][0]
        ndfeb = target.magnet_ree_t_per_year / ree
        if commodity.commodity == "NdFeB":
            return ndfeb
        if commodity.commodity == "NdPr":
            fraction = ree - self.composition["Dy"][0] - self.composition["Tb"][0]
        else:
            fraction = self.composition[commodity.commodity][0]
        metal = ndfeb * fraction
        return metal / oxide_factor(commodity.oxide_of) if commodity.oxide_of else metal

    def uses_assumption(self, target: Target, commodity: Commodity) -> bool:
        """Whether the figure rests on a row marked as an assumption rather than a published one."""
        used = {"NdFeB": (), "NdPr": ("Dy", "Tb"), "Dy": ("Dy",), "Tb": ("Tb",)}[commodity.commodity]
        return target.assumption or any(self.composition[c][1] for c in ("magnet REE", *used))

    def model(
        self,
        data: WorldData,
        commodity: Commodity,
        target: Target,
        production: ProductionData | None = None,
        settings: Settings | None = None,
    ) -> ForecastModel:
        """The Monte Carlo model of one line. With ``production`` the supply is what plants reported and
        what their offtake sends to the receiving country (``production.supply_parts``); without it, the
        nameplate of ``capacity.json`` counted as output, all of it American (the old, optimistic bound)."""
        if production is not None:
            return self._production_model(production, commodity, target, settings)
        rows = [p for p in data.projects if p.unit == commodity.unit and p.capacity_t_per_year is not None]
        baseline = sum(p.capacity_t_per_year or 0.0 for p in rows if p.status == "operating") / 12.0
        u = self.uncertainty[commodity.stage]
        projects = tuple(
            ForecastProject(
                p.id,
                (p.capacity_t_per_year or 0.0) / 12.0,
                month,
                u.delay_mean_months,
                u.delay_sd_months,
                u.ramp_months_min,
                u.ramp_months_max,
                u.p_cancel,
            )
            for p in rows
            if p.status != "operating" and (month := p.start_month()) is not None
        )
        demand = self.demand_t_per_year(target, commodity) / 12.0
        return ForecastModel(self.start, self.months, baseline, demand, self.growth, projects)

    def _production_model(
        self, production: ProductionData, commodity: Commodity, target: Target, settings: Settings | None
    ) -> ForecastModel:
        parts = supply_parts(production, commodity.commodity, settings)
        u = self.uncertainty[commodity.stage]
        fixed_ramp = settings.ramp_months if settings is not None else None
        if commodity.stage == "separation":
            slow = calibrated_ramp(production) if fixed_ramp is None else fixed_ramp
            ramp = (min(u.ramp_months_min, slow), slow) if fixed_ramp is None else (slow, slow)
        else:
            ramp = (u.ramp_months_min, u.ramp_months_max) if fixed_ramp is None else (fixed_ramp, fixed_ramp)
        baseline = sum(p.t_per_year for p in parts if p.kind != "project") / 12.0
        projects = []
        for p in parts:
            if p.kind != "project" or p.start is None:
                continue
            if p.ramp_months is not None:  # the rest of an observed ramp: no delay, no cancellation
                projects.append(
                    ForecastProject(
                        p.producer, p.t_per_year / 12.0, p.start, 0.0, 0.0, p.ramp_months, p.ramp_months
                    )
                )
            else:
                projects.append(
                    ForecastProject(
                        p.producer,
                        p.t_per_year / 12.0,
                        p.start,
                        u.delay_mean_months,
                        u.delay_sd_months,
                        ramp[0],
                        ramp[1],
                        u.p_cancel,
                    )
                )
        demand = self.demand_t_per_year(target, commodity) / 12.0
        return ForecastModel(self.start, self.months, baseline, demand, self.growth, tuple(projects))


@dataclass(frozen=True)
class Comparison:
    estimate: str
    label: str
    window: str
    p_covered_by_end: float


@dataclass(frozen=True)
class Coverage:
    commodity: str
    unit: str
    segment: str
    demand_t_per_year: float
    assumption: bool
    baseline_t_per_year: float
    projects: tuple[str, ...]
    result: ForecastResult
    comparisons: tuple[Comparison, ...]

    def months(self) -> tuple[str | None, str | None, str | None]:
        """The months by which 10%, 50% and 90% of paths are covered (None: not within the horizon)."""
        r = self.result
        return r.quantile_month(0.1), r.quantile_month(0.5), r.quantile_month(0.9)

    def estimates_text(self) -> str:
        """The share covered by the end of each published estimate, one phrase each."""
        return "; ".join(f"{c.label} ({c.window}): {c.p_covered_by_end:.1%}" for c in self.comparisons)

    def to_dict(self) -> dict[str, object]:
        r = self.result
        return {
            "commodity": self.commodity,
            "unit": self.unit,
            "segment": self.segment,
            "demand_t_per_year": self.demand_t_per_year,
            "demand_rests_on_assumption": self.assumption,
            "baseline_t_per_year": self.baseline_t_per_year,
            "projects": list(self.projects),
            "p_covered": r.p_covered,
            "month_p10": r.quantile_month(0.1),
            "month_p50": r.quantile_month(0.5),
            "month_p90": r.quantile_month(0.9),
            "estimates": [
                {
                    "id": c.estimate,
                    "label": c.label,
                    "window": c.window,
                    "p_covered_by_end": c.p_covered_by_end,
                }
                for c in self.comparisons
            ],
        }


def p_covered_by(result: ForecastResult, month: str) -> float:
    """Share of paths covered (for good) no later than ``month``."""
    last = month_index(month) - month_index(result.start)
    covered = (result.first_covered >= 0) & (result.first_covered <= last)
    return float(covered.mean())


def run_plan(
    plan: Plan,
    data: WorldData,
    paths: int = 10_000,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
    production: ProductionData | None = None,
    settings: Settings | None = None,
) -> list[Coverage]:
    """Every commodity x target of the plan, each a Monte Carlo of ``paths`` paths (seeded per line).
    ``production`` switches from nameplate to reported production and offtake (see ``Plan.model``)."""
    out = []
    lines = [(c, t) for c in plan.commodities for t in plan.targets]
    for k, (commodity, target) in enumerate(lines):
        model = plan.model(data, commodity, target, production, settings)
        label = f"{commodity.commodity} / {target.segment}"

        def tick(done: int, total: int, label: str = label, k: int = k) -> None:
            if progress is not None:
                progress(label, k * total + done, len(lines) * total)

        result = simulate(model, paths=paths, seed=seed + k, progress=tick)
        comparisons = tuple(
            Comparison(
                e.id,
                e.label,
                f"{e.first_month}..{e.last_month}" if e.first_month else f"by {e.last_month}",
                p_covered_by(result, e.last_month),
            )
            for e in plan.estimates
            if e.segment == target.segment
        )
        out.append(
            Coverage(
                commodity.commodity,
                commodity.unit,
                target.segment,
                plan.demand_t_per_year(target, commodity),
                plan.uses_assumption(target, commodity),
                model.baseline_t_per_month * 12.0,
                tuple(p.id for p in model.projects),
                result,
                comparisons,
            )
        )
    return out


def _composition(doc: _Doc, name: str) -> dict[str, tuple[float, bool]]:
    """Mass fraction of each commodity in a magnet (and whether it is an assumption); magnet REE, Dy
    and Tb are required, and Dy + Tb cannot exceed the magnet's REE fraction."""
    composition = {
        r.text("commodity"): (r.fraction("mass_fraction"), r.text("basis").startswith("assumption"))
        for r in doc.rows("composition")
    }
    for needed in ("magnet REE", "Dy", "Tb"):
        if needed not in composition:
            raise ValidationError(f"no composition row for {needed!r}", field=f"{name}: composition")
    ree = composition["magnet REE"][0]
    if ree <= 0 or composition["Dy"][0] + composition["Tb"][0] > ree:
        raise ValidationError(
            "Dy + Tb must not exceed the magnet's REE fraction", field=f"{name}: composition"
        )
    return composition


def _estimate(r: _Row, origin: int, name: str) -> Estimate:
    """A published estimate: due ``by`` a month, or within months ``from_month``-``to_month`` of the
    plan's start (``origin``, a month index)."""
    if "by" in r.data:
        last = r.text("by")
        month_index(last, f"{name}: {r.where}.by")
        first = None
    else:
        lo, hi = r.integer("from_month"), r.integer("to_month")
        first, last = month_text(origin + lo), month_text(origin + hi)
    return Estimate(
        r.text("id"), r.choice("segment", ("defense", "all")), r.text("label"), last, first, r.text("source")
    )
