"""Production-based forecast, the price-forming market model, its HiGHS cross-check, the 2010 back-test."""

from __future__ import annotations

import copy
import json
import math
from importlib import resources

import numpy as np
import pytest

from raretrace.errors import ValidationError
from raretrace.world.backtest import episode_market, load_episode, run_backtest
from raretrace.world.data import WorldData
from raretrace.world.independence import Plan
from raretrace.world.market import (
    Market,
    Range,
    central,
    central_path_lp,
    clear_lp,
    draw,
    price_paths,
    quantity_paths,
)
from raretrace.world.production import ProductionData, Settings, calibrated_ramp, supply_parts


def _doc() -> dict:
    return json.loads(resources.files("raretrace").joinpath("data/world/production.json").read_text("utf-8"))


def test_run_rate_utilisation_and_ramp_from_the_reported_rows() -> None:
    prod = ProductionData.load()
    lynas = prod.producer("lynas-malaysia")
    # the last four reported quarters (2025-Q1..Q4): 1,509 + 2,080 + 2,003 + 1,404 t NdPr
    assert lynas.run_rate() == pytest.approx(1509 + 2080 + 2003 + 1404)
    # only the ramped plant with nameplate and reports counts: Lynas, 6,996 / 10,500
    assert prod.utilization() == pytest.approx(6996 / 10500)
    # Two observed ramps, each a linear ramp through the origin fitted by least squares, T = sum e^2 /
    # sum e f (e: months from first output to the period's middle; f: annualised output / nameplate).
    # MP (first output 2023-10, 6,000 t/yr): 2024 1,294 t (mid 2024-06, 8 months), 2025-Q1..Q3 563, 597,
    # 721 t (16, 19, 22 months). Lynas LAMP (first product 2013-02, original design 5,263 t/yr NdPr):
    # FY2015 (July 2014-June 2015) 2,258 t (mid 2014-12, 22 months), 2015-H2 = FY2016 3,897 - 846 - 1,150
    # (mid 2015-09, 31 months, x2 a year), 2016-Q1 846 t (36 months), 2016-Q2 1,150 t (39 months).
    mp = [(8, 1294 / 6000), (16, 563 * 4 / 6000), (19, 597 * 4 / 6000), (22, 721 * 4 / 6000)]
    lynas = [
        (22, 2258 / 5263),
        (31, (3897 - 846 - 1150) * 2 / 5263),
        (36, 846 * 4 / 5263),
        (39, 1150 * 4 / 5263),
    ]

    def fit(points: list[tuple[int, float]]) -> float:
        return sum(e * e for e, _ in points) / sum(e * f for e, f in points)

    months = {r.producer: r.months for r in prod.ramps()}
    assert months == pytest.approx({"mp-mountain-pass-sep": fit(mp), "lynas-lamp-2013": fit(lynas)})
    assert calibrated_ramp(prod) == pytest.approx((fit(mp) + fit(lynas)) / 2)
    # with one period the fit is the old two-point ramp: 22 months / 48.1% of nameplate
    assert fit(mp[-1:]) == pytest.approx(22 / (721 * 4 / 6000))
    # MP has three quarters reported: (563 + 597 + 721) / 3 x 4
    assert prod.producer("mp-mountain-pass-sep").run_rate() == pytest.approx((563 + 597 + 721) / 3 * 4)


def test_offtake_decides_what_reaches_the_us() -> None:
    prod = ProductionData.load()
    dy = {p.producer: p for p in supply_parts(prod, "Dy")}
    # Lynas reported 26 t Dy+Tb in 2025-Q4; 80% Dy (assumption); x4 a year; 10% to the US (assumption)
    assert dy["lynas-malaysia-hree"].t_per_year == pytest.approx(26 * 0.8 * 4 * 0.1)
    assert dy["lynas-malaysia-hree"].assumption
    none = supply_parts(prod, "Dy", Settings(offtake_pick=(("lynas-malaysia-hree", "low"),)))
    assert next(p for p in none if p.producer == "lynas-malaysia-hree").t_per_year == 0.0
    plan, data = Plan.load(), WorldData.load()
    by = {c.commodity: c for c in plan.commodities}
    defense = next(t for t in plan.targets if t.segment == "defense")
    nameplate = plan.model(data, by["NdPr"], defense)
    produced = plan.model(data, by["NdPr"], defense, prod)
    # nameplate counted 12,650 t/yr as American; reported output with offtake counts far less
    assert nameplate.baseline_t_per_month * 12 == pytest.approx(12_650)
    # Lynas' US share: US imports from Malaysia 2020-23 (13% of 36,980 t) over Lynas' FY2020-23 sales
    mp, lynas, wm1 = 2508.0, 6996 * (0.13 * 36_980) / 61_854, 850 * 6996 / 10500
    assert produced.baseline_t_per_month * 12 == pytest.approx(mp + lynas + wm1)


def test_bad_production_row_names_the_field() -> None:
    doc = _doc()
    bad = copy.deepcopy(doc)
    bad["producers"][0]["reported"][1]["period"] = "2025-Q5"
    with pytest.raises(ValidationError, match=r"producers\[0\]\.reported\[1\]\.period"):
        ProductionData.from_dict(bad)
    bad = copy.deepcopy(doc)
    bad["producers"][0]["offtake"][1]["share"] = 0.5  # above share_high 0.25
    with pytest.raises(ValidationError, match=r"producers\[0\]\.offtake\[1\]\.share"):
        ProductionData.from_dict(bad)
    bad = copy.deepcopy(doc)
    del bad["producers"][1]["split"]  # Lynas' 26 t of Dy and Tb together cannot be read without it
    with pytest.raises(ValidationError, match=r"producers\[1\]\.reported\[0\]\.t_reported"):
        ProductionData.from_dict(bad)


def _market(**change: object) -> Market:
    base = {
        "months": 24,
        "p0": 100.0,
        "demand0": 1000.0,
        "growth": 0.0,
        "free_supply": 500.0,
        "restricted_supply": 500.0,
        "allowed": tuple([1.0] * 6 + [0.0] * 18),
        "stock": 0.0,
        "trigger": 1.5,
        "release": 0.2,
        "p_cap": 1000.0,
        "eps_d": Range(0.5, 0.5, 0.5),
        "eps_s": Range(0.0, 0.0, 0.0),
        "lead_months": Range(12, 12, 12),
        "cap_new": 0.0,
        "thrift_max": Range(0.0, 0.0, 0.0),
        "thrift_lag": Range(6, 6, 6),
        "thrift_tau": 12.0,
    }
    base.update(change)
    return Market(**base)  # type: ignore[arg-type]


def test_price_clears_by_hand() -> None:
    m = _market()
    p = price_paths(m, central(m))
    # balanced before the cut: the reference price; half the supply gone with |eps| 0.5: p0 x 2^(1/0.5)
    assert p.price[0, 0] == pytest.approx(100.0)
    assert p.price[0, 10] == pytest.approx(400.0)
    # consumption is what is available; the priced-out half is unmet; dependence on the exporter 0
    assert p.consumption[0, 10] == pytest.approx(500.0) and p.unmet[0, 10] == pytest.approx(500.0)
    assert p.dependence[0, 0] == pytest.approx(0.5) and p.dependence[0, 10] == 0.0
    q = quantity_paths(m, central(m))
    assert q.unmet[0, 10] == pytest.approx(500.0) and q.price[0, 10] == 100.0


def test_stock_rule_and_supply_response() -> None:
    # 2,000 t of stock released at 0.2 x 1,000 t a month once the pre-release price reaches 1.5 p0
    m = _market(stock=2000.0)
    p = price_paths(m, central(m))
    assert p.stock[0, 5] == 2000.0 and p.stock[0, 6] == pytest.approx(1800.0)
    assert p.price[0, 6] == pytest.approx(100.0 * (1000 / 700) ** 2)
    # new supply after 12 months: S0 x ((p / p0)^eps_s - 1), at most cap_new x S0
    m = _market(eps_s=Range(1.0, 1.0, 1.0), cap_new=0.2)
    p = price_paths(m, central(m))
    assert p.consumption[0, 18] == pytest.approx(500.0 + 0.2 * 1000.0)


def test_highs_lp_agrees_with_the_closed_form() -> None:
    # the LP prices one month from blocks of the inverse demand curve: the dual of the supply row
    assert clear_lp(1000.0, 500.0, 100.0, 0.5, 1000.0) == pytest.approx(400.0, rel=0.01)
    m = episode_market(load_episode())
    closed = price_paths(m, central(m)).price[0]
    assert np.max(np.abs(central_path_lp(m) / closed - 1.0)) < 0.01


def test_monte_carlo_bands_are_ordered_and_seeded() -> None:
    m = episode_market(load_episode())
    a = price_paths(m, draw(m, 500, 3))
    b = price_paths(m, draw(m, 500, 3))
    assert np.array_equal(a.price, b.price)
    assert np.all(a.band("price", 0.1) <= a.band("price", 0.9))


def test_backtest_error_recomputed_from_the_data() -> None:
    doc = load_episode()
    bt = run_backtest(paths=500, seed=0)
    p0 = doc["market"]["p0"]
    errors = []
    for point, o in zip(bt.prices, doc["outcomes"], strict=True):
        observed = (o["usd_per_kg_low"] + o["usd_per_kg_high"]) / 2 / p0
        assert point.observed_multiple == pytest.approx(observed)
        t = (int(o["month"][:4]) - 2010) * 12 + int(o["month"][5:]) - 1
        errors.append(abs(math.log10(float(np.median(bt.paths.price[:, t])) / p0 / observed)))
    for r, x in zip(doc["ratios"], bt.ratios, strict=True):
        mid = math.sqrt(r["ratio_low"] * r["ratio_high"])
        assert (x.series, x.months) == (r["series"], f"{r['from']}..{r['to']}")
        model = x.model_p50
        errors.append(abs(math.log10(model / mid)))
    assert bt.mean_abs_log10_error == pytest.approx(sum(errors) / len(errors))
    # before the episode: China's 2009 exports over them plus 3% of 124,000 t made elsewhere
    assert bt.dependence_before == pytest.approx(50145 / (50145 + 0.03 * 124000))
    # H2 2010: 7,976 t over six months against 50,145 t a year
    assert bt.market.allowed[6] == pytest.approx(7976 / 6 / (50145 / 12))


def test_no_backtest_parameter_comes_from_the_outcomes() -> None:
    doc = load_episode()
    shared = json.loads(
        resources.files("raretrace").joinpath("data/world/market_params.json").read_text("utf-8")
    )["parameters"]
    # the episode overrides none of the shared parameters: the back-test runs on the scenarios' set
    assert not set(shared) & set(doc["market"])
    for name, row in shared.items():
        assert row["basis"].startswith(("assumption", "docs/reference")), name
    m = episode_market(doc)
    assert (m.eps_d.central, m.eps_d.low, m.eps_d.high) == tuple(
        shared["eps_d"][k] for k in ("central", "low", "high")
    )
    # outcomes are dated inside the horizon and never read by episode_market
    changed = copy.deepcopy(doc)
    changed["outcomes"][0]["usd_per_kg_low"] = 1.0
    assert episode_market(changed) == episode_market(doc)


def _priced_scenario(**market: object) -> dict:
    fixed = {"central": 0.0, "low": 0.0, "high": 0.0}
    block = {
        "p0": 100.0,
        "p0_source": "test figure",
        "eps_d": {"central": 0.5, "low": 0.5, "high": 0.5},
        "thrift_max": fixed,
        "cap_new": 0.0,
        **market,
    }
    return {
        "name": "priced",
        "exporter": "CN",
        "stages": ["separation"],
        "destinations": ["US"],
        "start": "2026-04",
        "end": "2026-06",
        "horizon": {"start": "2026-01", "end": "2026-12"},
        "approval_rate": 0.5,
        "supply": [
            {"country": "CN", "stage": "separation", "element": "Dy", "t_per_month": 200},
            {"country": "AU", "stage": "separation", "element": "Dy", "t_per_month": 20},
        ],
        "demand": [{"segment": "civil", "country": "US", "element": "Dy", "t_per_month": 100}],
        "market": {"Dy": block},
    }


def test_scenario_market_by_hand() -> None:
    from raretrace.world.scenario import Scenario
    from raretrace.world.scenario_market import run_markets

    scenario = Scenario.from_dict(_priced_scenario())
    (dy,) = run_markets(scenario, paths=50, seed=1)
    # China fills 100 - 20 = 80 t at p0; half of it is licensed in the ban: 20 + 40 = 60 t for 100 t demand
    assert dy.market.restricted_supply == 80 and dy.market.allowed[3] == 0.5
    assert dy.price[0.5][0] == pytest.approx(100.0)
    assert dy.price[0.5][4] == pytest.approx(100.0 * (100 / 60) ** 2)
    assert dy.unmet_total[0.5] == pytest.approx(3 * 40)
    assert dy.quantity_unmet_total == pytest.approx(3 * 40)
    assert dy.dependence[0.5][0] == pytest.approx(0.8) and dy.dependence[0.5][4] == pytest.approx(40 / 60)
    assert dy.overrides == ("cap_new", "eps_d", "thrift_max")
    assert np.max(np.abs(dy.price_lp / dy.price[0.5] - 1)) < 0.01  # HiGHS month by month
    assert scenario.to_dict()["market"]["Dy"]["p0"] == 100.0


def test_scenario_market_errors_name_the_field() -> None:
    from raretrace.world.scenario import Scenario
    from raretrace.world.scenario_market import run_markets

    raw = _priced_scenario()
    raw["market"]["Dy"].pop("p0_source")
    with pytest.raises(ValidationError, match=r"scenario\.market\.Dy\.p0_source"):
        run_markets(Scenario.from_dict(raw))
    raw = _priced_scenario(eps_d={"central": 0.5})
    with pytest.raises(ValidationError, match=r"scenario\.market\.Dy\.eps_d"):
        run_markets(Scenario.from_dict(raw))
    raw = _priced_scenario()
    raw["market"] = {"Dy": 3}
    with pytest.raises(ValidationError, match=r"scenario\.market\.Dy"):
        Scenario.from_dict(raw)


@pytest.mark.parametrize(
    ("rule", "first_short", "partial_month"),
    [("latest", "2026-01", "2026-08"), ("earliest", "2026-05", "2026-05")],
)
def test_stockpile_rule_decides_when_the_reserve_is_drawn(
    rule: str, first_short: str, partial_month: str
) -> None:
    from raretrace.world.scenario import Scenario, run

    raw = json.loads(
        resources.files("raretrace").joinpath("data/scenarios/cn-heavy-ree-ban-us.json").read_text("utf-8")
    )
    raw["stockpile_rule"] = rule
    result = run(Scenario.from_dict(raw))
    short = [a for a in result.rows if a.segment == "defense" and a.element == "Dy" and a.unmet_t > 0]
    # 6 t of stock covers 6 / 1.28 = 4.69 months of the 1.28 t/month defense line; the month it runs out
    # in is short by 1.28 - (6 - 4 x 1.28) = 0.40 t, and the total is the same either way
    assert short[0].month == first_short and len(short) == 8
    partial = next(a for a in short if a.month == partial_month)
    assert partial.unmet_t == pytest.approx(1.28 - (6 - 4 * 1.28))
    assert sum(a.unmet_t for a in short) == pytest.approx(12 * 1.28 - 6)
    with pytest.raises(ValidationError, match="scenario.stockpile_rule"):
        Scenario.from_dict({**raw, "stockpile_rule": "never"})
