"""Origin vectors: shares sum to one, mixing is mass-weighted, a stage done overrides history."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raretrace.provenance import (
    NOT_PERFORMED,
    UNKNOWN,
    Contribution,
    extracted,
    performed,
    pooled,
    untraced,
    with_marginals,
)

COUNTRIES = ["AU", "CN", "MY", "US", "JP"]


def test_japanese_magnet_from_chinese_separated_oxide() -> None:
    ore = extracted(["Nd", "Pr"], "CN", "CN")
    oxide = performed(ore, "separation", "CN", "CN")
    metal = performed(oxide, "metallization", "CN", "CN")
    magnet = with_marginals(
        performed(pooled([Contribution(metal, {"Nd": 22.0, "Pr": 8.0})]), "magnet", "JP", "JP")
    )
    assert magnet["Nd"]["location"] == {
        "mining": {"CN": 1.0},
        "separation": {"CN": 1.0},
        "metallization": {"CN": 1.0},
        "magnet": {"JP": 1.0},
    }


def test_us_magnet_from_australian_ore_separated_in_malaysia_with_some_untraced_feed() -> None:
    ore = extracted(["Nd"], "AU", "AU")
    oxide = performed(ore, "separation", "MY", "AU")
    mixed = pooled([Contribution(oxide, {"Nd": 75.0})], untraced_kg={"Nd": 25.0})
    magnet = with_marginals(performed(mixed, "magnet", "US", "JP"))
    assert magnet["Nd"]["location"]["mining"] == {"AU": 0.75, UNKNOWN: 0.25}
    assert magnet["Nd"]["location"]["separation"] == {"MY": 0.75, UNKNOWN: 0.25}
    assert magnet["Nd"]["technology"]["separation"] == {"AU": 0.75, UNKNOWN: 0.25}
    assert magnet["Nd"]["location"]["magnet"] == {"US": 1.0}
    assert magnet["Nd"]["technology"]["magnet"] == {"JP": 1.0}


def test_recycled_feed_keeps_traced_origin_else_unknown() -> None:
    scrap = performed(extracted(["Dy"], "CN", "CN"), "magnet", "CN", "CN")
    feed = pooled([Contribution(scrap, {"Dy": 1.0})], untraced_kg={"Dy": 3.0})
    out = with_marginals(performed(feed, "recycling", "US", "US"))
    assert out["Dy"]["location"]["mining"] == {"CN": 0.25, UNKNOWN: 0.75}
    assert with_marginals(untraced(["Nd"]))["Nd"]["location"] == {}


lots = st.lists(
    st.tuples(st.sampled_from(COUNTRIES), st.sampled_from(COUNTRIES), st.floats(0.001, 1e6)),
    min_size=1,
    max_size=6,
)


@given(lots)
def test_shares_sum_to_one_and_mixing_is_mass_weighted(parts: list[tuple[str, str, float]]) -> None:
    inputs = [
        Contribution(performed(extracted(["Nd"], mine, mine), "separation", sep, sep), {"Nd": kg})
        for mine, sep, kg in parts
    ]
    mixed = with_marginals(pooled(inputs))["Nd"]
    total = sum(kg for _, _, kg in parts)
    for stage in ("mining", "separation"):
        assert math.isclose(sum(mixed["location"][stage].values()), 1.0, rel_tol=1e-9)
    for country in COUNTRIES:
        expected = sum(kg for mine, _, kg in parts if mine == country) / total
        assert math.isclose(
            mixed["location"]["mining"].get(country, 0.0), expected, rel_tol=1e-9, abs_tol=1e-12
        )


def test_a_skipped_stage_is_none_and_untraced_history_unknown() -> None:
    beneficiated = performed(extracted(["Nd"], "AU", "AU"), "beneficiation", "AU", "AU")
    direct = extracted(["Nd"], "US", "US")  # separated straight from ore: no beneficiation
    mixed = pooled(
        [Contribution(beneficiated, {"Nd": 3.0}), Contribution(direct, {"Nd": 1.0})], untraced_kg={"Nd": 1.0}
    )
    location = with_marginals(mixed)["Nd"]["location"]
    assert location["beneficiation"] == pytest.approx({"AU": 0.6, NOT_PERFORMED: 0.2, UNKNOWN: 0.2})
    assert location["mining"] == pytest.approx({"AU": 0.6, "US": 0.2, UNKNOWN: 0.2})
