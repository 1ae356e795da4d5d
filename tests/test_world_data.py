"""World datasets and concentration metrics (issue #6)."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from raretrace.errors import ValidationError
from raretrace.world.data import FILES, Demand, WorldData
from raretrace.world.metrics import (
    hhi,
    hhi_bounds,
    import_reliance,
    mining_shares,
    published_shares,
    seed_check,
    stage_shares,
)


def _docs() -> dict[str, object]:
    folder = resources.files("raretrace").joinpath("data/world")
    return {name: json.loads(folder.joinpath(name).read_text(encoding="utf-8")) for name in FILES}


def test_shipped_data_loads_and_every_row_is_sourced() -> None:
    data = WorldData.load()
    assert len(data.production) == 26
    rows = [
        *data.production,
        *data.reserves,
        *data.world,
        *data.shares,
        *data.platforms,
        *data.projects,
        *data.prices,
        *data.reliance,
        *data.import_sources,
    ]
    assert all(r.source.strip() and r.date.strip() for r in rows)
    # spot-check figures against docs/reference/world.md
    cn = {p.year: p.t_reo for p in data.production if p.country == "CN"}
    assert sum(p.t_reo for p in data.production if p.year == 2024) == 393_950  # world total rounds to 390,000
    assert cn == {2023: 255_000, 2024: 270_000}
    assert data.world_total(2024).t_reo == 390_000
    f35 = next(p for p in data.platforms if p.platform.startswith("F-35"))
    assert f35.kg == pytest.approx(920 * 0.45359237, abs=0.1)


def test_raw_json_rows_all_carry_source_and_date() -> None:
    """Every object in every list carries source and date (seed figures inherit the seed's own)."""

    def walk(node: object, key: str) -> int:
        count = 0
        if isinstance(node, list):
            for item in node:
                if isinstance(item, dict) and key != "figures":
                    assert item.get("source") and item.get("date"), item
                    count += 1
                count += walk(item, key)
        elif isinstance(node, dict):
            count += sum(walk(value, k) for k, value in node.items())
        return count

    assert sum(walk(doc, "") for doc in _docs().values()) > 80


def test_bad_row_names_file_row_and_field() -> None:
    docs = _docs()
    bad = copy.deepcopy(docs)
    bad["mining.json"]["production"][3]["t_reo"] = -5  # type: ignore[index]
    with pytest.raises(ValidationError, match=r"mining\.json: production\[3\]\.t_reo"):
        WorldData.from_dicts(bad)
    bad = copy.deepcopy(docs)
    del bad["capacity.json"]["projects"][2]["source"]  # type: ignore[index]
    with pytest.raises(ValidationError, match=r"capacity\.json: projects\[2\]\.source.*source and date"):
        WorldData.from_dicts(bad)
    bad = copy.deepcopy(docs)
    bad["stage_shares.json"]["shares"][0]["share"] = 62  # type: ignore[index]
    with pytest.raises(ValidationError, match=r"shares\[0\]\.share: must be a fraction"):
        WorldData.from_dicts(bad)
    bad = copy.deepcopy(docs)
    bad["capacity.json"]["projects"][0]["start"] = "soon"  # type: ignore[index]
    with pytest.raises(ValidationError, match=r"projects\[0\]\.start"):
        WorldData.from_dicts(bad)
    bad = copy.deepcopy(docs)
    del bad["defense.json"]
    with pytest.raises(ValidationError, match=r"defense\.json"):
        WorldData.from_dicts(bad)


def test_project_start_month() -> None:
    data = WorldData.load()
    by_id = {p.id: p for p in data.projects}
    assert by_id["energy-fuels-white-mesa-2"].start_month() == "2029-01"
    assert by_id["iluka-eneabba"].start_month() == "2027-01"
    assert by_id["evac-sumter"].start_month() == "2025-12"
    assert by_id["lynas-malaysia"].start_month() is None


def test_hhi_known_values() -> None:
    assert hhi({"A": 1.0}) == pytest.approx(10_000)
    assert hhi({"A": 0.5, "B": 0.5}) == pytest.approx(5_000)
    assert hhi({"A": 0.6, "B": 0.3, "C": 0.1}) == pytest.approx(3_600 + 900 + 100)
    with pytest.raises(ValidationError, match="hhi_bounds"):
        hhi({"A": 0.5})
    with pytest.raises(ValidationError, match="more than 1"):
        hhi_bounds({"A": 0.7, "B": 0.7})
    low, high = hhi_bounds({"CN": 0.9})
    assert (low, high) == pytest.approx((8_100, 8_200))


def test_import_reliance_usgs_definition() -> None:
    # 20 produced, 100 imported, 20 exported -> consumption 100, reliance 80%
    assert import_reliance(20, 100, 20) == pytest.approx(0.80)
    assert import_reliance(100, 0, 50) == pytest.approx(-1.0)  # net exporter
    assert import_reliance(0, 10, 0, stock_change=10) == pytest.approx(1.0)
    with pytest.raises(ValidationError, match="undefined"):
        import_reliance(0, 5, 5)


def test_mining_shares_and_hhi() -> None:
    dist = mining_shares(WorldData.load(), 2024)
    assert dist.shares["CN"] == pytest.approx(270_000 / 393_950)
    assert "other" not in dist.shares
    assert dist.unallocated == pytest.approx(1_100 / 393_950)
    low, high = dist.hhi_bounds()
    assert high - low == pytest.approx(10_000 * (1_100 / 393_950) ** 2)
    assert 4_000 < low < 6_000  # China ≈69% alone gives ≈4,700
    d2023 = mining_shares(WorldData.load(), 2023)
    assert d2023.shares["CN"] == pytest.approx(255_000 / 376_090)


def test_published_shares_leave_the_rest_unallocated() -> None:
    data = WorldData.load()
    sep = published_shares(data, "separation", 2023)
    assert sep.shares == {"CN": 0.92, "MY": 0.05}
    assert sep.unallocated == pytest.approx(0.03)
    magnets_2010 = published_shares(data, "magnet", 2010)
    assert hhi(magnets_2010.shares) == pytest.approx(10_000 * (0.794**2 + 0.193**2 + 0.013**2))
    assert stage_shares(data, "separation").year == 2025
    with pytest.raises(ValidationError, match="no observed share of metallization"):
        published_shares(data, "metallization")


def test_seed_figures_reproduced_within_tolerance() -> None:
    checks = {c.stage: c for c in seed_check(WorldData.load())}
    assert set(checks) == {"mining", "separation", "magnet"}
    assert checks["mining"].seed == 0.70
    assert checks["mining"].computed == pytest.approx(270_000 / 393_950)
    assert checks["separation"].computed == 0.91
    assert checks["magnet"].computed == 0.94
    for check in checks.values():
        assert check.tolerance_pp == 3.0
        assert check.within_tolerance, check
        assert check.sources


def test_seed_check_can_fail() -> None:
    docs = _docs()
    docs["stage_shares.json"]["seed"]["figures"][0]["share"] = 0.80  # type: ignore[index]
    check = seed_check(WorldData.from_dicts(docs))[0]
    assert check.stage == "mining"
    assert check.difference_pp == pytest.approx(100 * (270_000 / 393_950 - 0.80))
    assert not check.within_tolerance


def test_import_sources_concentration() -> None:
    from raretrace.world.metrics import import_source_shares

    dist = import_source_shares(WorldData.load(), "US")
    assert dist.shares == {"CN": 0.70, "MY": 0.13, "JP": 0.06, "EE": 0.05}
    assert dist.unallocated == pytest.approx(0.06)
    low, high = dist.hhi_bounds()
    assert low == pytest.approx(10_000 * (0.49 + 0.0169 + 0.0036 + 0.0025))
    assert high == pytest.approx(low + 36)


def test_concentration_table_and_platforms() -> None:
    from raretrace.world.metrics import concentration_table, platform_content_t

    data = WorldData.load()
    rows = {r.stage: r for r in concentration_table(data)}
    assert rows["magnet"].china_share == 0.94
    assert rows["magnet"].hhi_low == pytest.approx(8_836)
    assert rows["separation"].sources
    assert platform_content_t(data, "F-35", 100) == pytest.approx(41.73)
    with pytest.raises(ValidationError, match="known: F-35"):
        platform_content_t(data, "B-21")


def test_demand_rows_by_segment_are_sourced() -> None:
    data = WorldData.load()
    segments = {d.segment for d in data.demand}
    assert {"all", "ev", "defense", "electronics"} <= segments
    iea = next(
        d for d in data.demand if d.commodity == "magnet REE" and d.year == 2023 and d.segment == "all"
    )
    assert (iea.low, iea.unit, iea.region) == (93_000, "t/yr", "world")
    defense = next(d for d in data.demand if d.segment == "defense" and d.unit == "t/yr")
    assert (defense.low, defense.high, defense.kind) == (10, 1000, "bound")
    assert all(d.of for d in data.demand if d.unit == "share")
    docs = _docs()
    docs["demand.json"]["demand"][2]["value_high"] = 7  # type: ignore[index]
    with pytest.raises(ValidationError, match=r"demand\.json: demand\[2\]\.value_high"):
        WorldData.from_dicts(docs)


def _demand_rows() -> list[dict[str, object]]:
    rows = _docs()["demand.json"]["demand"]  # type: ignore[index]
    assert isinstance(rows, list)
    return rows


def test_segment_demand_rows_load_with_source_date_and_written_arithmetic() -> None:
    """Every demand row loads and names its source and date; a derived row shows its arithmetic."""
    data = WorldData.load()
    raw = _demand_rows()
    assert len(data.demand) == len(raw)
    for row, loaded in zip(raw, data.demand, strict=True):
        assert loaded.source.strip() and loaded.date.strip()
        note = str(row.get("note", ""))
        if note.startswith("derived"):
            assert "=" in note, row  # the arithmetic is written out, not just asserted
    assert sum(str(r.get("note", "")).startswith("derived") for r in raw) >= 3


def test_wind_has_magnet_and_heavy_figures_industry_only_bounds_and_a_listed_gap() -> None:
    data = WorldData.load()
    magnets = ("NdFeB", "NdPr", "Nd+Pr", "magnet REE")
    wind_magnet = [
        d for d in data.demand if d.segment == "wind" and d.commodity in magnets and d.unit == "t/yr"
    ]
    wind_heavy = [d for d in data.demand if d.segment == "wind" and d.commodity in ("Dy", "Tb")]
    assert wind_magnet and {d.commodity for d in wind_heavy} == {"Dy", "Tb"}
    # no named analyst gives an industrial-motor figure: industry rows are limits, except one unattributed
    # secondary breakdown (2018, world high-performance NdFeB), which says so in its source; the gap says so
    industry = [d for d in data.demand if d.segment == "industry"]
    figures = [d for d in industry if d.kind != "bound"]
    assert industry and all(d.low == 0 for d in industry if d.kind == "bound")
    assert figures and all("atechmagnet.cn" in d.source and "unattributed" in d.source for d in figures)
    assert {(d.region, d.year, d.commodity) for d in figures} == {("world", 2018, "NdFeB")}
    gaps = _docs()["demand.json"]["gaps"]  # type: ignore[index]
    assert any(
        g.startswith("industrial motors") and "no figure attributed to a named analyst" in g for g in gaps
    )
    assert any(g.startswith("Tb by segment") for g in gaps)
    assert {d.segment for d in data.demand if d.commodity == "Tb"} == {"ev", "wind"}


def test_derived_wind_figures_match_their_inputs() -> None:
    """The IEA-derived wind bound and the ACREI 2023 back-calculation agree with the rows they rest on."""
    data = WorldData.load()

    def one(**kw: object) -> Demand:
        found = [d for d in data.demand if all(getattr(d, k) == v for k, v in kw.items())]
        assert len(found) == 1, kw
        return found[0]

    ev_2023 = one(segment="ev", commodity="magnet REE", year=2023, unit="share")
    share = one(segment="wind", commodity="magnet REE", year=2023, unit="share")
    # IEA: clean-energy technologies 'nearly 18%', EVs 7% (rounded, so at least 6.5%)
    assert (share.low, share.kind) == (0, "bound")
    assert share.high == pytest.approx(0.18 - (ev_2023.low - 0.005))
    total = one(segment="all", commodity="magnet REE", year=2023, region="world")
    tonnes = one(segment="wind", commodity="magnet REE", year=2023, unit="t/yr")
    assert tonnes.high == pytest.approx(share.high * total.low, abs=1)
    wind_2024 = one(segment="wind", commodity="NdFeB", region="CN", year=2024)
    wind_2023 = one(segment="wind", commodity="NdFeB", region="CN", year=2023)
    # published as a 32% fall, i.e. 31.5-32.5% before rounding
    assert wind_2023.low == pytest.approx(wind_2024.low / (1 - 0.315), abs=1)
    assert wind_2023.high == pytest.approx(wind_2024.low / (1 - 0.325), abs=1)


def test_segment_figures_never_exceed_their_total() -> None:
    """Point and lower-bound figures of the segments of one commodity, region, year and scenario fit inside
    the smallest published total of that key."""
    data = WorldData.load()
    tonnes = [d for d in data.demand if d.unit == "t/yr"]
    totals: dict[tuple[object, ...], float] = {}
    for d in tonnes:
        if d.segment == "all":
            key = (d.commodity, d.region, d.year, d.scenario)
            totals[key] = min(totals.get(key, d.high), d.high)
    # ACREI gives the EV share of China's high-performance NdFeB; the derived total row agrees with it
    ev_share = next(d for d in data.demand if (d.segment, d.region, d.unit) == ("ev", "CN", "share"))
    ev_cn = next(
        d
        for d in tonnes
        if (d.segment, d.commodity, d.region, d.year) == ("ev", "NdFeB", "CN", ev_share.year)
    )
    # published as "35%", i.e. 34.5-35.5% before rounding: the total's high end is NEVs / 0.345
    assert totals[("NdFeB", "CN", ev_share.year, None)] == pytest.approx(
        ev_cn.low / (ev_share.low - 0.005), abs=1
    )
    checked = 0
    for key, total in totals.items():
        parts = [
            d.low for d in tonnes if d.segment != "all" and (d.commodity, d.region, d.year, d.scenario) == key
        ]
        if parts:
            checked += 1
            assert sum(parts) <= total, (key, parts, total)
    assert checked >= 6
