"""The cost of security: every expected figure below is worked out by hand from the shipped rows."""

from __future__ import annotations

import copy

import pytest

from raretrace.errors import ValidationError
from raretrace.world.data import Claim, Platform, WorldData
from raretrace.world.economics import (
    economics,
    floor_fee,
    platform_costs,
    premiums,
    sensitivity,
    stage_ranges,
)
from tests.test_world_data import _docs


def test_premium_of_a_priced_row() -> None:
    by_id = {p.id: p for p in premiums(WorldData.load())}
    floor = by_id["ndpr-floor-vs-fob"]  # $110 floor against FOB China $50-55
    assert (floor.ratio_low, floor.ratio_high) == pytest.approx((110 / 55, 110 / 50))
    assert (floor.usd_per_kg_low, floor.usd_per_kg_high) == pytest.approx((55, 60))
    bench = by_id["ndpr-floor-vs-benchmark"]  # the "≈1.8x the ≈$60 benchmark" of the DoD-MP coverage
    assert bench.ratio_low == pytest.approx(1.8333, abs=1e-4)
    dy = by_id["dy-europe-vs-consumed"]  # Europe $700-1,000 against $224 paid on 96% of Dy consumed
    assert (dy.ratio_low, dy.ratio_high) == pytest.approx((700 / 224, 1000 / 224))
    assert dy.thin_market


def test_rows_published_as_a_ratio_or_an_amount_keep_only_that() -> None:
    by_id = {p.id: p for p in premiums(WorldData.load())}
    vietnam = by_id["magnet-vietnam-korea"]
    assert (vietnam.ratio_low, vietnam.ratio_high) == (1.15, 1.2)
    assert vietnam.usd_per_kg_low is None  # no base price published: no amount invented
    narva = by_id["magnet-narva"]
    assert (narva.usd_per_kg_low, narva.usd_per_kg_high) == (10, 30)
    assert narva.ratio_low is None


def test_stage_ranges_leave_thin_markets_out_unless_asked() -> None:
    figures = premiums(WorldData.load())
    ranges = stage_ranges(figures)
    assert ranges["magnet"] == (1.15, 1.2)
    assert ranges["separation"] == pytest.approx((75 / 55, 180 / 50))  # Project Blue low, Barrenjoey high
    with_thin = stage_ranges(figures, thin_market=True)
    assert with_thin["separation"][1] == pytest.approx(1000 / 224)  # Dy spot in Europe


def test_cost_per_platform_is_content_times_premium() -> None:
    data = WorldData.load()
    costs = {(c.platform.split()[0], c.premium_id): c for c in platform_costs(data)}
    f35 = costs[("F-35", "ndpr-floor-vs-fob")]
    assert f35.content_kg == pytest.approx(417.3)
    assert (f35.usd_low, f35.usd_high) == pytest.approx((417.3 * 55, 417.3 * 60))
    ssn = costs[("SSN-774", "magnet-narva")]
    assert (ssn.usd_low, ssn.usd_high) == pytest.approx((4173.0 * 10, 4173.0 * 30))
    assert not any(pid == "magnet-vietnam-korea" for _, pid in costs)  # a ratio alone cannot be priced


def test_floor_fee_by_hand() -> None:
    fee = floor_fee(110.0, (50.0, 55.0), 1300.0, 14)
    # (110 - 55) x 1,300,000 kg = $71.5M ; (110 - 50) x 1,300,000 kg = $78M ; / 14 members
    assert (fee.annual_cost_usd_low, fee.annual_cost_usd_high) == pytest.approx((71.5e6, 78e6))
    assert fee.per_member_usd_low == pytest.approx(71.5e6 / 14)
    assert floor_fee(50.0, (60.0, 70.0), 100.0, 2).annual_cost_usd_high == 0.0  # floor below market
    for args, field in [
        ((110.0, (50.0, 55.0), 1300.0, 0), "members"),
        ((110.0, (55.0, 50.0), 1300.0, 14), "market_usd_per_kg"),
        ((110.0, (50.0, 55.0), -1.0, 14), "volume_t"),
    ]:
        with pytest.raises(ValidationError, match=field):
            floor_fee(*args)


def test_sensitivity_100_to_500x_against_published_gaps() -> None:
    claims = (
        Claim("s", "d", "seed", "seed 100-500x", 100, 500),
        Claim("s", "d", "published", "published", 1.2, 1.8),
    )
    platform = Platform("s", "d", "F-35", "aircraft", 400.0)
    rows = {
        r.multiplier: r
        for r in sensitivity(claims, [platform], (50.0, 50.0), 1000.0, 10, (1.5, 100, 500, 20))
    }
    assert rows[1.5].label == "published" and rows[100].label == "seed 100-500x" and rows[20].label == ""
    # 1.5x: premium 0.5 x $50 = $25/kg; F-35 400 kg -> $10,000; fee 25 x 1,000,000 kg / 10 = $2.5M
    assert rows[1.5].premium_usd_per_kg_low == pytest.approx(25)
    assert rows[1.5].platform_usd["F-35"] == pytest.approx((10_000, 10_000))
    assert rows[1.5].per_member_usd_low == pytest.approx(2.5e6)
    # 500x: 499 x $50 = $24,950/kg -> F-35 $9.98M, fee $2.495bn per member
    assert rows[500].platform_usd["F-35"][0] == pytest.approx(9.98e6)
    assert rows[500].per_member_usd_high == pytest.approx(2.495e9)
    with pytest.raises(ValidationError, match="multipliers"):
        sensitivity(claims, [platform], (50.0, 50.0), 1.0, 1, (0.5,))


def test_economics_defaults_and_bad_floor_row() -> None:
    econ = economics(WorldData.load(), 14)
    assert econ.floor.volume_t == 1300  # MP Materials' 2024 NdPr oxide output (capacity.json)
    assert econ.floor.floor_usd_per_kg == 110
    assert {r.multiplier for r in econ.sensitivity} >= {100.0, 500.0, 1.2, 1.8}
    assert econ.to_dict()["floor"]["per_member_usd_high"] == pytest.approx(60 * 1.3e6 / 14)
    with pytest.raises(ValidationError, match="magnet-narva.*priced rows"):
        economics(WorldData.load(), 14, floor_row="magnet-narva")


def test_bad_premium_row_names_file_row_and_field() -> None:
    docs = _docs()
    bad = copy.deepcopy(docs)
    bad["premiums.json"]["premiums"][0]["allied"]["usd_per_kg_high"] = 1  # type: ignore[index]
    with pytest.raises(ValidationError, match=r"premiums\.json: premiums\[0\]\.allied\.usd_per_kg_high"):
        WorldData.from_dicts(bad)
    bad = copy.deepcopy(docs)
    bad["premiums.json"]["premiums"][7].update(premium_ratio_low=1.1, premium_ratio_high=1.2)  # type: ignore[index]
    with pytest.raises(ValidationError, match=r"premiums\[7\].*exactly one of"):
        WorldData.from_dicts(bad)
