"""Published inputs of the issue-21 remainder, each checked against the arithmetic of its source:
elasticity estimates the Monte Carlo must cover, Lynas' US share derived from USGS import statistics and
Lynas' own volumes, the Lynas 2013-2016 ramp refitted on four published figures, and the bound the
unallocated rest of a stage puts on "China by control"."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raretrace.errors import ValidationError
from raretrace.world.control import (
    UNALLOCATED,
    ControlRow,
    group_share,
    stage_control,
    unallocated_candidates,
)
from raretrace.world.data import WorldData
from raretrace.world.lines import month_index
from raretrace.world.market_params import load_estimates, load_params
from raretrace.world.production import ProductionData, Reported


def _data(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        resources.files("raretrace").joinpath(f"data/world/{name}").read_text("utf-8")
    )
    return doc


# --- elasticities ---------------------------------------------------------------------------------------


def test_every_published_estimate_the_range_must_cover_is_drawn() -> None:
    params = load_params()
    estimates = load_estimates()
    assert {e.parameter for e in estimates} >= {"eps_d", "eps_s", "thrift_max"}
    for e in estimates:
        row = params[e.parameter]
        assert isinstance(row, dict)
        if e.use == "range":
            assert e.value is not None and row["low"] <= e.value <= row["high"]
        assert e.author and e.title and e.locator and e.measures and e.source


def test_the_copper_proxies_are_the_textbook_figures() -> None:
    """Pindyck & Rubinfeld's copper example: ES = 1.5 and ED = -0.5 (long run); labelled as a proxy."""
    by = {(e.parameter, e.value): e for e in load_estimates() if e.use == "range"}
    assert by[("eps_s", 1.5)].kind == by[("eps_d", 0.5)].kind == "proxy"
    params = load_params()
    assert params["eps_s"] == {"central": 0.5, "low": 0.2, "high": 1.5}  # assumed 0.2-1.0, widened to 1.5
    assert params["eps_d"] == {"central": 0.3, "low": 0.1, "high": 0.5}  # the proxy sits on the assumed edge


def test_context_estimates_are_not_drawn() -> None:
    """Nissan's 40% less Dy is one product's thrifting: listed, but the drawn thrift range stays 0.1-0.3."""
    nissan = [e for e in load_estimates() if e.parameter == "thrift_max" and e.value == 0.4]
    assert nissan and nissan[0].use == "context"
    assert load_params()["thrift_max"] == {"central": 0.2, "low": 0.1, "high": 0.3}


@given(
    low=st.floats(0.0, 1.0),
    width=st.floats(0.0, 1.0),
    values=st.lists(st.floats(0.0, 3.0), max_size=5),
)
def test_the_drawn_range_is_the_hull_of_assumption_and_estimates(
    low: float, width: float, values: list[float]
) -> None:
    doc = copy.deepcopy(_data("market_params.json"))
    row = doc["parameters"]["eps_s"]
    row.update(central=low, low=low, high=low + width)
    template = row.pop("estimates")[0]
    if values:
        row["estimates"] = [dict(template, value=v, use="range") for v in values]
    got = load_params(doc)["eps_s"]
    assert got == {"central": low, "low": min([low, *values]), "high": max([low + width, *values])}


def test_a_range_estimate_without_a_value_is_refused() -> None:
    doc = copy.deepcopy(_data("market_params.json"))
    doc["parameters"]["eps_d"]["estimates"][0]["value"] = None
    with pytest.raises(ValidationError, match="value"):
        load_params(doc)


# --- Lynas' US share ---------------------------------------------------------------------------------------


def test_lynas_us_share_is_redone_from_its_published_parts() -> None:
    """USGS MCS 2025: imports 2020-23 (compounds + ferrocerium/alloys + metals), Malaysia 13% of them;
    Lynas' annual reports: REO sold and NdPr produced in FY2020-FY2023."""
    doc = _data("production.json")
    lynas = next(p for p in doc["producers"] if p["id"] == "lynas-malaysia")
    us = next(o for o in lynas["offtake"] if o["country"] == "US")
    parts = us["derivation"]
    imports = {
        "2020": 6_510 + 270 + 363,
        "2021": 7_690 + 330 + 580,
        "2022": 10_700 + 395 + 487,
        "2023": 8_920 + 259 + 476,
    }
    assert parts["us_imports_compounds_and_metals_t_reo"] == imports
    assert us["share_num"] == pytest.approx(0.13 * sum(imports.values()))
    assert us["share_den"] == 14_172 + 16_405 + 15_263 + 16_014
    assert us["share_high_den"] == 4_656 + 5_461 + 5_880 + 6_142
    share = ProductionData.load().producer("lynas-malaysia").share_to("US")
    assert not share.assumption
    assert (share.low, round(share.share, 3), round(share.high, 3)) == (0.0, 0.078, 0.217)


def test_a_derived_share_above_one_is_refused() -> None:
    doc = copy.deepcopy(_data("production.json"))
    lynas = next(p for p in doc["producers"] if p["id"] == "lynas-malaysia")
    next(o for o in lynas["offtake"] if o["country"] == "US")["share_num"] = 70_000
    with pytest.raises(ValidationError, match="share_num"):
        ProductionData.from_dict(doc)


# --- the Lynas 2013-2016 ramp -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "first", "months", "mid"),
    [
        ("FY2015", "2014-07", 12, "2014-12"),  # Australian fiscal year, July 2014 to June 2015
        ("2015-H2", "2015-07", 6, "2015-09"),
        ("2016-Q1", "2016-01", 3, "2016-02"),
        ("2024", "2024-01", 12, "2024-06"),
    ],
)
def test_periods(period: str, first: str, months: int, mid: str) -> None:
    r = Reported(period, 600.0, "test", "2026-12")
    assert r.months == months and r.mid_month() == month_index(mid)
    assert r.per_year() == pytest.approx(600.0 * 12 / months)


def test_a_malformed_period_is_refused() -> None:
    doc = copy.deepcopy(_data("production.json"))
    next(r for r in doc["ramps"] if r.get("id") == "lynas-lamp-2013")["reported"][0]["period"] = "2015-H3"
    with pytest.raises(ValidationError, match="FYYYYY"):
        ProductionData.from_dict(doc)


def test_lynas_ramp_uses_the_four_published_ndpr_figures() -> None:
    """First product 2013-02; NdPr design 5,263 t/yr. FY2015 2,258 t; 2015-H2 = FY2016 3,897 - 846 - 1,150;
    2016-Q1 846 t; 2016-Q2 1,150 t (Lynas via Mining Weekly). T = sum e^2 / sum e f."""
    points = [
        (22, 2_258 / 5_263),
        (31, 2 * (3_897 - 846 - 1_150) / 5_263),
        (36, 4 * 846 / 5_263),
        (39, 4 * 1_150 / 5_263),
    ]
    want = sum(e * e for e, _ in points) / sum(e * f for e, f in points)
    ramp = next(r for r in ProductionData.load().ramps() if r.producer == "lynas-lamp-2013")
    assert ramp.points == pytest.approx(points)
    assert ramp.months == pytest.approx(want)


# --- the unallocated rest of a stage ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "year", "low", "high"), [("magnet", None, 0.94, 1.0), ("separation", 2023, 0.92, 0.95)]
)
def test_china_by_control_is_bounded_by_the_unallocated_rest(
    stage: str, year: int | None, low: float, high: float
) -> None:
    got = stage_control(WorldData.load(), stage, ("CN",), year)
    assert (got.by_control, got.by_control_if_unknown_in_group) == pytest.approx((low, high))


@pytest.mark.parametrize("owner", ["CN", "JP"])
def test_both_ends_of_the_bound_are_reached_by_naming_the_owner(owner: str) -> None:
    """Give the unallocated rest an owner and the control share lands on one end of the bound."""
    output = {"CN": 0.94, UNALLOCATED: 0.06}
    unknown = group_share(output, [], ("CN",), "test", ())
    named = ControlRow("magnet", UNALLOCATED, owner, 1.0, "what-if", "test")
    got = group_share(output, [named], ("CN",), "test", (), stage="magnet")
    end = unknown.by_control_if_unknown_in_group if owner == "CN" else unknown.by_control
    assert got.by_control == pytest.approx(end) and got.not_known == 0


def test_candidates_name_a_source_and_include_chinese_plants_abroad() -> None:
    rows = unallocated_candidates()
    assert {r.stage for r in rows} == {"magnet", "separation"}
    assert all(r.source and r.basis for r in rows)
    assert any(r.owner_country == "CN" for r in rows if r.stage == "magnet")
