"""Security-analytics commands and renderers for prices: the back-test, priced scenarios, the tornado,
element-true economics. Parse and render only; the figures come from ``raretrace.world``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from raretrace.cli.common import JsonFlag, emit_json, out_console
from raretrace.cli.world import (
    CsvDir,
    SeedOption,
    _print_table,
    _progress,
    _read_json,
    _usd,
    write_tables,
)
from raretrace.errors import RaretraceError

if TYPE_CHECKING:  # the models load lazily: a command imports them when it runs
    from raretrace.world.element_cost import ElementEconomics
    from raretrace.world.production import ProductionData
    from raretrace.world.scenario_market import MarketOutcome
    from raretrace.world.tornado import Tornado

BacktestPaths = Annotated[int, typer.Option("--paths", help="Monte Carlo paths", min=1)]


def production_data(path: Path | None) -> ProductionData:
    """The shipped production table, or the caller's own file (errors name the file and field)."""
    from raretrace.world.production import ProductionData

    if path is None:
        return ProductionData.load()
    try:
        return ProductionData.from_dict(_read_json(path), name=path.name)
    except RaretraceError as e:
        raise e.within(str(path)) from e


def print_markets(outcomes: list[MarketOutcome]) -> None:
    """One line per priced element: the price at its peak (median path), its band, unmet demand."""
    rows = []
    for o in outcomes:
        peak = int(o.price[0.5].argmax())
        rows.append(
            [
                o.element,
                f"${o.market.p0:,.0f}",
                f"${o.price[0.5][peak]:,.0f} ({o.months[peak]})",
                f"${o.price[0.1][peak]:,.0f}–{o.price[0.9][peak]:,.0f}",
                f"{o.unmet_total[0.1]:,.1f} / {o.unmet_total[0.5]:,.1f} / {o.unmet_total[0.9]:,.1f}",
                f"{o.quantity_unmet_total:,.1f}",
                f"{o.dependence[0.5][0]:.0%} → {o.dependence[0.5][-1]:.0%}",
                ", ".join(o.overrides) or "—",
            ]
        )
    _print_table(
        f"market (destination side), {outcomes[0].paths:,} paths" if outcomes else "market",
        [
            "element",
            "p0 /kg",
            "peak price p50",
            "p10–p90 at peak",
            "unmet t p10/p50/p90",
            "unmet t, quantities only",
            "dependence first → last",
            "overrides",
        ],
        rows,
    )


def market_tables(name: str, outcomes: list[MarketOutcome]) -> dict[str, list[dict[str, str | float]]]:
    return {f"scenario_{name}_market_{o.element}": o.month_rows() for o in outcomes}


def print_tornados(tornados: list[Tornado]) -> None:
    for t in tornados:
        _print_table(
            f"tornado: {t.commodity} / {t.segment}, share of paths covered by {t.by_month} "
            f"(central {t.central:.1%})",
            ["input", "low end", "covered", "high end", "covered"],
            [
                [b.input, b.low_label, f"{b.metric_low:.1%}", b.high_label, f"{b.metric_high:.1%}"]
                for b in t.bars
            ],
        )


def print_element_costs(elements: ElementEconomics) -> None:
    _print_table(
        "element-true cost per platform (oxide basis; content read as magnet or as element mass)",
        ["platform", "reading", "Nd+Pr / Dy / Tb kg (element)", "value at China prices", "allied premium"],
        [
            [
                c.platform,
                c.reading,
                " / ".join(f"{x.element_kg:,.1f}" for x in c.lines),
                _usd(*c.china_usd),
                _usd(*c.premium_usd),
            ]
            for c in elements.costs
        ],
    )
    _print_table(
        "crisis multipliers on the element value (premium = value x (m - 1))",
        ["crisis", "m", "platform", "reading", "premium"],
        [
            [r.label, _multiple(r.multiplier), r.platform, r.reading, _usd(*r.premium_usd)]
            for r in elements.crises
        ],
    )
    _print_table(
        "metal and alloy against oxide, per kg of element (same day, China spot)",
        ["element", "form", "product", "ratio", "date"],
        [
            [s.element, s.form, s.product, f"{s.ratio[0]:.2f}–{s.ratio[1]:.2f}x", s.date]
            for s in elements.bases
        ],
    )


def _multiple(m: tuple[float, float]) -> str:
    return f"{m[0]:g}x" if m[0] == m[1] else f"{m[0]:g}–{m[1]:g}x"


def backtest(
    paths: BacktestPaths = 2_000,
    seed: SeedOption = 0,
    as_json: JsonFlag = False,
    csv_dir: CsvDir = None,
) -> None:
    """Back-test the price model on China's 2010-2012 export quotas: the model's price multiples beside
    the published ones, with the error stated (no parameter fitted to the episode).

    Example: raretrace backtest --paths 2000 --seed 0
    """
    from raretrace.world.backtest import run_backtest
    from raretrace.world.report_markets import backtest_rows

    with _progress("backtest") as update:
        update("paths", 0, 1)
        bt = run_backtest(paths=paths, seed=seed)
    rows = [asdict(r) for r in backtest_rows(bt)]
    write_tables({"backtest": rows}, csv_dir, None)
    if as_json:
        emit_json(
            {
                "paths": paths,
                "seed": seed,
                "points": rows,
                "mean_abs_log10_error": bt.mean_abs_log10_error,
                "error_factor": bt.error_factor,
                "dependence": {
                    "model_before": bt.dependence_before,
                    "model_after": bt.dependence_after,
                    "observed_before": bt.observed_dependence[0],
                    "observed_after": bt.observed_dependence[1],
                },
            }
        )
        return
    _print_table(
        f"back-test 2010-2012 quotas, {paths:,} paths (multiples of the pre-episode price)",
        ["series", "when", "observed", "model p10 / p50 / p90", "log10 error"],
        [
            [
                r.series,
                r.when,
                f"{r.observed:.2f}x",
                f"{r.model_p10:.2f} / {r.model_p50:.2f} / {r.model_p90:.2f}",
                f"{r.log10_error:+.2f}",
            ]
            for r in backtest_rows(bt)
        ],
    )
    out_console.print(
        f"mean absolute log10 error {bt.mean_abs_log10_error:.2f} (a factor of {bt.error_factor:.1f}); "
        f"dependence on China: model {bt.dependence_before:.0%} → {bt.dependence_after:.0%}, "
        f"observed (Japan) {bt.observed_dependence[0]:.0%} → {bt.observed_dependence[1]:.0%}",
        highlight=False,
        soft_wrap=True,
    )
