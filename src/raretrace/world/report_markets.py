"""The report's price sections: the back-test beside what happened, the tornado, priced scenarios,
element-true economics. Tables (rows of plain values) and plotly figures; no logic of the models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import plotly.graph_objects as go

from raretrace.world.backtest import Backtest, run_backtest
from raretrace.world.data import WorldData
from raretrace.world.element_cost import ElementEconomics, PlatformElementCost, element_economics
from raretrace.world.independence import Plan
from raretrace.world.production import ProductionData
from raretrace.world.scenario import Scenario
from raretrace.world.scenario_market import BANDS, MarketOutcome, run_markets
from raretrace.world.tornado import Tornado, tornado

#: A table row of plain values (what --csv and --json write); the report's tables are lists of them.
Row = dict[str, object]
#: The forecast lines the report draws a tornado for: where an assumption can move the answer.
TORNADO_LINES = (("NdPr", "all"), ("Dy", "defense"), ("Tb", "defense"), ("NdFeB", "defense"))
#: The layout every report chart shares.
LAYOUT: dict[str, object] = {
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "height": 420,
    "template": "plotly_white",
}


@dataclass(frozen=True)
class Markets:
    backtest: Backtest
    tornados: tuple[Tornado, ...]
    scenarios: tuple[tuple[str, tuple[MarketOutcome, ...]], ...]
    elements: ElementEconomics


def analyse_markets(
    scenarios: list[Scenario],
    plan: Plan,
    data: WorldData,
    production: ProductionData,
    *,
    paths: int,
    seed: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> Markets:
    """Everything the price sections show, computed once (paths for the back-test and the priced
    scenarios are capped at 2,000 each: their bands settle well before that)."""
    update = progress or (lambda label, done, total: None)
    few = min(paths, 2_000)
    update("back-test", 0, 1)
    bt = run_backtest(paths=few, seed=seed)
    tornados = []
    for k, (commodity, segment) in enumerate(TORNADO_LINES):
        update(f"tornado {commodity} / {segment}", k, len(TORNADO_LINES))
        tornados.append(tornado(plan, data, production, commodity, segment, paths=few, seed=seed))
    priced = tuple((s.name, tuple(run_markets(s, paths=few, seed=seed))) for s in scenarios if s.market)
    return Markets(bt, tuple(tornados), priced, element_economics(data))


@dataclass(frozen=True)
class BacktestRow:
    """One compared point: a price month or a ratio over a period, observed against the model's band
    (multiples of the pre-episode price)."""

    series: str
    when: str
    observed: float
    model_p10: float
    model_p50: float
    model_p90: float
    log10_error: float
    source: str


def backtest_rows(bt: Backtest) -> list[BacktestRow]:
    """Price points, then ratios (a ratio's observed value is the geometric middle of its range)."""
    rows = [
        BacktestRow(
            p.series,
            p.month,
            p.observed_multiple,
            p.model_p10,
            p.model_p50,
            p.model_p90,
            p.log10_error,
            p.source,
        )
        for p in bt.prices
    ]
    rows += [
        BacktestRow(
            r.series,
            r.months,
            (r.observed_low * r.observed_high) ** 0.5,
            r.model_p10,
            r.model_p50,
            r.model_p90,
            r.log10_error,
            r.source,
        )
        for r in bt.ratios
    ]
    return rows


def tables(m: Markets) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {"backtest": [asdict(r) for r in backtest_rows(m.backtest)]}
    out["forecast_tornado"] = [
        {"commodity": t.commodity, "segment": t.segment, "by": t.by_month, "central": t.central, **asdict(b)}
        for t in m.tornados
        for b in t.bars
    ]
    for name, outcomes in m.scenarios:
        for o in outcomes:
            out[f"scenario_{name}_market_{o.element}"] = [dict(r) for r in o.month_rows()]
    out["economics_elements"] = [
        {
            "platform": c.platform,
            "reading": c.reading,
            **{f"{x.element} element_kg": x.element_kg for x in c.lines},
            **{f"{x.element} oxide_kg": x.oxide_kg for x in c.lines},
            "china_usd_low": c.china_usd[0],
            "china_usd_high": c.china_usd[1],
            "premium_usd_low": c.premium_usd[0],
            "premium_usd_high": c.premium_usd[1],
        }
        for c in m.elements.costs
    ]
    out["economics_crises"] = [
        {
            "crisis": r.id,
            "label": r.label,
            "multiplier_low": r.multiplier[0],
            "multiplier_high": r.multiplier[1],
            "platform": r.platform,
            "reading": r.reading,
            "premium_usd_low": r.premium_usd[0],
            "premium_usd_high": r.premium_usd[1],
        }
        for r in m.elements.crises
    ]
    out["economics_bases"] = [asdict(s) for s in m.elements.bases]
    return out


def backtest_figure(bt: Backtest) -> go.Figure:
    months = bt.months()
    p0 = bt.market.p0
    p10, p50, p90 = (bt.paths.band("price", q) / p0 for q in BANDS)
    fig = go.Figure(
        [
            go.Scatter(x=months, y=p90, mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"),
            go.Scatter(
                x=months,
                y=p10,
                fill="tonexty",
                line={"width": 0},
                name="model 10-90%",
                fillcolor="rgba(52,152,219,0.25)",
            ),
            go.Scatter(x=months, y=p50, mode="lines", name="model median", line={"color": "#2980b9"}),
            go.Scatter(
                x=[p.month for p in bt.prices],
                y=[p.observed_multiple for p in bt.prices],
                mode="lines+markers",
                line={"dash": "dot", "color": "#c0392b"},
                marker={"size": 10, "color": "#c0392b"},
                name="Dy oxide, published",
                hovertext=[p.source for p in bt.prices],
            ),
        ]
    )
    fig.update_layout(
        title=(
            f"Back-test 2010-2012 export quotas: price as a multiple of the pre-episode price "
            f"(error: mean |log10| {bt.mean_abs_log10_error:.2f}, a factor of {bt.error_factor:.1f})"
        ),
        **LAYOUT,
    )
    fig.update_yaxes(type="log", title="x pre-episode price")
    return fig


def tornado_figure(t: Tornado) -> go.Figure:
    bars = list(reversed(t.bars))
    names = [b.input for b in bars]

    def side(name: str, metric: list[float], labels: list[str]) -> go.Bar:
        x = [m - t.central for m in metric]
        return go.Bar(y=names, x=x, base=t.central, orientation="h", name=name, text=labels)

    fig = go.Figure(
        [
            side("low end", [b.metric_low for b in bars], [b.low_label for b in bars]),
            side("high end", [b.metric_high for b in bars], [b.high_label for b in bars]),
        ]
    )
    fig.update_layout(
        title=(
            f"Tornado: {t.commodity} / {t.segment}, share of paths covered by {t.by_month} "
            f"(central {t.central:.0%})"
        ),
        barmode="overlay",
        **LAYOUT,
    )
    fig.update_xaxes(title="share of paths covered", range=[0, 1])
    return fig


def market_figure(name: str, o: MarketOutcome) -> go.Figure:
    months = list(o.months)
    fig = go.Figure(
        [
            go.Scatter(
                x=months, y=o.price[0.9], mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"
            ),
            go.Scatter(
                x=months, y=o.price[0.1], mode="lines", fill="tonexty", line={"width": 0}, name="price 10-90%"
            ),
            go.Scatter(x=months, y=o.price[0.5], mode="lines", name="price median"),
            go.Scatter(
                x=months, y=o.price_lp, mode="lines", name="central path, HiGHS", line={"dash": "dot"}
            ),
        ]
    )
    fig.update_layout(title=f"{name}: {o.element} price ($/kg), {o.paths:,} paths", **LAYOUT)
    fig.update_yaxes(title="$/kg")
    return fig


def element_cost_figure(costs: tuple[PlatformElementCost, ...]) -> go.Figure:
    fig = go.Figure(
        [
            go.Bar(
                x=[c.platform for c in costs if c.reading == reading],
                y=[c.premium_usd[1] for c in costs if c.reading == reading],
                name=f"allied premium, content read as {reading} mass",
            )
            for reading in ("magnet", "element")
        ]
    )
    fig.update_layout(
        title="Element-true allied premium per platform (USD, high end; oxide basis)",
        barmode="group",
        **LAYOUT,
    )
    return fig


def figures(m: Markets) -> list[tuple[str, go.Figure]]:
    out = [("backtest", backtest_figure(m.backtest))]
    out += [(f"tornado-{t.commodity}-{t.segment}", tornado_figure(t)) for t in m.tornados]
    for name, outcomes in m.scenarios:
        out += [(f"market-{name}-{o.element}", market_figure(name, o)) for o in outcomes]
    out.append(("economics-elements", element_cost_figure(m.elements.costs)))
    return out
