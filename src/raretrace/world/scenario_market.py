"""Prices in a scenario: the destination side's market for each element a scenario prices.

A scenario may carry ``"market": {"Dy": {"p0": 260, "p0_source": "...", "growth": 0.087, ...}}``. For
each such element the destination countries' market is built from the scenario's own lines:

    demand0     = sum of the element's demand lines in the destination countries (t/month)
    free        = unrestricted supply lines active in the first month (not the exporter's listed stages)
    scheduled   = unrestricted supply lines that start later (their t/month from their first month)
    restricted  = demand trend - free - scheduled, at most the exporter's restricted lines (the exporter
                  fills the gap at the reference price, so without a restriction the market stays at p0)
    allowed[t]  = 1 - (1 - approval_rate) x covered share of demand, inside the ban window; 1 outside
    stock       = the destination stockpile of the element

The parameters not given in the block come from ``market_params.json`` (the set the back-test runs
on). The output is the Monte Carlo of ``raretrace.world.market``: price, unmet demand and dependence on
the exporter per month, with 10/50/90% bands, the quantity-only model's unmet demand on the same months,
and the central path's prices cleared month by month by HiGHS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from raretrace.errors import ValidationError
from raretrace.world.lines import month_index, month_text
from raretrace.world.market import (
    Market,
    central,
    central_path_lp,
    draw,
    market_from_dict,
    price_paths,
    quantity_paths,
)
from raretrace.world.market_params import load_params
from raretrace.world.scenario import Scenario

FloatArray = npt.NDArray[np.float64]
BANDS = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class MarketOutcome:
    element: str
    months: tuple[str, ...]
    market: Market
    overrides: tuple[str, ...]  # parameters the scenario set instead of market_params.json
    p0_source: str
    price: dict[float, FloatArray]  # band -> $/kg per month
    unmet: dict[float, FloatArray]  # band -> t per month
    dependence: dict[float, FloatArray]
    unmet_total: dict[float, float]  # band -> t over the horizon (quantiles of path totals)
    quantity_unmet_total: float  # the quantity-only model, t over the horizon
    price_lp: FloatArray  # central path, each month cleared by HiGHS
    paths: int

    def to_dict(self) -> dict[str, object]:
        return {
            "element": self.element,
            "paths": self.paths,
            "p0_usd_per_kg": self.market.p0,
            "p0_source": self.p0_source,
            "overrides": list(self.overrides),
            "unmet_total_t": {f"p{int(q * 100)}": v for q, v in self.unmet_total.items()},
            "quantity_only_unmet_total_t": self.quantity_unmet_total,
            "months": self.month_rows(),
        }

    def month_rows(self) -> list[dict[str, str | float]]:
        """One row a month: the price, unmet demand and dependence bands, and the HiGHS central price."""
        return [
            {
                "month": m,
                **{f"price_p{int(q * 100)}": float(self.price[q][t]) for q in BANDS},
                **{f"unmet_p{int(q * 100)}": float(self.unmet[q][t]) for q in BANDS},
                **{f"dependence_p{int(q * 100)}": float(self.dependence[q][t]) for q in BANDS},
                "price_central_highs": float(self.price_lp[t]),
            }
            for t, m in enumerate(self.months)
        ]


def scenario_market(
    scenario: Scenario, element: str, block: Mapping[str, object]
) -> tuple[Market, tuple[str, ...]]:
    """The destination market of one element (see the module docstring) and the overridden names."""
    where = f"scenario.market.{element}"
    months = scenario.months()
    first = months[0]
    demand = [d for d in scenario.demand if d.element == element and d.country in scenario.destinations]
    if not demand:
        raise ValidationError(
            f"no demand line of {element} in {', '.join(scenario.destinations)}", field=where
        )
    demand0 = sum(d.t_per_month for d in demand)
    covered = sum(d.t_per_month for d in demand if scenario.covered(d)) / demand0
    lines = [s for s in scenario.supply if s.element == element]
    free = sum(s.t_per_month for s in lines if not scenario.restricted(s) and s.active(first))
    scheduled = tuple(
        sum(
            s.t_per_month for s in lines if not scenario.restricted(s) and s.active(m) and not s.active(first)
        )
        for m in months
    )
    exporter = sum(s.t_per_month for s in lines if scenario.restricted(s) and s.active(first))
    restricted = min(exporter, max(0.0, demand0 - free))
    allowed = tuple(
        1.0 - (1.0 - scenario.approval_rate) * covered if scenario.in_ban(m) else 1.0 for m in months
    )
    defaults = load_params()
    overrides = tuple(sorted(k for k in block if k in defaults))
    params = {
        **block,
        "demand0": demand0,
        "free_supply": free,
        "restricted_supply": restricted,
        "stock": float(scenario.stockpiles.get(element, 0.0)),
        "growth": block.get("growth", 0.0),
    }
    market = market_from_dict(params, allowed, where, defaults, scheduled if any(scheduled) else (), exporter)
    return market, overrides


def run_markets(scenario: Scenario, paths: int = 1_000, seed: int = 0) -> list[MarketOutcome]:
    """Every element the scenario's ``market`` block prices (none when it has no block)."""
    origin = month_index(scenario.horizon_start)
    out = []
    for element, block in scenario.market.items():
        source = block.get("p0_source")
        if not isinstance(source, str) or not source.strip():
            raise ValidationError(
                "the reference price needs its source", field=f"scenario.market.{element}.p0_source"
            )
        market, overrides = scenario_market(scenario, element, block)
        draws = draw(market, paths, seed)
        sim = price_paths(market, draws)
        qty = quantity_paths(market, central(market))
        totals = sim.unmet.sum(axis=1)
        out.append(
            MarketOutcome(
                element,
                tuple(month_text(origin + t) for t in range(market.months)),
                market,
                overrides,
                source,
                {q: sim.band("price", q) for q in BANDS},
                {q: sim.band("unmet", q) for q in BANDS},
                {q: sim.band("dependence", q) for q in BANDS},
                {q: float(np.quantile(totals, q)) for q in BANDS},
                float(qty.unmet[0].sum()),
                central_path_lp(market),
                paths,
            )
        )
    return out
