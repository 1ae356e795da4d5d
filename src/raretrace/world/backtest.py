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

import math
from dataclasses import dataclass

import numpy as np

from raretrace.errors import ValidationError
from raretrace.io import read_package_json
from raretrace.world.data import _Doc, _Row
from raretrace.world.lines import month_index, month_text
from raretrace.world.market import (
    Market,
    Paths,
    central,
    draw,
    market_from_dict,
    price_paths,
)
from raretrace.world.market_params import load_params


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


NAME = "backtest_2010.json"


@dataclass(frozen=True)
class Quota:
    start: str
    end: str
    t: float
    months: float


@dataclass(frozen=True)
class Observed:
    """A published outcome: a price range in one month (``start == end``, USD/kg) or a ratio of prices
    between two months."""

    series: str
    start: str
    end: str
    value: tuple[float, float]
    source: str


@dataclass(frozen=True)
class Episode:
    """The episode file, checked: the inputs the model reads (start, horizon, quota baseline and quotas,
    the market block) apart from the outcomes it is only compared with."""

    start: str
    months: int
    quota_baseline_t_per_year: float
    quotas: tuple[Quota, ...]
    market: dict[str, object]  # the market block as written: p0, growth, shares, stock (market_from_dict)
    world_production_t_per_year: float
    china_share: float
    stock_months: float
    outcomes: tuple[Observed, ...]
    ratios: tuple[Observed, ...]
    dependence: tuple[float, float]  # observed before, after

    @classmethod
    def from_dict(cls, data: object) -> Episode:
        """Validate the document; errors name the file, row and field."""
        doc = _Doc(NAME, data)
        top = _Row(NAME, "backtest", data)
        start = top.text("start")
        month_index(start, f"{NAME}: start")
        m = doc.object("market")
        dep = doc.rows("dependence")[0]
        return cls(
            start,
            top.integer("months"),
            top.positive("quota_baseline_t_per_year"),
            tuple(
                Quota(_month(q, "from"), _month(q, "to"), q.number("t"), q.positive("months"))
                for q in doc.rows("quotas")
            ),
            dict(m.data),
            m.positive("world_production_t_per_year"),
            m.fraction("china_share_of_world_supply"),
            m.number("stock_months"),
            tuple(_observed(o, "month", "month", "usd_per_kg") for o in doc.rows("outcomes")),
            tuple(_observed(r, "from", "to", "ratio") for r in doc.rows("ratios")),
            (dep.fraction("before"), dep.fraction("after")),
        )


def _observed(r: _Row, start: str, end: str, value: str) -> Observed:
    return Observed(r.text("series"), _month(r, start), _month(r, end), r.range(value), r.text("source"))


def _month(r: _Row, name: str) -> str:
    text = r.text(name)
    month_index(text, f"{r.file}: {r.where}.{name}")
    return text


def load_episode() -> object:
    """The shipped episode document as written (``Episode.from_dict`` checks it)."""
    return read_package_json(f"data/world/{NAME}")


def episode_market(doc: object) -> Market:
    """The market the episode document describes (see the module docstring)."""
    e = Episode.from_dict(doc)
    start, months = month_index(e.start), e.months
    restricted = e.quota_baseline_t_per_year / 12.0
    free = e.world_production_t_per_year * (1.0 - e.china_share) / 12.0
    allowed = [1.0] * months
    for q in e.quotas:
        lo, hi = month_index(q.start) - start, month_index(q.end) - start
        for t in range(max(lo, 0), min(hi, months - 1) + 1):
            allowed[t] = q.t / q.months / restricted
    params = {
        **e.market,
        "demand0": restricted + free,
        "free_supply": free,
        "restricted_supply": restricted,
        "stock": e.stock_months * (restricted + free),
    }
    return market_from_dict(params, tuple(allowed), f"{NAME}: market", load_params())


def run_backtest(paths: int = 2_000, seed: int = 0, doc: object | None = None) -> Backtest:
    raw = load_episode() if doc is None else doc
    e = Episode.from_dict(raw)
    market = episode_market(raw)
    sim = price_paths(market, draw(market, paths, seed))
    mid = price_paths(market, central(market))
    return Backtest(
        e.start,
        market,
        sim,
        mid,
        _price_points(e, market, sim, mid),
        _ratio_points(e, market, sim),
        float(market.restricted_supply / market.supply0),
        float(np.median(sim.dependence[:, -1])),
        e.dependence,
    )


def _at(month: str, where: str, e: Episode, market: Market) -> int:
    """The month's index on the simulated horizon (its start is month 0); outside it, an error."""
    t = month_index(month, where) - month_index(e.start)
    if not 0 <= t < market.months:
        raise ValidationError(f"{month} is outside the back-test horizon", field=where)
    return t


def _price_points(e: Episode, market: Market, sim: Paths, mid: Paths) -> tuple[PricePoint, ...]:
    """Each observed price beside the simulated paths' 10th, 50th and 90th percentiles that month and
    the central path (all relative to the starting price)."""
    p0 = market.p0
    prices = []
    for i, o in enumerate(e.outcomes):
        t = _at(o.start, f"backtest.outcomes[{i}].month", e, market)
        observed = (o.value[0] + o.value[1]) / 2.0 / p0
        column = sim.price[:, t] / p0
        p10, p50, p90 = (float(np.quantile(column, q)) for q in (0.1, 0.5, 0.9))
        prices.append(
            PricePoint(
                o.series,
                o.start,
                observed,
                p10,
                p50,
                p90,
                float(mid.price[0, t] / p0),
                math.log10(p50 / observed),
                o.source,
            )
        )
    return tuple(prices)


def _ratio_points(e: Episode, market: Market, sim: Paths) -> tuple[RatioPoint, ...]:
    """Each observed price multiple over a period beside the simulated multiples' percentiles."""
    origin = month_index(e.start)
    ratios = []
    for i, r in enumerate(e.ratios):
        t0 = month_index(r.start) - origin
        t1 = _at(r.end, f"backtest.ratios[{i}].to", e, market)
        before = sim.price[:, t0] if t0 >= 0 else np.full(sim.price.shape[0], market.p0)
        multiple = sim.price[:, t1] / before
        p10, model, p90 = (float(np.quantile(multiple, q)) for q in (0.1, 0.5, 0.9))
        lo, hi = r.value
        ratios.append(
            RatioPoint(
                r.series,
                f"{r.start}..{r.end}",
                lo,
                hi,
                p10,
                model,
                p90,
                math.log10(model / math.sqrt(lo * hi)),
                r.source,
            )
        )
    return tuple(ratios)
