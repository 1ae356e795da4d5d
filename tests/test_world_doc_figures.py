"""Every headline figure docs/analytics.md gives for production, prices, the back-test, element costs and
control is recomputed here from the data files (with the seed and path count the page states) and must
appear in the page as written."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from raretrace.world import backtest
from raretrace.world.backtest import load_episode, run_backtest
from raretrace.world.control import china_plus, stage_control, unallocated_candidates
from raretrace.world.data import WorldData
from raretrace.world.element_cost import ElementTables, crisis_sensitivity, platform_element_costs
from raretrace.world.independence import Plan, p_covered_by, run_plan
from raretrace.world.market_params import load_estimates, load_params
from raretrace.world.production import ProductionData, calibrated_ramp
from raretrace.world.scenario import Scenario
from raretrace.world.scenario_market import MarketOutcome, run_markets
from raretrace.world.tornado import tornado

DOC = (Path(__file__).resolve().parents[1] / "docs" / "analytics.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    return DOC.split(title, 1)[1].split("\n### ", 1)[0]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _range(a: float, b: float, fmt: str = "{:,.0f}") -> str:
    return f"{fmt.format(a)}-{fmt.format(b)}"


@pytest.fixture(scope="module")
def data() -> WorldData:
    return WorldData.load()


def test_production_figures(data: WorldData) -> None:
    text = _section("### Time to independence")
    prod = ProductionData.load()
    assert f"{prod.producer('lynas-malaysia').run_rate():,.0f} t/yr" in text
    assert _pct(prod.utilization()) in text
    assert f"{calibrated_ramp(prod):.1f} months" in text
    for ramp in prod.ramps():  # each observed ramp's fitted length and the shares it was fitted on
        assert f"**T = {ramp.months:.1f} months**" in text
        assert all(_pct(f) in text for _, f in ramp.points)
    lines = run_plan(Plan.load(), data, paths=10_000, seed=0, production=prod)
    by = {(c.commodity, c.segment): c for c in lines}
    assert f"| NdPr oxide | {by[('NdPr', 'all')].baseline_t_per_year:,.1f} (" in text
    assert f"| Dy oxide | {by[('Dy', 'defense')].baseline_t_per_year:.1f} (" in text
    ndpr_all = by[("NdPr", "all")].result
    assert f"| {_pct(ndpr_all.p_covered)} |" in text
    assert f"3-4 years {_pct(p_covered_by(ndpr_all, '2029-12'))}" in text
    dy = by[("Dy", "defense")].result
    assert f"| {_pct(dy.p_covered)} | {dy.quantile_month(0.1)} / {dy.quantile_month(0.5)} / never |" in text
    mag = by[("NdFeB", "defense")].result
    months = " / ".join(str(mag.quantile_month(q)) for q in (0.1, 0.5, 0.9))
    assert f"| {100 * mag.p_covered:.2f}% | {months} |" in text
    assert f"2027 goal {_pct(p_covered_by(mag, '2027-12'))}" in text


def test_tornado_figures(data: WorldData) -> None:
    text = _section("### Time to independence")
    plan, prod = Plan.load(), ProductionData.load()
    ndpr = {b.input: b for b in tornado(plan, data, prod, "NdPr", "all", paths=2_000, seed=0).bars}
    dy = {b.input: b for b in tornado(plan, data, prod, "Dy", "defense", paths=2_000, seed=0).bars}

    def span(b: object) -> str:
        lo, hi = sorted((b.metric_low, b.metric_high))  # type: ignore[attr-defined]
        return f"{100 * lo:.1f}-{100 * hi:.1f}%".replace("100.0%", "100%")

    assert span(ndpr["utilisation once ramped"]) in text
    assert span(ndpr["offtake to US: lynas-malaysia"]) in text
    assert span(dy["offtake to US: lynas-malaysia-hree"]) in text
    assert span(dy["ramp-up length"]) in text
    assert span(dy["offtake to US: energy-fuels-white-mesa-2-dy"]) in text


def test_backtest_figures() -> None:
    text = _section("### Back-test")
    bt = run_backtest(paths=2_000, seed=0)
    assert (
        f"mean absolute log10 error {bt.mean_abs_log10_error:.2f}, a factor of {bt.error_factor:.1f}" in text
    )
    for p in bt.prices:
        assert f"| {p.observed_multiple:.2f} |" in text
        assert f"{p.log10_error:+.2f}".replace("-", "−") in text
        assert p.model_p10 <= p.observed_multiple <= p.model_p90  # "every observed Dy point lies inside"
    for r in bt.ratios:
        assert f"{r.log10_error:+.2f}".replace("-", "−") in text

    def band(p10: float, p50: float, p90: float) -> str:
        return f"{p10:.2f} / {p50:.2f} / {p90:.1f}" if p90 >= 10 else f"{p10:.2f} / {p50:.2f} / {p90:.2f}"

    for p in bt.prices:  # the whole row: observed, model band, error
        err = f"{p.log10_error:+.2f}".replace("-", "−")
        assert (
            f"| {p.observed_multiple:.2f} | {band(p.model_p10, p.model_p50, p.model_p90)} | {err} |" in text
        )
    for r in bt.ratios:
        err = f"{r.log10_error:+.2f}".replace("-", "−")
        mid = (r.observed_low * r.observed_high) ** 0.5
        row = (
            f"| {r.series} | {r.months} | {mid:.2f} | {band(r.model_p10, r.model_p50, r.model_p90)} | {err} |"
        )
        assert row in text
    assert f"from\n{100 * bt.dependence_before:.0f}% to {100 * bt.dependence_after:.0f}%" in text.replace(
        "model goes from ", "model goes from\n"
    )


def test_element_cost_figures(data: WorldData) -> None:
    text = _section("### The cost of security")
    tables = ElementTables.load()
    costs = {(c.platform[:5], c.reading): c for c in platform_element_costs(data, tables)}
    f35 = costs[("F-35 ", "magnet")]
    assert f"${_range(*f35.china_usd)} | ${_range(*f35.premium_usd)} |" in text
    f35e = costs[("F-35 ", "element")]
    assert f"${_range(*f35e.premium_usd)} |" in text
    crises = {(r.id, r.platform[:5], r.reading): r for r in crisis_sensitivity(list(costs.values()), tables)}
    peak = crises[("2011-quota-dy-peak", "F-35 ", "magnet")]
    assert f"${_range(*peak.premium_usd)}" in text


def test_control_figures(data: WorldData) -> None:
    text = _section("### Dependence")
    cn = china_plus(data, ("CN",))[0]
    usgs, iea = china_plus(data, ("CN", "MM"))
    assert f"| China, USGS t REO | {_pct(cn.by_location)} | {_pct(cn.by_control)} |" in text
    assert f"| {_pct(usgs.by_location)} | {_pct(usgs.by_control)} | {_pct(usgs.not_known)} |" in text
    assert f"| {_pct(iea.by_location)} | {_pct(iea.by_control)} | {_pct(iea.not_known)} |" in text
    for group in (("CN",), ("CN", "MM")):
        sep = stage_control(data, "separation", group, 2023)
        mag = stage_control(data, "magnet", group)
        assert (sep.by_location, sep.by_control) == pytest.approx((0.92, 0.92))  # MY is Lynas, Australian
        assert sep.not_known == pytest.approx(1 - 0.92 - 0.05)
        assert mag.by_control == pytest.approx(0.94) and mag.not_known == pytest.approx(0.06)
        for g in (sep, mag):
            assert f"| {_pct(g.by_location)} | {_pct(g.by_control)} | {_pct(g.not_known)} |" in text
    for stage, year in (("separation", 2023), ("magnet", None)):
        g = stage_control(data, stage, ("CN",), year)
        assert f"| {_pct(g.by_control)} | {_pct(g.by_control_if_unknown_in_group)} |" in text
    flat = " ".join(text.split())
    for c in unallocated_candidates():
        assert c.company.split(",")[0].split(" (")[0].split("'")[0] in flat


def test_published_estimates_are_listed() -> None:
    """Each estimate of market_params.json is a row of the page's table: its value, kind, whether it is
    drawn; and the drawn range of eps_s is the one the parameter table gives."""
    text = _section("### Prices in a scenario")
    params = load_params()
    for e in load_estimates():
        value = "–" if e.value is None else f"{e.value:g}"
        drawn = "yes" if e.use == "range" else "no"
        author = e.author.split(",")[0].split(" ")[0]
        start = f"| {_SYMBOL[e.parameter]} | {value} |"
        row = next(line for line in text.splitlines() if line.startswith(start) and author in line)
        assert f"| {e.kind} | {drawn} |" in row and author in row
    eps_s = params["eps_s"]
    assert isinstance(eps_s, dict)
    drawn_range = f"{eps_s['central']:g} ({eps_s['low']:g}-{eps_s['high']:g})"
    assert f"| ε_s, elasticity of new supply | {drawn_range} |" in text


_SYMBOL = {"eps_d": "ε_d", "eps_s": "ε_s", "thrift_max": "thrift_max"}


def _shipped(name: str) -> dict[str, Any]:
    text = resources.files("raretrace").joinpath(f"data/scenarios/{name}.json").read_text("utf-8")
    raw: dict[str, Any] = json.loads(text)
    return raw


def _band(o: MarketOutcome, month: int) -> str:
    """The 10-90% price band of a month as the page writes it."""
    return f"${o.price[0.1][month]:,.0f}-{o.price[0.9][month]:,.0f}"


def test_priced_scenario_figures() -> None:
    text = _section("### Prices in a scenario")
    dy, tb = run_markets(Scenario.from_dict(_shipped("cn-heavy-ree-ban-us")), paths=1_000, seed=0)
    assert f"${dy.price[0.5][0]:,.0f}/kg all year" in text
    assert f"10-90% {_band(dy, 0)}" in text
    assert f"${tb.price[0.5][-1]:,.0f}/kg by December" in text
    assert f"(10-90% {_band(tb, -1)})" in text
    assert (
        f"leaves\n{dy.quantity_unmet_total:.1f} t of Dy unmet against the priced model's "
        f"{dy.unmet_total[0.5]:.1f} t" in text
    )


def test_priced_magnet_ban_figures(data: WorldData) -> None:
    """NdFeB priced at China's 2024 export unit value (customs value / tonnes, Adamas)."""
    text = _section("### Prices in a scenario")
    p0 = 2.86e9 / 58_152 / 1000  # USD per kg
    rows = [r for r in data.prices if r.element == "NdFeB" and r.period == "2024"]
    assert len(rows) == 1 and rows[0].usd_per_kg_low == pytest.approx(p0, abs=0.005)
    raw = _shipped("cn-magnet-ban-us")
    assert raw["market"]["NdFeB"]["p0"] == pytest.approx(p0, abs=0.005)
    (m,) = run_markets(Scenario.from_dict(raw), paths=1_000, seed=0)
    # half of US demand made by allied plants: the central price is p0 x 2^(1 / 0.3)
    assert f"${p0 * 2 ** (1 / 0.3):,.0f}/kg" in text
    assert f"median\nis ${m.price[0.5][0]:,.0f}/kg in January (10-90% {_band(m, 0)}," in text
    assert f"${m.price[0.5][3]:,.0f}/kg in April" in text
    assert f"${m.price[0.5][11]:,.0f}/kg in December (10-90% {_band(m, 11)})" in text
    assert f"${m.price[0.5][-1]:,.0f}/kg by June 2027" in text
    assert f"leaves {m.unmet_total[0.5]:,.1f} t unmet" in text
    assert f"model on the same lines ({m.quantity_unmet_total:,.1f} t)" in text


def test_readme_figures(data: WorldData) -> None:
    """The README's issue-21 paragraph, figure by figure (the benchmark times are measurements)."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    text = " ".join(
        text.split("Issue #21 counts production", 1)[1].split("The NdPr price floor", 1)[0].split()
    )
    prod = ProductionData.load()
    lines = run_plan(Plan.load(), data, paths=10_000, seed=0, production=prod)
    old = run_plan(Plan.load(), data, paths=200, seed=0)
    by = {(c.commodity, c.segment): c for c in lines}
    was = {(c.commodity, c.segment): c for c in old}
    assert f"{by[('NdPr', 'all')].baseline_t_per_year:,.1f} t/yr" in text
    assert f"said {was[('NdPr', 'all')].baseline_t_per_year:,.0f}" in text
    assert f"by {by[('NdFeB', 'defense')].result.quantile_month(0.5)}" in text
    assert f"on {_pct(by[('NdPr', 'all')].result.p_covered)} of paths" in text
    assert f"(median {by[('Dy', 'defense')].result.quantile_month(0.5)})" in text
    dy = by[("Dy", "defense")]
    assert f"({dy.baseline_t_per_year:.1f} t/yr against {dy.demand_t_per_year:.1f} t)" in text
    f35 = platform_element_costs(data, ElementTables.load())[0]
    assert f35.platform.startswith("F-35") and f35.reading == "magnet"
    assert f"worth ${_range(*f35.china_usd)}" in text
    bt = run_backtest(paths=2_000, seed=0)
    assert (
        f"a factor of {bt.error_factor:.1f} (mean absolute log10 error {bt.mean_abs_log10_error:.2f})" in text
    )


def test_lynas_us_share_figures() -> None:
    """The derivation of Lynas' US NdPr share as the page writes it, from production.json's parts."""
    text = " ".join(_section("### Time to independence").split())
    raw = json.loads(resources.files("raretrace").joinpath("data/world/production.json").read_text("utf-8"))
    lynas = next(p for p in raw["producers"] if p["id"] == "lynas-malaysia")
    us = next(o for o in lynas["offtake"] if o["country"] == "US")
    imports = us["derivation"]["us_imports_compounds_and_metals_t_reo"]
    assert f"{sum(imports.values()):,} t REO over 2020-23" in text
    assert ", ".join(f"{v:,}" for v in list(imports.values())[:-1]) in text
    assert f"i.e. {us['share_num']:,.1f} t" in text
    assert f"sold {us['share_den']:,} t REO" in text
    share = ProductionData.load().producer("lynas-malaysia").share_to("US")
    assert f"**{_pct(share.share)}** (central)" in text
    assert f"{_pct(share.high)} of the {us['share_high_den']:,} t of NdPr" in text


def _before(doc: dict[str, Any]) -> dict[str, Any]:
    """production.json as it was before this page's last refit: Lynas' US NdPr share the assumed 10%
    (0-25%), and its 2013-2016 ramp on the two 2016 quarters only."""
    old = copy.deepcopy(doc)
    lynas = next(p for p in old["producers"] if p["id"] == "lynas-malaysia")
    us = next(o for o in lynas["offtake"] if o["country"] == "US")
    for key in [k for k in us if k.startswith("share")]:
        del us[key]
    us.update(share=0.1, share_low=0.0, share_high=0.25, basis="assumption: as before")
    ramp = next(r for r in old["ramps"] if r.get("id") == "lynas-lamp-2013")
    ramp["reported"] = [r for r in ramp["reported"] if r["period"].startswith("2016")]
    return old


def test_what_the_refit_and_the_derived_share_moved(data: WorldData) -> None:
    """The page's before/after statements, recomputed from the inputs as they were."""
    text = " ".join(DOC.split())
    raw = json.loads(resources.files("raretrace").joinpath("data/world/production.json").read_text("utf-8"))
    before = ProductionData.from_dict(_before(raw))
    lynas_2016 = next(r for r in before.ramps() if r.producer == "lynas-lamp-2013")
    assert f"({lynas_2016.months:.1f} on the two 2016 quarters alone)" in text
    assert f"({calibrated_ramp(before):.1f} before the two added Lynas figures)" in text
    lines = run_plan(Plan.load(), data, paths=10_000, seed=0, production=before)
    ndpr = next(c for c in lines if (c.commodity, c.segment) == ("NdPr", "all"))
    assert f"that put {ndpr.baseline_t_per_year:,.1f} t/yr on the US side" in text
    assert f"and {_pct(p_covered_by(ndpr.result, '2029-12'))} of paths covered in 3-4 years" in text
    only_ramp = ProductionData.from_dict({**raw, "ramps": _before(raw)["ramps"]})
    bars = {
        b.input: b for b in tornado(Plan.load(), data, only_ramp, "Dy", "defense", paths=2_000, seed=0).bars
    }
    now = {b.input: b for b in tornado(Plan.load(), data, ProductionData.load(), "Dy", "defense").bars}
    lo, hi = sorted((bars["ramp-up length"].metric_low, bars["ramp-up length"].metric_high))
    lo2, hi2 = sorted((now["ramp-up length"].metric_low, now["ramp-up length"].metric_high))
    assert f"from {100 * lo:.1f}-{100 * hi:.1f}% to {100 * lo2:.1f}-{100 * hi2:.1f}%" in text


def test_what_widening_eps_s_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    """The back-test's seven older points with eps_s drawn up to 1.0 (before) and 1.5 (now)."""
    text = " ".join(_section("### Back-test").split())
    doc = load_episode()
    assert isinstance(doc, dict)
    older = {**doc, "ratios": [r for r in doc["ratios"] if r["to"] in ("2010-12", "2012-12")]}
    now = run_backtest(paths=2_000, seed=0, doc=older)
    params = load_params()
    monkeypatch.setattr(
        backtest, "load_params", lambda: {**params, "eps_s": {"central": 0.5, "low": 0.2, "high": 1.0}}
    )
    was = run_backtest(paths=2_000, seed=0, doc=older)
    assert f"mean error {was.mean_abs_log10_error:.2f} to {now.mean_abs_log10_error:.2f}" in text
    end_2012 = f"{was.prices[-1].log10_error:+.2f} to {now.prices[-1].log10_error:+.2f}".replace("-", "−")
    assert f"Dy at the end of 2012: {end_2012}" in text
