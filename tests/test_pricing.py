"""Shares by value with the shipped (sourced) price table, and a user's table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from raretrace.elements import oxide_factor
from raretrace.errors import ValidationError
from raretrace.pricing import PriceTable, value_shares
from raretrace.provenance import Contribution, extracted, performed, pooled


def test_shipped_table_is_sourced_and_per_element() -> None:
    table = PriceTable.load()
    assert set(table.prices) >= {"Nd", "Dy", "Tb"}
    assert all(p.source and p.date for p in table.prices.values())
    assert math.isclose(table.prices["Nd"].usd_per_kg_element, 56 / oxide_factor("Nd"))


def test_a_little_chinese_dysprosium_weighs_more_by_value_than_by_mass() -> None:
    table = PriceTable.load()
    au = performed(extracted(["Nd"], "AU", "AU"), "separation", "MY", "MY")
    cn = performed(extracted(["Dy"], "CN", "CN"), "separation", "CN", "CN")
    kg = {"Nd": 29.0, "Dy": 1.0}
    origin = pooled([Contribution(au, {"Nd": 29.0}), Contribution(cn, {"Dy": 1.0})])
    shares = value_shares(origin, kg, table)
    nd_value = 29.0 * table.prices["Nd"].usd_per_kg_element
    dy_value = 1.0 * table.prices["Dy"].usd_per_kg_element
    assert math.isclose(shares["location"]["mining"]["CN"], dy_value / (nd_value + dy_value))
    assert shares["location"]["mining"]["CN"] > 1.0 / 30.0  # by mass it would be 3.3%
    assert shares["unpriced"] == []


def test_unpriced_elements_are_reported_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps(
            {
                "prices": [
                    {"element": "nd", "oxide_usd_per_kg": 100, "date": "2026-11", "source": "our contract"}
                ]
            }
        )
    )
    table = PriceTable.load(path)
    shares = value_shares(extracted(["Nd", "La"], "US", "US"), {"Nd": 1.0, "La": 5.0}, table)
    assert shares["location"]["mining"] == {"US": 1.0} and shares["unpriced"] == ["La"]
    path.write_text(json.dumps({"prices": [{"element": "Nd", "oxide_usd_per_kg": 100, "date": "2026-11"}]}))
    with pytest.raises(ValidationError, match="every price names its date and source"):
        PriceTable.load(path)


def test_technology_by_value_and_stages_one_element_skipped() -> None:
    table = PriceTable.load()
    # Nd separated in Malaysia with Australian technology; Dy mined and separated in China, then
    # beneficiated nowhere: its missing beneficiation is "none", not unknown.
    nd = performed(
        performed(extracted(["Nd"], "AU", "AU"), "beneficiation", "AU", "AU"), "separation", "MY", "AU"
    )
    dy = performed(extracted(["Dy"], "CN", "CN"), "separation", "CN", "CN")
    origin = {**nd, **dy}
    shares = value_shares(origin, {"Nd": 29.0, "Dy": 1.0}, table)
    nd_value = 29.0 * table.prices["Nd"].usd_per_kg_element
    dy_value = 1.0 * table.prices["Dy"].usd_per_kg_element
    dy_share = dy_value / (nd_value + dy_value)
    assert math.isclose(shares["technology"]["separation"]["CN"], dy_share)
    assert math.isclose(shares["technology"]["separation"]["AU"], 1 - dy_share)
    assert math.isclose(shares["location"]["beneficiation"]["none"], dy_share)
    for aspect in ("location", "technology"):
        for by_country in shares[aspect].values():
            assert math.isclose(sum(by_country.values()), 1.0)
