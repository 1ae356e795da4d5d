"""Export-ban scenarios solved as linear programs; every expected number is worked out by hand."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from raretrace.errors import ValidationError
from raretrace.world.lines import month_index, month_text
from raretrace.world.scenario import Scenario, run


def _base() -> dict[str, Any]:
    """CN separates 10 t/month Nd, AU 4 t/month; US wants 12 t/month, JP 2 t/month.
    Ban on CN separation to the US, 2026-02..2026-04, within a horizon 2026-01..2026-05."""
    return {
        "name": "cn-separation-ban",
        "exporter": "CN",
        "stages": ["separation"],
        "destinations": ["US"],
        "start": "2026-02",
        "end": "2026-04",
        "horizon": {"start": "2026-01", "end": "2026-05"},
        "approval_rate": 0.0,
        "supply": [
            {"country": "CN", "stage": "separation", "element": "Nd", "t_per_month": 10},
            {"country": "AU", "stage": "separation", "element": "Nd", "t_per_month": 4},
        ],
        "demand": [
            {"segment": "civil", "country": "US", "element": "Nd", "t_per_month": 12},
            {"segment": "civil", "country": "JP", "element": "Nd", "t_per_month": 2},
        ],
    }


def test_month_arithmetic() -> None:
    assert month_text(month_index("2026-12") + 1) == "2027-01"
    with pytest.raises(ValidationError, match="YYYY-MM"):
        month_index("2026-13")


def test_ban_on_one_stage_gives_the_known_shortfall() -> None:
    result = run(Scenario.from_dict(_base()))
    # In the ban US gets only AU's 4 t (JP takes 2 of CN's 10): 8 t/month short for 3 months.
    assert result.unmet() == pytest.approx(24)
    assert result.unmet(month="2026-01") == pytest.approx(0)
    assert result.unmet(month="2026-03") == pytest.approx(8)
    assert result.unmet(month="2026-05") == pytest.approx(0)
    row = next(a for a in result.rows if a.month == "2026-02")
    assert (row.segment, row.element, row.demand_t) == ("civil", "Nd", 14)
    assert row.met_t == pytest.approx(6)


def test_ban_on_another_stage_changes_nothing() -> None:
    doc = _base()
    doc["stages"] = ["magnet"]
    assert run(Scenario.from_dict(doc)).unmet() == pytest.approx(0)


def test_licence_approval_rate_lets_part_through() -> None:
    doc = _base()
    doc["approval_rate"] = 0.5  # CN may ship 5 t/month to the US: 12 - 4 - 5 = 3 short
    assert run(Scenario.from_dict(doc)).unmet() == pytest.approx(9)


def test_stockpile_exactly_covers_the_gap() -> None:
    doc = _base()
    doc["stockpiles"] = {"Nd": 24}
    result = run(Scenario.from_dict(doc))
    assert result.unmet() == pytest.approx(0, abs=1e-6)
    assert result.stock_used["Nd"] == pytest.approx(24)


def test_stockpile_a_little_short_and_not_wasted() -> None:
    doc = _base()
    doc["stockpiles"] = {"neodymium": 20}
    assert run(Scenario.from_dict(doc)).unmet() == pytest.approx(4)
    doc["stockpiles"] = {"Nd": 100}
    result = run(Scenario.from_dict(doc))
    assert result.unmet() == pytest.approx(0, abs=1e-6)
    assert result.stock_used["Nd"] == pytest.approx(24)  # no draw beyond the gap


def _defense_case(priority: dict[str, Any] | None) -> dict[str, Any]:
    """Dy: only AU's 5 t/month reaches the US under a total CN ban; defense wants 3, civil 4."""
    doc = _base()
    doc["supply"] = [
        {"country": "CN", "stage": "separation", "element": "Dy", "t_per_month": 50},
        {"country": "AU", "stage": "separation", "element": "Dy", "t_per_month": 5},
    ]
    doc["demand"] = [
        {"segment": "civil", "country": "US", "element": "Dy", "t_per_month": 4},
        {"segment": "defense", "country": "US", "element": "Dy", "t_per_month": 3},
    ]
    doc["start"], doc["end"] = "2026-01", "2026-05"
    if priority is not None:
        doc["priority"] = priority
    return doc


def test_defense_first_lexicographic() -> None:
    result = run(Scenario.from_dict(_defense_case({"mode": "lexicographic", "order": ["defense"]})))
    assert result.unmet("defense") == pytest.approx(0, abs=1e-6)
    assert result.unmet("civil", "Dy", "2026-03") == pytest.approx(2)
    assert result.unmet() == pytest.approx(10)


def test_priority_order_is_what_decides() -> None:
    result = run(Scenario.from_dict(_defense_case({"mode": "lexicographic", "order": ["civil"]})))
    assert result.unmet("civil") == pytest.approx(0, abs=1e-6)
    assert result.unmet("defense") == pytest.approx(10)  # civil takes 4 of 5: 2 t/month short


def test_defense_first_weighted() -> None:
    result = run(Scenario.from_dict(_defense_case({"mode": "weighted", "weights": {"defense": 10}})))
    assert result.unmet("defense") == pytest.approx(0, abs=1e-6)
    assert result.unmet("civil") == pytest.approx(10)


def test_end_use_scoped_ban_denies_only_defense() -> None:
    doc = _defense_case({"mode": "none"})
    doc["end_uses"] = ["defense"]  # like No. 61's denial of overseas military users
    doc["supply"][1]["t_per_month"] = 0
    result = run(Scenario.from_dict(doc))
    assert result.unmet("civil") == pytest.approx(0, abs=1e-6)
    assert result.unmet("defense") == pytest.approx(15)


def test_supply_line_that_starts_later() -> None:
    doc = _base()
    doc["supply"].append(
        {"country": "US", "stage": "separation", "element": "Nd", "t_per_month": 8, "from": "2026-04"}
    )
    result = run(Scenario.from_dict(doc))
    assert result.unmet() == pytest.approx(16)  # the new plant closes the gap from April


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("approval_rate",), 1.5, "approval_rate"),
        (("start",), "2026-2", r"scenario\.start"),
        (("end",), "2026-01", "ends before it starts"),
        (("supply", 1, "element"), "Xx", r"scenario\.supply\[1\]\.element"),
        (("supply", 0, "stage"), "smelting", r"scenario\.supply\[0\]\.stage"),
        (("demand", 0, "t_per_month"), -1, r"scenario\.demand\[0\]\.t_per_month"),
        (("destinations",), [], r"scenario\.destinations"),
        (("exporter",), "China", r"scenario\.exporter"),
        (("priority",), {"mode": "random"}, r"scenario\.priority\.mode"),
    ],
)
def test_bad_scenario_names_the_field(path: tuple[Any, ...], value: object, message: str) -> None:
    doc = copy.deepcopy(_base())
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ValidationError, match=message):
        Scenario.from_dict(doc)


def test_scenario_round_trips_through_its_dict() -> None:
    doc = _defense_case({"mode": "weighted", "weights": {"defense": 10}})
    doc["stockpiles"] = {"dysprosium": 3}
    doc["supply"][1]["from"] = "2026-03"
    scenario = Scenario.from_dict(doc)
    again = Scenario.from_dict(scenario.to_dict())
    assert again == scenario
    assert again.stockpiles == {"Dy": 3.0}


def test_flows_route_the_known_shortfall_and_stockpile() -> None:
    doc = _base()
    doc["stockpiles"] = {"Nd": 10}
    doc["horizon"] = {"start": "2026-02", "end": "2026-04"}  # the ban only: the routing is unique
    calls: list[tuple[str, int, int]] = []
    result = run(Scenario.from_dict(doc), progress=lambda e, done, total: calls.append((e, done, total)))
    flows = {(f.source_country, f.source_stage, f.country): f.tonnes for f in result.flows}
    # 3 months: AU's 4 t/month all go to the US (12 t), CN's may go only to JP (2 t/month = 6 t);
    # the US is 8 t/month short = 24 t, 10 of them from the stockpile, 14 unmet.
    assert flows[("AU", "separation", "US")] == pytest.approx(12)
    assert ("CN", "separation", "US") not in flows
    assert flows[("CN", "separation", "JP")] == pytest.approx(6)
    assert flows[("US", "stockpile", "US")] == pytest.approx(10)
    assert flows[("", "unmet", "US")] == pytest.approx(14)
    assert sum(f.tonnes for f in result.flows) == pytest.approx(3 * 14)  # every demanded tonne accounted for
    assert calls == [("Nd", 3, 3)]


def test_commodities_ndpr_and_ndfeb_are_accepted() -> None:
    doc = _base()
    for line in (*doc["supply"], *doc["demand"]):
        line["element"] = "ndfeb"
    scenario = Scenario.from_dict(doc)
    assert {s.element for s in scenario.supply} == {"NdFeB"}
    assert run(scenario).unmet(element="NdFeB") == pytest.approx(24)
    doc["supply"][0]["element"] = "NdPr"
    assert Scenario.from_dict(doc).supply[0].element == "NdPr"


def test_shipped_scenarios_load_and_name_their_sources() -> None:
    import json
    from importlib import resources

    folder = resources.files("raretrace").joinpath("data/scenarios")
    files = [f for f in folder.iterdir() if f.name.endswith(".json")]
    assert len(files) >= 3
    for f in files:
        raw = json.loads(f.read_text(encoding="utf-8"))
        assert raw["description"] and raw["sources"], f.name
        assert all(line.get("source") for line in (*raw["supply"], *raw["demand"])), f.name
        assert Scenario.from_dict(raw).name == f.name[: -len(".json")]
