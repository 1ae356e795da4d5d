"""Scenario demand taken from the world demand table (``{"from": "world", ...}``); numbers worked by hand.

The shipped rows used (src/raretrace/data/world/demand.json):
- ACREI 2024, China's high-performance NdFeB: NEVs 43,018 t, wind 4,848 t, inverter air conditioners
  30,154 t; industry only a bound (at most 46,670 t).
- World high-performance NdFeB 2018 (unattributed secondary page): total 60,000-70,000 t; industry
  6,540-13,510 t (10.9% x 60,000 = 6,540; 19.3% x 70,000 = 13,510).
"""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from raretrace.errors import ValidationError
from raretrace.world.data import FILES, WorldData
from raretrace.world.scenario import Scenario, run

ACREI = {"from": "world", "commodity": "NdFeB", "region": "CN", "year": 2024}
WORLD_2018 = {
    "from": "world",
    "commodity": "NdFeB",
    "region": "world",
    "year": 2018,
    "country": "US",
    "segments": ["industry"],
    "rest": "other",
}


def _scenario(*demand: dict[str, Any]) -> dict[str, Any]:
    """China bans NdFeB exports to the US for three months (approval 0) in a six-month horizon; China makes
    5,000 t/month, the US 545 t/month; industry is served first."""
    return {
        "name": "world-demand",
        "exporter": "CN",
        "stages": ["magnet"],
        "destinations": ["US"],
        "start": "2026-01",
        "end": "2026-03",
        "horizon": {"start": "2026-01", "end": "2026-06"},
        "approval_rate": 0.0,
        "priority": {"mode": "lexicographic", "order": ["industry"]},
        "supply": [
            {"country": "CN", "stage": "magnet", "element": "NdFeB", "t_per_month": 5000},
            {"country": "US", "stage": "magnet", "element": "NdFeB", "t_per_month": 545},
        ],
        "demand": list(demand),
    }


def _lines(scenario: Scenario) -> dict[tuple[str, str], float]:
    return {(d.segment, d.country): d.t_per_month * 12 for d in scenario.demand}


def test_the_shipped_rows_the_tests_rely_on_and_their_arithmetic() -> None:
    rows = WorldData.load().demand

    def one(**kw: object) -> tuple[float, float]:
        found = [d for d in rows if all(getattr(d, k) == v for k, v in kw.items())]
        assert len(found) == 1, kw
        return found[0].low, found[0].high

    key = {"commodity": "NdFeB", "region": "world", "year": 2018}
    assert one(segment="all", unit="t/yr", **key) == (60_000, 70_000)
    assert one(segment="industry", unit="share", **key) == pytest.approx((0.109, 0.109 + 0.084))
    assert one(segment="industry", unit="t/yr", **key) == pytest.approx((0.109 * 60_000, 0.193 * 70_000))


def test_a_world_entry_becomes_one_line_per_published_segment() -> None:
    scenario = Scenario.from_dict(_scenario(ACREI))
    assert _lines(scenario) == {
        ("ev", "CN"): pytest.approx(43_018),
        ("wind", "CN"): pytest.approx(4_848),
        ("appliances", "CN"): pytest.approx(30_154),
    }
    assert {d.element for d in scenario.demand} == {"NdFeB"}
    for line in scenario.demand:  # every line names the key, the end of the range and the row's source
        assert line.source is not None and "demand.json: NdFeB CN 2024" in line.source
        assert "(low)" in line.source and "ACREI" in line.source


@pytest.mark.parametrize(
    ("pick", "industry", "other"),
    [("low", 6_540, 60_000 - 6_540), ("high", 13_510, 70_000 - 13_510)],
)
def test_segments_and_the_rest_add_up_to_the_published_total(
    pick: str, industry: float, other: float
) -> None:
    scenario = Scenario.from_dict(_scenario({**WORLD_2018, "pick": pick}))
    assert _lines(scenario) == {
        ("industry", "US"): pytest.approx(industry),
        ("other", "US"): pytest.approx(other),
    }
    rest = next(d for d in scenario.demand if d.segment == "other")
    assert rest.source is not None and "total (" + pick + ") less industry" in rest.source


def test_world_demand_runs_through_the_allocation_with_a_hand_checked_shortfall() -> None:
    """Low end: industry 6,540 / 12 = 545 t/month, other (60,000 - 6,540) / 12 = 4,455 t/month, 5,000 in all.
    In the three ban months only the US plant's 545 t/month reach the US and go to industry first, so other
    is short 4,455 t a month: 3 x 4,455 = 13,365 t. After the ban 5,545 t/month cover the 5,000."""
    result = run(Scenario.from_dict(_scenario(WORLD_2018)))
    assert result.unmet(segment="industry") == pytest.approx(0, abs=1e-6)
    assert result.unmet(segment="other") == pytest.approx(13_365)
    assert result.unmet(segment="other", month="2026-02") == pytest.approx(4_455)
    assert result.unmet(month="2026-04") == pytest.approx(0, abs=1e-6)


def test_world_and_hand_written_lines_mix_and_round_trip() -> None:
    hand = {
        "segment": "defense",
        "country": "US",
        "element": "NdFeB",
        "t_per_month": 27.8,
        "source": "a note",
    }
    scenario = Scenario.from_dict(_scenario(hand, WORLD_2018))
    assert [d.segment for d in scenario.demand] == ["defense", "industry", "other"]
    assert scenario.demand[0].source == "a note"
    doc = scenario.to_dict()
    assert all("from" not in d and d["source"] for d in doc["demand"])  # resolved lines, sources kept
    assert Scenario.from_dict(doc) == scenario


def test_shipped_scenarios_still_load_with_their_own_lines() -> None:
    folder = resources.files("raretrace").joinpath("data/scenarios")
    for f in folder.iterdir():
        if not f.name.endswith(".json"):
            continue
        raw = json.loads(f.read_text(encoding="utf-8"))
        scenario = Scenario.from_dict(raw)
        assert [d.t_per_month for d in scenario.demand] == [d["t_per_month"] for d in raw["demand"]]
    japan = Scenario.from_dict(
        json.loads(folder.joinpath("japan-2010-replay.json").read_text(encoding="utf-8"))
    )
    assert run(japan).unmet() == pytest.approx(30)  # the figure docs/analytics.md gives


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"from": "usgs"}, "from", 'must be "world"'),
        ({"commodity": "Ho"}, "commodity", r"no tonnage of 'Ho' \(commodities with tonnages: .*NdFeB"),
        ({"commodity": "magnet REE"}, "commodity", "'magnet REE' is not an element"),
        ({"region": "JP"}, "region", r"no tonnage of NdFeB for region 'JP' \(regions: CN, world\)"),
        ({"year": 2031}, "year", r"no tonnage of NdFeB CN in 2031 \(years: 2023, 2024\)"),
        ({"year": "2024"}, "year", "must be a whole number"),
        ({"scenario": "APS"}, "scenario", r"under scenario 'APS' \(published: none"),
        ({"segments": ["ev", "industry"]}, "segments[1]", r"only a bound \(at most 46,670 t\)"),
        ({"segments": ["defense"]}, "segments[0]", r"no published tonnage \(segments with a tonnage: "),
        ({"segments": ["ev", "ev"]}, "segments[1]", "listed twice"),
        ({"rest": "ev"}, "rest", "already a segment taken"),
        ({"pick": "mid"}, "pick", "must be one of low, high"),
        (
            {"source_contains": "USGS"},
            "source_contains",
            "no tonnage of NdFeB CN 2024 with a source containing",
        ),
        ({"t_per_month": 10}, "t_per_month", "is not used with from: world"),
        ({"region": "world", "year": 2018}, "country", 'is required when region is "world"'),
    ],
)
def test_a_request_the_data_cannot_meet_names_the_field(
    change: dict[str, Any], field: str, message: str
) -> None:
    hand = {"segment": "defense", "country": "US", "element": "NdFeB", "t_per_month": 1}
    with pytest.raises(ValidationError, match=message) as caught:
        Scenario.from_dict(_scenario(hand, {**ACREI, **change}))
    assert caught.value.field == f"scenario.demand[1].{field}"


def test_rest_needs_a_published_total() -> None:
    entry = {
        "from": "world",
        "commodity": "Dy",
        "region": "world",
        "year": 2024,
        "country": "US",
        "rest": "other",
    }
    with pytest.raises(ValidationError, match="no published total") as caught:
        Scenario.from_dict(_scenario(entry))
    assert caught.value.field == "scenario.demand[0].rest"


def test_two_publishers_for_one_segment_must_be_told_apart_with_the_given_world_data() -> None:
    """The caller's own world data is used (not the shipped files): a second source for CN's 2024 NEV
    magnets makes the entry ambiguous until source_contains picks one."""
    folder = resources.files("raretrace").joinpath("data/world")
    docs = {name: json.loads(folder.joinpath(name).read_text(encoding="utf-8")) for name in FILES}
    rows = docs["demand.json"]["demand"]
    ev = next(
        r for r in rows if (r["segment"], r["region"], r["year"], r["unit"]) == ("ev", "CN", 2024, "t/yr")
    )
    rows.append({**copy.deepcopy(ev), "value_low": 40_000, "value_high": 40_000, "source": "Other Analyst"})
    world = WorldData.from_dicts(docs)
    with pytest.raises(ValidationError, match="segment 'ev' has two tonnages") as caught:
        Scenario.from_dict(_scenario(ACREI), world=world)
    assert caught.value.field == "scenario.demand[0].source_contains"
    other = Scenario.from_dict(_scenario({**ACREI, "source_contains": "Other Analyst"}), world=world)
    assert _lines(other) == {("ev", "CN"): pytest.approx(40_000)}  # that publisher gives EVs only
    acrei = Scenario.from_dict(_scenario({**ACREI, "source_contains": "ACREI"}), world=world)
    assert _lines(acrei)[("ev", "CN")] == pytest.approx(43_018)


def test_the_documented_entry_and_errors_are_what_the_code_does() -> None:
    """docs/analytics.md shows a world entry, the lines it gives and two error messages: all as written."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "analytics.md").read_text(encoding="utf-8")
    section = text.split("### Demand from the world data", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, re.S)
    entry = json.loads(next(body for lang, body in blocks if lang == "json"))
    assert _lines(Scenario.from_dict(_scenario(entry))) == {
        ("industry", "US"): pytest.approx(6_540),
        ("other", "US"): pytest.approx(53_460),
    }
    shown = next(body for lang, body in blocks if lang == "").strip().splitlines()
    hand = {"segment": "defense", "country": "US", "element": "NdFeB", "t_per_month": 1}
    changes: tuple[dict[str, Any], ...] = ({"year": 2031}, {"segments": ["ev", "industry"]})
    for line, change in zip(shown, changes, strict=True):
        with pytest.raises(ValidationError) as caught:
            Scenario.from_dict(_scenario(hand, {**ACREI, **change}))
        assert str(caught.value) == line
