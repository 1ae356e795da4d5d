"""The price commands and the headline numbers of docs/analytics.md, each recomputed from the data files
(by hand arithmetic on the rows, not copied from the tool's output)."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tests.test_world_cli import Invoke, _run, invoke  # noqa: F401


def _data(name: str) -> Any:
    return json.loads(resources.files("raretrace").joinpath(f"data/world/{name}").read_text("utf-8"))


def test_backtest_json_states_its_error() -> None:
    out = json.loads(_run("backtest", "--paths", "400", "--seed", "2", "--json"))
    points = out["points"]
    assert [p["series"] for p in points][:5] == ["Dy oxide"] * 5
    errors = [abs(math.log10(p["model_p50"] / p["observed"])) for p in points]
    assert out["mean_abs_log10_error"] == pytest.approx(sum(errors) / len(errors))
    assert out["error_factor"] == pytest.approx(10 ** out["mean_abs_log10_error"])
    # Dy year-end 2011 observed: the middle of $1,400-1,420 over the $91 pre-episode price
    assert points[3]["observed"] == pytest.approx(1410 / 91)
    assert out["dependence"]["observed_before"] == 0.9


def test_forecast_basis_production_against_nameplate() -> None:
    prod = json.loads(_run("forecast", "--paths", "300", "--json"))
    old = json.loads(_run("forecast", "--paths", "300", "--basis", "nameplate", "--json"))
    assert prod["basis"] == "production" and old["basis"] == "nameplate"
    by = {(c["commodity"], c["segment"]): c for c in prod["lines"]}
    was = {(c["commodity"], c["segment"]): c for c in old["lines"]}
    # nameplate: MP 1,300 + Lynas 10,500 + White Mesa 850, all American
    assert was[("NdPr", "all")]["baseline_t_per_year"] == pytest.approx(1300 + 10500 + 850)
    # production: MP's three 2025 quarters annualised, Lynas' last four quarters times its US share
    # (US imports from Malaysia 2020-23, 13% of 36,980 t, over Lynas' FY2020-23 sales, 61,854 t), White
    # Mesa phase 1 at the utilisation Lynas shows (no reports of its own)
    lynas = 1509 + 2080 + 2003 + 1404
    expected = (563 + 597 + 721) / 3 * 4 + 0.13 * 36_980 / 61_854 * lynas + 850 * lynas / 10500
    assert by[("NdPr", "all")]["baseline_t_per_year"] == pytest.approx(expected)
    # Dy: the reported 26 t Dy+Tb a quarter, 80% Dy, 10% to the US
    assert by[("Dy", "defense")]["baseline_t_per_year"] == pytest.approx(26 * 0.8 * 4 * 0.1)


def test_forecast_tornado_and_bad_basis(invoke: Invoke, tmp_path: Path) -> None:  # noqa: F811
    out = json.loads(_run("forecast", "--paths", "200", "--tornado", "--json"))
    bars = {(t["commodity"], t["segment"]): t["bars"] for t in out["tornado"]}
    inputs = {b["input"] for b in bars[("Dy", "defense")]}
    assert {"ramp-up length", "utilisation once ramped", "offtake to US: lynas-malaysia-hree"} <= inputs
    widths = [abs(b["metric_high"] - b["metric_low"]) for b in bars[("Dy", "defense")]]
    assert widths == sorted(widths, reverse=True)
    code, _, err = invoke("forecast", "--basis", "capacity", "--paths", "10")
    assert code == 2 and "--basis" in err
    bad = tmp_path / "production.json"
    doc = _data("production.json")
    doc["producers"][0]["status"] = "closed"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    code, _, err = invoke("forecast", "--production", str(bad), "--paths", "10")
    assert code == 2 and "producers[0].status" in err


def test_priced_scenario_run_json() -> None:
    out = json.loads(_run("scenario", "run", "cn-heavy-ree-ban-us", "--paths", "200", "--json"))
    markets = {m["element"]: m for m in out["market"]}
    assert set(markets) == {"Dy", "Tb"}
    dy = markets["Dy"]
    assert dy["p0_usd_per_kg"] == 260
    # China denies the defense line (1.28 of 38.28 t/month): the median price is p0 x (1/(1 - share))^(1/0.3)
    first = dy["months"][0]
    share = 1.28 / 38.28
    assert first["price_p50"] == pytest.approx(260 * (1 / (1 - share)) ** (1 / 0.3), rel=0.05)
    assert first["price_p10"] <= first["price_p50"] <= first["price_p90"]
    assert abs(first["price_central_highs"] / (260 * (1 / (1 - share)) ** (1 / 0.3)) - 1) < 0.01


def test_economics_json_element_costs() -> None:
    out = json.loads(_run("economics", "--json"))
    f35 = next(
        c for c in out["element_costs"] if c["platform"].startswith("F-35") and c["reading"] == "magnet"
    )
    lines = {x["element"]: x for x in f35["lines"]}
    # 417.3 kg read as magnet: Dy 4% = 16.692 kg; as Dy2O3 (Dy 2 x 162.500 / (2 x 162.500 + 3 x 15.999))
    dy_factor = 2 * 162.500 / (2 * 162.500 + 3 * 15.999)
    assert lines["Dy"]["element_kg"] == pytest.approx(417.3 * 0.04)
    assert lines["Dy"]["oxide_kg"] == pytest.approx(417.3 * 0.04 / dy_factor, rel=1e-3)
    # at $260/kg Dy oxide and the 3.1-4.5x Europe ratio: premium (r - 1) x value
    dy_value = 417.3 * 0.04 / dy_factor * 260
    assert lines["Dy"]["allied_premium_usd"][0] == pytest.approx(dy_value * (3.1 - 1), rel=1e-3)
    crises = {(r["id"], r["platform"], r["reading"]): r for r in out["crises"]}
    peak = crises[("2011-quota-dy-peak", f35["platform"], "magnet")]
    assert peak["premium_usd"][0] == pytest.approx(f35["china_usd"][0] * (2377 / 91 - 1), rel=2e-3)
    spreads = {(b["element"], b["form"]): b for b in out["bases"]}
    # Reuters 2012-03-09: Dy metal 6,200-6,300 yuan/kg against Dy oxide 3,900-4,000 yuan/kg of oxide
    lo = 6200 / 0.99 / (4000 / dy_factor)
    assert spreads[("Dy", "metal")]["ratio"][0] == pytest.approx(lo, rel=1e-3)


def test_dependence_by_control_recomputed() -> None:
    out = json.loads(_run("dependence", "--json"))
    rows = {(r["group"], r["basis"][:4]): r for r in out["mining_by_control"]}
    mining = _data("mining.json")
    usgs = {p["country"]: p["t_reo"] for p in mining["production"] if p["year"] == 2024}
    world = sum(usgs.values())
    cn_mm = rows[("CN + MM", "USGS")]
    assert cn_mm["by_location"] == pytest.approx((usgs["CN"] + usgs["MM"]) / world)
    # control: Myanmar's ore to China, 32,703 of 45,455 t of Mountain Pass output to Shenghe in 2024
    to_china = usgs["US"] * 32703 / 45455
    assert cn_mm["by_control"] == pytest.approx((usgs["CN"] + usgs["MM"] + to_china) / world)
    iea = rows[("CN + MM", "IEA ")]
    assert iea["by_location"] == pytest.approx((45 + 12) / (45 + 12 + 3 + 6 + 7))
    assert iea["by_control"] == pytest.approx((45 + 12 + 6 * 32703 / 45455) / 73)
