"""The security-analytics report: tables (for JSON and CSV) and one self-contained HTML page of charts.

``Analysis`` holds every computed result; ``tables`` flattens them into named lists of rows (one CSV or
JSON file each), ``figures`` draws them with plotly, and ``render_html`` puts the figures, the tables and
their sources into one page with plotly's JavaScript inlined, so the page opens with no network.

Charts: a Sankey of the flows each scenario's allocation routes (supply country and stage -> demand
segment, with stockpile draws and unmet demand as their own nodes); unmet demand per month for each
scenario (the ban window shaded); allied supply against demand per commodity with the Monte Carlo's
10-90% band; China's share per stage against the seed figures; the premiums by stage and the 100-500x
sensitivity. The price sections (back-test beside what happened, tornado of the production assumptions,
priced scenarios, element-true economics) come from ``report_markets``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources

import jinja2
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from raretrace.colours import country_colour
from raretrace.world.control import GroupShare, china_plus, stage_control
from raretrace.world.data import WorldData
from raretrace.world.economics import Economics, economics
from raretrace.world.independence import Coverage, Plan, run_plan
from raretrace.world.lines import month_index, month_text
from raretrace.world.metrics import SeedCheck, concentration_table, seed_check
from raretrace.world.production import ProductionData
from raretrace.world.report_markets import LAYOUT, Markets, Row, analyse_markets
from raretrace.world.report_markets import figures as market_figures
from raretrace.world.report_markets import tables as market_tables
from raretrace.world.scenario import Scenario, ScenarioResult, run


@dataclass(frozen=True)
class Analysis:
    data: WorldData
    seed: list[SeedCheck]
    scenarios: list[tuple[Scenario, ScenarioResult]]
    coverage: list[Coverage]
    economics: Economics
    paths: int
    seed_value: int
    markets: Markets | None = None
    nameplate: list[Coverage] | None = None  # the forecast with nameplate as output (the old bound)


def analyse(
    scenarios: list[Scenario],
    plan: Plan,
    *,
    members: int,
    paths: int = 10_000,
    seed: int = 0,
    data: WorldData | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Analysis:
    """Everything a report shows, computed once: each scenario run, the forecast, the economics.

    ``progress(label, done, total)`` hears about the long parts. The command line and the server both
    build their report from this, so the two never disagree."""
    data = data or WorldData.load()
    update = progress or (lambda label, done, total: None)
    results = []
    for scenario in scenarios:

        def tick(element: str, done: int, total: int, name: str = scenario.name) -> None:
            update(f"scenario {name} {element}", done, total)

        results.append((scenario, run(scenario, progress=tick)))
    production = ProductionData.load()
    coverage = run_plan(
        plan,
        data,
        paths=paths,
        seed=seed,
        progress=lambda label, d, t: update(f"forecast {label}", d, t),
        production=production,
    )
    nameplate = run_plan(plan, data, paths=paths, seed=seed)
    markets = analyse_markets(
        [s for s, _ in results], plan, data, production, paths=paths, seed=seed, progress=update
    )
    return Analysis(
        data,
        seed_check(data),
        results,
        coverage,
        economics(data, members),
        paths,
        seed,
        markets,
        nameplate,
    )


@dataclass(frozen=True)
class DependenceRow:
    """China's share of one stage beside the seed figure (None where the seed gives none)."""

    stage: str
    year: int
    china_share: float
    seed_share: float | None
    difference_pp: float | None
    tolerance_pp: float | None
    within_tolerance: bool | None
    unallocated: float
    hhi_low: float
    hhi_high: float
    basis: str
    sources: str


def dependence_rows(data: WorldData, checks: list[SeedCheck]) -> list[DependenceRow]:
    """China's share per stage, HHI bounds and the seed figure beside the computed one."""
    by_stage = {c.stage: c for c in checks}
    rows = []
    for r in concentration_table(data):
        check = by_stage.get(r.stage)
        rows.append(
            DependenceRow(
                r.stage,
                r.year,
                r.china_share,
                check.seed if check else None,
                check.difference_pp if check else None,
                check.tolerance_pp if check else None,
                check.within_tolerance if check else None,
                r.unallocated,
                r.hhi_low,
                r.hhi_high,
                r.basis,
                "; ".join(r.sources),
            )
        )
    return rows


def control_shares(data: WorldData) -> list[GroupShare]:
    """China alone and China plus Myanmar by location and by control: mining on both bases
    (``control.china_plus``), separation (2023, the year a second country is named) and magnets."""
    out = []
    for group in (("CN",), ("CN", "MM")):
        stages = [stage_control(data, "separation", group, 2023), stage_control(data, "magnet", group)]
        out += [*china_plus(data, group), *stages]
    return out


def control_rows(data: WorldData) -> list[Row]:
    """``control_shares`` as table rows (group joined, sources joined)."""
    return [
        {**asdict(g), "group": " + ".join(g.group), "sources": "; ".join(g.sources)}
        for g in control_shares(data)
    ]


def scenario_tables(scenario: Scenario, result: ScenarioResult) -> dict[str, list[Row]]:
    name = scenario.name
    return {
        f"scenario_{name}_unmet": [{"scenario": name, **asdict(a)} for a in result.rows],
        f"scenario_{name}_flows": [{"scenario": name, **asdict(f)} for f in result.flows],
        f"scenario_{name}_stock": [
            {"scenario": name, "element": k, "tonnes_drawn": v} for k, v in result.stock_used.items()
        ],
    }


def coverage_rows(coverage: list[Coverage]) -> list[Row]:
    rows: list[Row] = []
    for c in coverage:
        p10, p50, p90 = c.months()
        rows.append(
            {
                "commodity": c.commodity,
                "unit": c.unit,
                "segment": c.segment,
                "demand_t_per_year": c.demand_t_per_year,
                "demand_rests_on_assumption": c.assumption,
                "baseline_t_per_year": c.baseline_t_per_year,
                "projects": " ".join(c.projects),
                "p_covered": c.result.p_covered,
                "month_p10": p10,
                "month_p50": p50,
                "month_p90": p90,
                "estimates": c.estimates_text(),
            }
        )
    return rows


def economics_tables(econ: Economics) -> dict[str, list[Row]]:
    sensitivity: list[Row] = []
    for r in econ.sensitivity:
        row: Row = {k: v for k, v in asdict(r).items() if k != "platform_usd"}
        for platform, (low, high) in r.platform_usd.items():
            row[f"{platform} usd_low"] = low
            row[f"{platform} usd_high"] = high
        sensitivity.append(row)
    return {
        "economics_premiums": [asdict(p) for p in econ.premiums],
        "economics_platforms": [asdict(p) for p in econ.platform_costs],
        "economics_floor": [{"row": econ.floor_row, **asdict(econ.floor)}],
        "economics_sensitivity": sensitivity,
    }


def tables(analysis: Analysis) -> dict[str, list[Row]]:
    """Every table of the report by name (file stem)."""
    out: dict[str, list[Row]] = {
        "dependence": [asdict(r) for r in dependence_rows(analysis.data, analysis.seed)]
    }
    out["dependence_control"] = control_rows(analysis.data)
    for scenario, result in analysis.scenarios:
        out.update(scenario_tables(scenario, result))
    out["forecast"] = coverage_rows(analysis.coverage)
    if analysis.nameplate is not None:
        out["forecast_nameplate"] = coverage_rows(analysis.nameplate)
    out.update(economics_tables(analysis.economics))
    if analysis.markets is not None:
        out.update(market_tables(analysis.markets))
    return out


# Charts -----------------------------------------------------------------------------------------------


def sankey(scenario: Scenario, result: ScenarioResult) -> go.Figure:
    """Flows over the horizon: 'CN separation (Nd)' -> 'US civil'; stockpile and unmet as their own nodes."""
    labels: list[str] = []
    index: dict[str, int] = {}

    def node(label: str) -> int:
        if label not in index:
            index[label] = len(labels)
            labels.append(label)
        return index[label]

    source, target, value = [], [], []
    for f in result.flows:
        if f.source_stage == "unmet":
            src = node(f"unmet ({f.element})")
        elif f.source_stage == "stockpile":
            src = node(f"{f.source_country} stockpile ({f.element})")
        else:
            src = node(f"{f.source_country} {f.source_stage} ({f.element})")
        source.append(src)
        target.append(node(f"{f.country} {f.segment}"))
        value.append(round(f.tonnes, 3))
    colors = [  # unmet and stockpiles stand out; a country has its colour on every chart
        "#000000" if lab.startswith("unmet") else "#7f8c8d" if "stockpile" in lab else country_colour(lab[:2])
        for lab in labels
    ]
    fig = go.Figure(
        go.Sankey(
            node={"label": labels, "pad": 18, "thickness": 16, "color": colors},
            link={"source": source, "target": target, "value": value},
            valueformat=",.1f",
            valuesuffix=" t",
        )
    )
    fig.update_layout(
        title=f"{scenario.name}: flows {scenario.horizon_start}..{scenario.horizon_end}", **LAYOUT
    )
    return fig


def unmet_series(scenario: Scenario, result: ScenarioResult) -> go.Figure:
    """Unmet demand per month of one scenario, one line per segment and element; the ban window shaded."""
    fig = go.Figure()
    for segment, element in sorted({(a.segment, a.element) for a in result.rows}):
        rows = [a for a in result.rows if a.segment == segment and a.element == element]
        fig.add_trace(
            go.Scatter(
                x=[a.month for a in rows],
                y=[a.unmet_t for a in rows],
                mode="lines+markers",
                name=f"{segment} {element}",
            )
        )
    fig.add_vrect(
        x0=scenario.start, x1=scenario.end, fillcolor="#c0392b", opacity=0.08, line_width=0,
        annotation_text="ban", annotation_position="top left",
    )  # fmt: skip
    fig.update_layout(title=f"{scenario.name}: unmet demand per month", **LAYOUT)
    fig.update_yaxes(title="unmet per month (scenario units)", rangemode="tozero")
    return fig


def coverage_figure(commodity: str, lines: list[Coverage]) -> go.Figure:
    """Allied supply (median and 10-90% band over paths) against each demand target of one commodity."""
    first = lines[0]
    result = first.result
    origin = month_index(result.start)
    months = [month_text(origin + i) for i in range(result.months)]
    q = result.supply_quantiles
    low, mid, high = (q[k] * 12.0 for k in (0.1, 0.5, 0.9))
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=months, y=high, mode="lines", line={"width": 0}, name="supply p90", showlegend=False)
    )
    band = "rgba(44,127,184,0.25)"
    fig.add_trace(
        go.Scatter(
            x=months, y=low, mode="lines", line={"width": 0}, fill="tonexty", fillcolor=band,
            name="allied supply p10-p90",
        )
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(x=months, y=mid, mode="lines", line={"color": "#2c7fb8"}, name="allied supply median")
    )
    for c in lines:
        flag = " (assumption)" if c.assumption else ""
        fig.add_trace(
            go.Scatter(
                x=months, y=c.result.demand * 12.0, mode="lines", line={"dash": "dash"},
                name=f"US {c.segment} demand{flag}",
            )
        )  # fmt: skip
    fig.update_layout(title=f"{commodity}: allied supply vs US demand ({first.unit} a year)", **LAYOUT)
    fig.update_yaxes(title=f"{first.unit} / yr", rangemode="tozero")
    return fig


def dependence_figure(rows: list[DependenceRow]) -> go.Figure:
    stages = [r.stage for r in rows]
    fig = go.Figure(
        [
            go.Bar(
                x=stages,
                y=[100 * r.china_share for r in rows],
                name="China, computed from the data",
            ),
            go.Bar(x=stages, y=[100 * (r.seed_share or 0.0) for r in rows], name="seed figure"),
        ]
    )
    fig.update_layout(title="China's share by stage (%): data vs seed", barmode="group", **LAYOUT)
    fig.update_yaxes(range=[0, 100], title="%")
    return fig


def premium_figure(econ: Economics) -> go.Figure:
    rows = [p for p in econ.premiums if p.ratio_low is not None and p.ratio_high is not None]
    fig = go.Figure(
        go.Bar(
            x=[p.id for p in rows],
            y=[p.ratio_high - p.ratio_low for p in rows],  # type: ignore[operator]  # both set on these rows
            base=[p.ratio_low for p in rows],
            marker_color=["#e67e22" if p.thin_market else "#27ae60" for p in rows],
            name="published ratio (allied / China)",
            hovertext=[p.comparison for p in rows],
        )
    )
    fig.update_layout(
        title="Published premium of allied supply (ratio, low-high; orange = thin spot market)", **LAYOUT
    )
    fig.update_yaxes(title="allied / China", rangemode="tozero")
    return fig


def sensitivity_figure(econ: Economics) -> go.Figure:
    rows = econ.sensitivity
    platforms = list(rows[0].platform_usd) if rows else []
    fig = go.Figure(
        [
            go.Bar(
                x=[f"{r.multiplier:g}x" for r in rows],
                y=[r.platform_usd[p][1] for r in rows],
                name=p,
            )
            for p in platforms
        ]
    )
    fig.update_layout(
        title="Premium per platform if allied costs were m x China's NdPr price (USD, log)",
        barmode="group",
        **LAYOUT,
    )
    fig.update_yaxes(type="log", title="USD per platform")
    return fig


def economics_table_figure(econ: Economics) -> go.Figure:
    rows = econ.sensitivity
    fig = go.Figure(
        go.Table(
            header={"values": ["multiplier", "evidence", "premium USD/kg", "fee per member USD/yr"]},
            cells={
                "values": [
                    [f"{r.multiplier:g}x" for r in rows],
                    [r.label or "-" for r in rows],
                    [f"{r.premium_usd_per_kg_low:,.0f}-{r.premium_usd_per_kg_high:,.0f}" for r in rows],
                    [f"{r.per_member_usd_low:,.0f}-{r.per_member_usd_high:,.0f}" for r in rows],
                ]
            },
        )
    )
    fig.update_layout(title="Price-floor fee per consortium member under each multiplier", **LAYOUT)
    return fig


def figures(analysis: Analysis) -> list[tuple[str, go.Figure]]:
    """Every chart with its id, in page order."""
    out: list[tuple[str, go.Figure]] = []
    for scenario, result in analysis.scenarios:
        out.append((f"sankey-{scenario.name}", sankey(scenario, result)))
        out.append((f"unmet-{scenario.name}", unmet_series(scenario, result)))
    by_commodity: dict[str, list[Coverage]] = {}
    for c in analysis.coverage:
        by_commodity.setdefault(c.commodity, []).append(c)
    for commodity, lines in by_commodity.items():
        out.append((f"coverage-{commodity}", coverage_figure(commodity, lines)))
    out.append(("dependence", dependence_figure(dependence_rows(analysis.data, analysis.seed))))
    out.append(("premiums", premium_figure(analysis.economics)))
    out.append(("sensitivity", sensitivity_figure(analysis.economics)))
    out.append(("economics-table", economics_table_figure(analysis.economics)))
    if analysis.markets is not None:
        out += market_figures(analysis.markets)
    return out


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    source = resources.files("raretrace").joinpath("data/templates/report.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["heading"] = column_heading
    return env.from_string(source)


_HEADINGS = {
    "p_covered": "Probability covered",
    "demand_rests_on_assumption": "Demand is an assumption",
    "content_kg": "Content (kg)",
    "id": "Id",
}
#: words of the tables' field names as a reader writes them
_WORDS = {"usd": "USD", "hhi": "HHI", "pp": "(pp)", "t": "(t)", "kg": "kg", "p": "P", "id": "id"}


def column_heading(name: str) -> str:
    """A table's field name for people: ``demand_t_per_year`` → "Demand (t) per year", ``hhi_low`` →
    "HHI low", ``month_p50`` → "Month P50" (the CSV and JSON keep the field names)."""
    if name in _HEADINGS:
        return _HEADINGS[name]
    words = []
    for word in name.split("_"):
        if word[:1] == "p" and word[1:].isdigit():
            words.append(word.upper())
        else:
            words.append(_WORDS.get(word, word))
    text = " ".join(words).replace("usd per kg", "USD per kg")
    return text[:1].upper() + text[1:]


def render_html(analysis: Analysis) -> str:
    """The whole report as one HTML page; plotly's JavaScript is inlined once (no network needed)."""
    charts = [
        {
            "id": chart_id,
            "html": fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{chart_id}"),
        }
        for chart_id, fig in figures(analysis)
    ]
    return _template().render(
        plotly_js=get_plotlyjs(),
        charts=charts,
        tables=tables(analysis),
        analysis=analysis,
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
