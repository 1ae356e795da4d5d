"""Demand by segment (issue #6): the IEA dataset rows, the ACREI breakdown, the segment tables."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from raretrace.errors import ValidationError
from raretrace.world.data import FILES, Demand, WorldData
from raretrace.world.demand import segment_table
from raretrace.world.scenario import Scenario, run

IEA = "Critical Minerals Dataset"
KEYS = [(2024, None), (2030, "STEPS"), (2030, "APS")]


def _docs() -> dict[str, object]:
    folder = resources.files("raretrace").joinpath("data/world")
    return {name: json.loads(folder.joinpath(name).read_text(encoding="utf-8")) for name in FILES}


def _one(rows: list[Demand], **kw: object) -> Demand:
    found = [d for d in rows if all(getattr(d, k) == v for k, v in kw.items())]
    assert len(found) == 1, (kw, found)
    return found[0]


def test_iea_rows_load_with_their_sheet_and_scenario() -> None:
    data = WorldData.load()
    raw = {json.dumps(r, sort_keys=True) for r in _docs()["demand.json"]["demand"]}  # type: ignore[index]
    iea = [d for d in data.demand if IEA in d.source]
    # 34 rows read from the JSON conversion, 18 added from the second copy (2035/2040 STEPS, 'Other uses')
    assert len(iea) == 34 + 18
    assert {d.commodity for d in iea} == {"magnet REE", "Nd+Pr", "Dy", "Tb"}
    assert {d.segment for d in iea} == {"all", "ev", "wind", "industry"}
    for d in iea:
        assert d.date == "2025-05-21" and d.region == "world" and d.unit == "t/yr"
        # observed rows are the 2024 base year; every later row (projection, or a bound on one) names its
        # IEA scenario
        assert (d.scenario is None) == (d.year == 2024)
        assert d.kind != "observed" or d.year == 2024
        assert d.scenario in (None, "STEPS", "APS")
    assert any("sheet '1 Total demand for key minerals'" in r for r in raw)


@pytest.mark.parametrize(
    ("segment", "year", "scenario"), [(s, y, c) for s in ("ev", "wind") for y, c in KEYS]
)
def test_iea_elements_add_up_to_the_magnet_rows(segment: str, year: int, scenario: str | None) -> None:
    """Nd+Pr, Dy and Tb of a segment add up to its magnet rare-earth row (sheet 1), wind included: the
    earlier wind 'low ends' were a later case block of sheet 4.2 misread as the base case (the first block
    equals the summary sheets), so every element is now one figure."""
    iea = [d for d in WorldData.load().demand if IEA in d.source]
    key = {"segment": segment, "year": year, "scenario": scenario, "region": "world"}
    magnet = _one(iea, commodity="magnet REE", **key)
    parts = [_one(iea, commodity=c, **key) for c in ("Nd+Pr", "Dy", "Tb")]
    assert sum(p.high for p in parts) == pytest.approx(magnet.low, abs=2)
    assert all(p.low == p.high for p in parts)


@pytest.mark.parametrize(("segment", "year"), [(s, y) for s in ("ev", "wind") for y in (2035, 2040)])
def test_later_iea_years_add_up_within_their_rounding(segment: str, year: int) -> None:
    """The 2035/2040 element rows were read to two decimals of a kt (at most 5 t off each, 4 elements)."""
    iea = [d for d in WorldData.load().demand if IEA in d.source]
    key = {"segment": segment, "year": year, "scenario": "STEPS", "region": "world"}
    magnet = _one(iea, commodity="magnet REE", **key)
    parts = [_one(iea, commodity=c, **key) for c in ("Nd+Pr", "Dy", "Tb")]
    assert sum(p.low for p in parts) == pytest.approx(magnet.low, abs=4 * 5 + 1)


def test_wind_2024_by_element_is_the_first_case_block() -> None:
    """Sheet 4.2's first block, equal to sheets 3.1/3.2 (Nd 8.00, Pr 1.34, Dy 0.86, Tb 0.30 kt in 2024)."""
    iea = [d for d in WorldData.load().demand if IEA in d.source]
    key = {"segment": "wind", "year": 2024, "scenario": None, "region": "world"}
    assert _one(iea, commodity="Nd+Pr", **key).low == pytest.approx((8.00 + 1.34) * 1000, abs=5)
    assert _one(iea, commodity="Dy", **key).low == pytest.approx(860, abs=5)
    assert _one(iea, commodity="Tb", **key).low == pytest.approx(300, abs=5)


def test_industry_bound_is_what_wind_and_evs_leave() -> None:
    """IEA splits magnet rare earths into wind, EVs and 'Other uses'; industry is bounded by the last."""
    data = WorldData.load()
    table = segment_table(data, "magnet REE", "world", 2024, source=IEA)
    assert table.total is not None and table.total.low == 90_922
    assert {d.segment: d.low for d in table.tonnages} == {"ev": 8_359, "wind": 10_496}
    assert [(b.segment, b.low) for b in table.bounds] == [("industry", 0)]
    rest = table.unattributed()
    assert rest is not None
    assert rest[0] == rest[1] == pytest.approx(table.bounds[0].high, abs=1)  # 'Other uses' 72.067 kt


@pytest.mark.parametrize("scenario", ["STEPS", "APS"])
def test_projections_fit_their_scenario_total_and_evs_grow(scenario: str) -> None:
    data = WorldData.load()
    ev = []
    for year, name in ((2024, None), (2030, scenario), (2040, scenario)):
        table = segment_table(data, "magnet REE", "world", year, scenario=name, source=IEA)
        rest = table.unattributed()
        assert rest is not None and rest[0] > 0
        row = table.segment("ev")
        assert row is not None
        ev.append(row.low)
    assert ev == sorted(ev) and ev[0] < ev[-1]


def test_segment_table_refuses_what_the_data_cannot_say() -> None:
    data = WorldData.load()
    with pytest.raises(ValidationError, match="segment 'ev' has two tonnages"):
        segment_table(data, "magnet REE", "world", 2024)  # coinmela and the IEA disagree by 4.4x
    with pytest.raises(ValidationError, match="no published tonnage"):
        segment_table(data, "Tb", "US", 2024)
    iea = segment_table(data, "magnet REE", "world", 2024, source=IEA)
    with pytest.raises(ValidationError, match="'magnet REE' is not an element"):
        iea.lines("US")
    dy = segment_table(data, "Dy", "world", 2024)
    assert [(line.segment, line.t_per_month * 12) for line in dy.lines("US", pick="high")] == [
        ("ev", 674),
        ("wind", 857),
    ]
    with pytest.raises(ValidationError, match="no total is published"):
        dy.lines("US", rest="other")
    with pytest.raises(ValidationError, match="must be one of low, high"):
        dy.lines("US", pick="mid")


def test_acrei_breakdown_holds_industry_only_inside_its_remainder() -> None:
    """China's 2024 high-performance NdFeB: NEVs, wind and air conditioners have tonnages; industry only
    the bound that the derived total leaves."""
    data = WorldData.load()
    table = segment_table(data, "NdFeB", "CN", 2024)
    assert table.total is not None
    assert (table.total.low, table.total.high) == (
        pytest.approx(43_018 / 0.355, abs=1),
        pytest.approx(43_018 / 0.345, abs=1),
    )
    assert {d.segment for d in table.tonnages} == {"ev", "wind", "appliances"}
    industry = next(b for b in table.bounds if b.segment == "industry")
    rest = table.unattributed()
    assert rest is not None and industry.high == pytest.approx(rest[1], abs=1)


@pytest.mark.parametrize("pick", ["low", "high"])
def test_segment_lines_run_in_a_scenario_allocation(pick: str) -> None:
    """The ACREI lines, with the remainder that holds industry, feed the LP: Chinese magnet output 10% short
    of the total, priority to NEVs, wind and air conditioners, leaves the whole shortfall on the remainder."""
    data = WorldData.load()
    table = segment_table(data, "NdFeB", "CN", 2024)
    rest = "other (industry inside)"
    lines = table.lines("CN", pick=pick, rest=rest)
    total = table.total.low if pick == "low" else table.total.high  # type: ignore[union-attr]
    assert sum(line.t_per_month for line in lines) * 12 == pytest.approx(total)
    scenario = Scenario.from_dict(
        {
            "name": "cn-magnets-short",
            "exporter": "CN",
            "stages": ["magnet"],
            "destinations": ["US"],
            "start": "2026-01",
            "end": "2026-12",
            "approval_rate": 1.0,
            "priority": {"mode": "lexicographic", "order": ["ev", "wind", "appliances"]},
            "supply": [
                {"country": "CN", "stage": "magnet", "element": "NdFeB", "t_per_month": 0.9 * total / 12}
            ],
            "demand": [
                {
                    "segment": line.segment,
                    "country": line.country,
                    "element": line.element,
                    "t_per_month": line.t_per_month,
                }
                for line in lines
            ],
        }
    )
    result = run(scenario)
    assert {a.segment for a in result.rows} == {"ev", "wind", "appliances", rest}
    assert result.unmet(segment=rest) == pytest.approx(0.1 * total, rel=1e-6)
    assert result.unmet() == pytest.approx(0.1 * total, rel=1e-6)


def test_scenario_field_and_segments_are_validated() -> None:
    docs = _docs()
    rows = docs["demand.json"]["demand"]  # type: ignore[index]
    i = next(i for i, r in enumerate(rows) if r.get("scenario") == "STEPS")
    bad = copy.deepcopy(docs)
    bad["demand.json"]["demand"][i]["scenario"] = " "  # type: ignore[index]
    with pytest.raises(ValidationError, match=rf"demand\.json: demand\[{i}\]\.scenario: must be a non-empty"):
        WorldData.from_dicts(bad)
    bad = copy.deepcopy(docs)
    bad["demand.json"]["demand"][i]["segment"] = "industrial"  # type: ignore[index]
    with pytest.raises(ValidationError, match=rf"demand\[{i}\]\.segment: must be one of .*appliances"):
        WorldData.from_dicts(bad)
