"""Back-test: run the price model on the 2010-2012 export-quota episode and state its error.

``backtest_2010.json`` encodes what was known: China's 2009 exports (the quota, 50,145 t), the rest of
the world's own output (3% of 124,000 t), the demand growth expected in 2010, and the quotas as MOFCOM
announced them (the policy is the input, like a scenario's ban). The market model of
``raretrace.world.market`` runs on it with the same assumed parameter ranges the scenarios use; nothing
is fitted to the outcomes, which are only compared with:

    error of a price point = log10(model median multiple / observed multiple), multiples of the
    pre-episode price; the stated error is the mean absolute log10 error and the factor 10^that.

Ratios (Nd metal over 2010, Nd oxide 2012 over 2011) compare the model's multiple over the same months,
per path, at the median. Dependence compares the restricted exporter's share of supply before and after.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from raretrace.errors import ValidationError
from raretrace.world.lines import month_index, month_text
from raretrace.world.market import (
    Market,
    Paths,
    central,
    draw,
    load_params,
    market_from_dict,
    price_paths,
)


@dataclass(frozen=True)
class PricePoint:
    series: str
    month: str
    observed_multiple: float  # mid of the observed range / p0
    model_p10: float
    model_p50: float
    model_p90: float
    model_central: float
    log10_error: float  # log10(model p50 / observed)
    source: str


@dataclass(frozen=True)
class RatioPoint:
    series: str
    months: str
    observed_low: float
    observed_high: float
    model_p10: float
    model_p50: float
    model_p90: float
    log10_error: float  # against the observed range's geometric middle
    source: str


@dataclass(frozen=True)
class Backtest:
    start: str
    market: Market
    paths: Paths
    central: Paths
    prices: tuple[PricePoint, ...]
    ratios: tuple[RatioPoint, ...]
    dependence_before: float  # model, first month
    dependence_after: float  # model median, last month
    observed_dependence: tuple[float, float]

    @property
    def mean_abs_log10_error(self) -> float:
        errors = [abs(p.log10_error) for p in self.prices] + [abs(r.log10_error) for r in self.ratios]
        return sum(errors) / len(errors)

    @property
    def error_factor(self) -> float:
        return float(10**self.mean_abs_log10_error)

    def months(self) -> list[str]:
        origin = month_index(self.start)
        return [month_text(origin + t) for t in range(self.market.months)]


def load_episode() -> dict[str, Any]:
    text = resources.files("raretrace").joinpath("data/world/backtest_2010.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def episode_market(doc: dict[str, Any]) -> Market:
    """The market the episode document describes (see the module docstring)."""
    start, months = month_index(doc["start"], "backtest.start"), int(doc["months"])
    m = doc["market"]
    restricted = float(doc["quota_baseline_t_per_year"]) / 12.0
    free = float(m["world_production_t_per_year"]) * (1.0 - float(m["china_share_of_world_supply"])) / 12.0
    allowed = [1.0] * months
    for i, q in enumerate(doc["quotas"]):
        lo = month_index(q["from"], f"backtest.quotas[{i}].from") - start
        hi = month_index(q["to"], f"backtest.quotas[{i}].to") - start
        per_month = float(q["t"]) / float(q["months"])
        for t in range(max(lo, 0), min(hi, months - 1) + 1):
            allowed[t] = per_month / restricted
    params = dict(m)
    params.update(
        demand0=restricted + free,
        free_supply=free,
        restricted_supply=restricted,
        stock=float(m["stock_months"]) * (restricted + free),
    )
    return market_from_dict(params, tuple(allowed), "backtest_2010.json: market", load_params())


def run_backtest(paths: int = 2_000, seed: int = 0, doc: dict[str, Any] | None = None) -> Backtest:
    doc = doc or load_episode()
    market = episode_market(doc)
    sim = price_paths(market, draw(market, paths, seed))
    mid = price_paths(market, central(market))
    origin = month_index(doc["start"])
    p0 = market.p0

    def at(month: str, where: str) -> int:
        t = month_index(month, where) - origin
        if not 0 <= t < market.months:
            raise ValidationError(f"{month} is outside the back-test horizon", field=where)
        return t

    prices = []
    for i, o in enumerate(doc["outcomes"]):
        t = at(o["month"], f"backtest.outcomes[{i}].month")
        observed = (float(o["usd_per_kg_low"]) + float(o["usd_per_kg_high"])) / 2.0 / p0
        column = sim.price[:, t] / p0
        p10, p50, p90 = (float(np.quantile(column, q)) for q in (0.1, 0.5, 0.9))
        prices.append(
            PricePoint(
                o["series"],
                o["month"],
                observed,
                p10,
                p50,
                p90,
                float(mid.price[0, t] / p0),
                math.log10(p50 / observed),
                o["source"],
            )
        )
    ratios = []
    for i, r in enumerate(doc["ratios"]):
        t0 = month_index(r["from"]) - origin
        t1 = at(r["to"], f"backtest.ratios[{i}].to")
        before = sim.price[:, t0] if t0 >= 0 else np.full(sim.price.shape[0], p0)
        multiple = sim.price[:, t1] / before
        p10, model, p90 = (float(np.quantile(multiple, q)) for q in (0.1, 0.5, 0.9))
        lo, hi = float(r["ratio_low"]), float(r["ratio_high"])
        ratios.append(
            RatioPoint(
                r["series"],
                f"{r['from']}..{r['to']}",
                lo,
                hi,
                p10,
                model,
                p90,
                math.log10(model / math.sqrt(lo * hi)),
                r["source"],
            )
        )
    dep = doc["dependence"][0]
    return Backtest(
        doc["start"],
        market,
        sim,
        mid,
        tuple(prices),
        tuple(ratios),
        float(market.restricted_supply / market.supply0),
        float(np.median(sim.dependence[:, -1])),
        (float(dep["before"]), float(dep["after"])),
    )
