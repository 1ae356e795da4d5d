"""Markets in the scenarios: a price that clears supply and demand month by month, with stocks,
substitution and a supply response, over Monte Carlo paths.

One market (one element or commodity as seen by the importing side), months t = 0..T-1, paths i:

    reference demand   D[t]   = D0 * (1 + g)^(t/12) * (1 - thrift[t])
    supply             S[t]   = free supply + scheduled[t] + restricted[t] * allowed[t] + new[t]
                       (restricted[t]: fixed, or following the demand trend up to the exporter's
                       capacity, as an exporter with spare capacity does in normal times)
    new supply         new[t] = S0 * min(cap_new, max(0, (p[t-L] / p0)^eps_s - 1))      (lead time L months)
    stockpile rule     R[t]   = min(stock, release * D0, what holds the price at trigger * p0): nothing
                                while the price stays below trigger * p0 (stock kept for the spike)
    price              p[t]   = p0 * (D[t] / (S[t] + R[t]))^(1 / eps_d), at most p_cap * p0
    consumption        C[t]   = D[t] * (p[t] / p0)^(-eps_d)       (= S + R unless the price is capped)
    unmet              U[t]   = max(0, D[t] - C[t])               (demand priced out or left unserved)
    thrifting          thrift[t+1] = thrift[t] + (target - thrift[t]) / tau,
                       target = thrift_max when p[t - lag] >= 2 p0, else 0          (substitution lag)
    dependence         share of C[t] that came from the restricted exporter

The constant-elasticity clearing price is closed form, so 10,000 paths x 120 months is a loop of 120
vector steps. ``clear_lp`` clears the same month as a linear program solved with HiGHS (demand cut into
blocks priced off the inverse demand curve; the supply row's dual is the price): a second implementation
the tests hold the closed form to, and what ``central_path_lp`` runs month by month on the central
parameters. ``quantity_paths`` is the quantity-only model (no price, no demand response) the benchmark
compares against. Every parameter is an input with its source or marked as an assumption in the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog

from raretrace.errors import ValidationError
from raretrace.fields import Fields
from raretrace.io import read_package_json

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Range:
    """A parameter's central value and the range Monte Carlo paths draw from uniformly."""

    central: float
    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and self.low <= self.central <= self.high):
            raise ValidationError(f"need low <= central <= high, got {self}", field="market")


@dataclass(frozen=True)
class Market:
    months: int
    p0: float  # reference price, $/kg
    demand0: float  # t/month at p0, first month
    growth: float  # per year
    free_supply: float  # t/month not subject to the restriction
    restricted_supply: float  # t/month from the restricting exporter before the restriction
    allowed: tuple[float, ...]  # per month: share of the restricted supply still shipped
    stock: float  # t held by the importing side
    trigger: float  # stockpile sold to hold the price at trigger x p0 (at most release x D0 a month)
    release: float  # at most this share of D0 a month
    p_cap: float  # price ceiling as a multiple of p0 (demand destroyed above it)
    eps_d: Range  # price elasticity of demand (absolute value)
    eps_s: Range  # price elasticity of new supply
    lead_months: Range  # supply response lead time
    cap_new: float  # new supply at most this share of the pre-restriction supply
    thrift_max: Range  # share of demand substitution/thrifting can remove
    thrift_lag: Range  # months before thrifting starts to respond
    thrift_tau: float  # months of the adjustment (1 / speed)
    scheduled: tuple[float, ...] = ()  # per month: unrestricted supply coming on by plan (t/month), if any
    #: when set, the exporter's supply follows the demand trend (before thrifting) up to this capacity,
    #: as an exporter with spare capacity does in normal times; None: fixed at ``restricted_supply``
    restricted_cap: float | None = None

    def __post_init__(self) -> None:
        if self.months < 1 or len(self.allowed) != self.months:
            raise ValidationError("allowed needs one share per month", field="market.allowed")
        for name in ("p0", "demand0"):
            if getattr(self, name) <= 0:
                raise ValidationError("must be positive", field=f"market.{name}")
        if self.eps_d.low <= 0:
            raise ValidationError("demand elasticity must be positive", field="market.eps_d")
        if self.p_cap <= 1 or self.thrift_tau < 1:
            raise ValidationError("p_cap > 1 and thrift_tau >= 1 required", field="market")
        if self.scheduled and len(self.scheduled) != self.months:
            raise ValidationError("scheduled needs one value per month", field="market.scheduled")

    def restricted_at(self, t: int) -> float:
        """The exporter's supply in month ``t`` before any restriction."""
        if self.restricted_cap is None:
            return self.restricted_supply
        trend = self.demand0 * (1.0 + self.growth) ** (t / 12.0) - self.free_supply - self.scheduled_at(t)
        return float(min(self.restricted_cap, max(0.0, trend)))

    def base_supply(self, t: int) -> float:
        """Supply in month ``t`` before any supply response: free, scheduled and what the exporter ships."""
        return self.free_supply + self.scheduled_at(t) + self.restricted_at(t) * self.allowed[t]

    def scheduled_at(self, t: int) -> float:
        """Scheduled unrestricted supply in month ``t`` (0 when none is scheduled)."""
        return self.scheduled[t] if self.scheduled else 0.0

    @property
    def supply0(self) -> float:
        return self.free_supply + self.restricted_supply


@dataclass(frozen=True)
class Draws:
    eps_d: FloatArray
    eps_s: FloatArray
    lead: npt.NDArray[np.int64]
    thrift_max: FloatArray
    thrift_lag: npt.NDArray[np.int64]


@dataclass(frozen=True)
class Paths:
    price: FloatArray  # (paths, months) $/kg
    consumption: FloatArray
    unmet: FloatArray
    dependence: FloatArray  # share of consumption from the restricted exporter
    stock: FloatArray  # stock left at the end of each month

    def band(self, name: str, q: float) -> FloatArray:
        values: FloatArray = np.quantile(getattr(self, name), q, axis=0)
        return values


def draw(market: Market, paths: int, seed: int) -> Draws:
    if paths < 1:
        raise ValidationError("must be at least 1", field="paths")
    rng = np.random.default_rng(seed)

    def u(r: Range) -> FloatArray:
        return rng.uniform(r.low, r.high, paths) if r.high > r.low else np.full(paths, r.central)

    return Draws(
        u(market.eps_d),
        u(market.eps_s),
        np.rint(u(market.lead_months)).astype(np.int64),
        u(market.thrift_max),
        np.rint(u(market.thrift_lag)).astype(np.int64),
    )


def central(market: Market) -> Draws:
    """The one path at every parameter's central value."""
    one = np.ones(1)
    return Draws(
        one * market.eps_d.central,
        one * market.eps_s.central,
        np.array([round(market.lead_months.central)], dtype=np.int64),
        one * market.thrift_max.central,
        np.array([round(market.thrift_lag.central)], dtype=np.int64),
    )


def price_paths(market: Market, d: Draws) -> Paths:
    """Every path's prices, consumption, unmet demand, dependence and stock (vectorised over paths)."""
    n, months = d.eps_d.shape[0], market.months
    price = np.empty((n, months))
    cons = np.empty((n, months))
    unmet = np.empty((n, months))
    dep = np.empty((n, months))
    left = np.empty((n, months))
    stock = np.full(n, market.stock)
    thrift = np.zeros(n)
    rows = np.arange(n)
    inv_eps = 1.0 / d.eps_d
    for t in range(months):
        ref = market.demand0 * (1.0 + market.growth) ** (t / 12.0) * (1.0 - thrift)
        lagged = price[rows, np.maximum(t - d.lead, 0)] if t else np.full(n, market.p0)
        lagged = np.where(t - d.lead >= 0, lagged, market.p0)
        new = market.supply0 * np.clip((lagged / market.p0) ** d.eps_s - 1.0, 0.0, market.cap_new)
        restricted = market.restricted_at(t) * market.allowed[t]
        supply = market.base_supply(t) + new
        needed = np.maximum(0.0, ref * market.trigger ** (-d.eps_d) - supply)  # to hold trigger x p0
        release = np.minimum(np.minimum(stock, market.release * market.demand0), needed)
        stock = stock - release
        available = supply + release
        p = market.p0 * (ref / available) ** inv_eps
        p = np.minimum(p, market.p_cap * market.p0)
        c = np.minimum(ref * (p / market.p0) ** (-d.eps_d), available)
        price[:, t], cons[:, t], left[:, t] = p, c, stock
        unmet[:, t] = np.maximum(0.0, ref - c)
        dep[:, t] = restricted / available
        seen = price[rows, np.maximum(t - d.thrift_lag, 0)]
        target = np.where((t - d.thrift_lag >= 0) & (seen >= 2.0 * market.p0), d.thrift_max, 0.0)
        thrift = thrift + (target - thrift) / market.thrift_tau
    return Paths(price, cons, unmet, dep, left)


def quantity_paths(market: Market, d: Draws) -> Paths:
    """The quantity-only model: supply (no response) and stock against fixed demand, no price."""
    n, months = d.eps_d.shape[0], market.months
    cons = np.empty((n, months))
    unmet = np.empty((n, months))
    dep = np.empty((n, months))
    left = np.empty((n, months))
    stock = np.full(n, market.stock)
    for t in range(months):
        ref = market.demand0 * (1.0 + market.growth) ** (t / 12.0)
        restricted = market.restricted_at(t) * market.allowed[t]
        supply = market.base_supply(t)
        release = np.minimum(stock, np.maximum(0.0, ref - supply))
        stock = stock - release
        cons[:, t] = np.minimum(ref, supply + release)
        unmet[:, t] = ref - cons[:, t]
        dep[:, t] = restricted / max(supply, 1e-12)
        left[:, t] = stock
    return Paths(np.full((n, months), market.p0), cons, unmet, dep, left)


def clear_lp(
    demand: float, available: float, p0: float, eps_d: float, p_cap: float, blocks: int = 2_000
) -> float:
    """The clearing price of one month as a linear program (HiGHS): maximise the value of what is
    consumed, demand cut into ``blocks`` equal slices priced by the inverse demand curve
    p(q) = p0 (demand / q)^(1/eps_d) (capped at p_cap x p0), subject to consuming at most ``available``.
    The price is the dual of the supply row (the value of one more tonne)."""
    width = 2.0 * max(available, demand) / blocks
    q_mid = (np.arange(blocks) + 0.5) * width
    value = np.minimum(p0 * (demand / q_mid) ** (1.0 / eps_d), p_cap * p0)
    res = linprog(
        -value,
        A_ub=np.ones((1, blocks)),
        b_ub=[available],
        bounds=[(0.0, width)] * blocks,
        method="highs",
    )
    if res.status != 0:
        raise ValidationError(f"HiGHS could not clear the month: {res.message}", field="market")
    return float(-res.ineqlin.marginals[0])


def central_path_lp(market: Market) -> FloatArray:
    """The central path's prices, each month cleared by ``clear_lp`` with HiGHS (same rules as
    ``price_paths`` for stock, thrifting and new supply)."""
    d = central(market)
    eps = float(d.eps_d[0])
    prices = np.empty(market.months)
    stock, thrift = market.stock, 0.0
    for t in range(market.months):
        ref = market.demand0 * (1.0 + market.growth) ** (t / 12.0) * (1.0 - thrift)
        lag = t - int(d.lead[0])
        lagged = prices[lag] if lag >= 0 else market.p0
        response = (lagged / market.p0) ** float(d.eps_s[0]) - 1.0
        supply = market.base_supply(t) + market.supply0 * min(market.cap_new, max(0.0, response))
        needed = max(0.0, ref * market.trigger ** (-eps) - supply)
        release = min(stock, market.release * market.demand0, needed)
        stock -= release
        prices[t] = clear_lp(ref, supply + release, market.p0, eps, market.p_cap)
        seen_at = t - int(d.thrift_lag[0])
        target = float(d.thrift_max[0]) if seen_at >= 0 and prices[seen_at] >= 2.0 * market.p0 else 0.0
        thrift += (target - thrift) / market.thrift_tau
    return prices


def load_params() -> dict[str, object]:
    """The shared parameter set (``data/world/market_params.json``): name -> number or range object."""
    name = "data/world/market_params.json"
    rows = Fields(read_package_json(name), f"raretrace/{name}:").mapping("parameters")
    return {key: row.get("value", row) if isinstance(row, Mapping) else row for key, row in rows.items()}


def market_from_dict(
    data: Mapping[str, object],
    allowed: tuple[float, ...],
    where: str,
    defaults: Mapping[str, object] | None = None,
    scheduled: tuple[float, ...] = (),
    restricted_cap: float | None = None,
) -> Market:
    """A market from a parameters object (``{"eps_d": {"central":..,"low":..,"high":..}, ...}``); a name
    missing from ``data`` is taken from ``defaults`` (the shared ``market_params.json``)."""
    merged: dict[str, object] = {**(defaults or {}), **data}

    def num(name: str) -> float:
        value = merged.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValidationError("must be a number", field=f"{where}.{name}")
        return float(value)

    def rng(name: str) -> Range:
        value = merged.get(name)
        if not isinstance(value, dict):
            raise ValidationError("must be an object with central, low, high", field=f"{where}.{name}")
        try:
            return Range(float(value["central"]), float(value["low"]), float(value["high"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ValidationError(f"needs central, low, high: {e}", field=f"{where}.{name}") from e

    return Market(
        len(allowed),
        num("p0"),
        num("demand0"),
        num("growth"),
        num("free_supply"),
        num("restricted_supply"),
        allowed,
        num("stock"),
        num("trigger"),
        num("release"),
        num("p_cap"),
        rng("eps_d"),
        rng("eps_s"),
        rng("lead_months"),
        num("cap_new"),
        rng("thrift_max"),
        rng("thrift_lag"),
        num("thrift_tau"),
        scheduled,
        restricted_cap,
    )
