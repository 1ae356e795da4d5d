"""The security-analytics commands: scenario run/list, forecast, dependence, economics, report."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from raretrace.cli.main import app
from tests.test_cli import Cli
from tests.test_world_scenario import _base

Invoke = Callable[..., tuple[int, str, str]]


@pytest.fixture
def invoke(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> Invoke:
    """``main()`` as the console script runs it (errors -> message on stderr and exit code), no --db."""
    cli = Cli(tmp_path, capsysbinary, "")

    def call(*args: str) -> tuple[int, str, str]:
        code, out, err = cli(*args, db=False)
        return code, out.decode(), err

    return call


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _hand_scenario() -> dict[str, Any]:
    """The scenario test_world_scenario solves by hand: the US is 8 t/month short for 3 months (24 t)."""
    return _base()


def test_scenario_run_file_json_and_csv(tmp_path: Path) -> None:
    path = tmp_path / "hand.json"
    path.write_text(json.dumps(_hand_scenario()), encoding="utf-8")
    out = json.loads(_run("scenario", "run", str(path), "--json", "--csv", str(tmp_path / "csv")))
    assert out["unmet_t"] == pytest.approx(24)
    assert {(f["source_country"], f["source_stage"]) for f in out["flows"]} == {
        ("CN", "separation"),
        ("AU", "separation"),
        ("", "unmet"),
    }
    unmet_flow = next(f for f in out["flows"] if f["source_stage"] == "unmet")
    assert unmet_flow["tonnes"] == pytest.approx(24)
    with (tmp_path / "csv" / "scenario_cn-separation-ban_unmet.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["unmet_t"]) for r in rows] == pytest.approx([0, 8, 8, 8, 0])
    text = _run("scenario", "run", str(path))
    assert "2026-02..2026-04" in text and "24.0" in text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"approval_rate": 2}, "scenario.approval_rate"),
        (
            {"supply": [{"country": "CN", "stage": "smelting", "element": "Nd", "t_per_month": 1}]},
            r"scenario.supply\[0\].stage",
        ),
        (
            {"demand": [{"segment": "civil", "country": "US", "element": "Qq", "t_per_month": 1}]},
            r"scenario.demand\[0\].element",
        ),
    ],
)
def test_bad_scenario_file_names_file_and_field(
    tmp_path: Path, change: dict[str, object], field: str, invoke: Invoke
) -> None:
    doc = {**_hand_scenario(), **change}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, _, stderr = invoke("scenario", "run", str(path), "--csv", str(tmp_path / "csv"))
    assert code == 2
    assert str(path) in stderr and re.search(field, stderr), stderr
    assert not (tmp_path / "csv").exists()  # nothing written on rejected input


def test_scenario_file_that_is_not_json_or_missing(tmp_path: Path, invoke: Invoke) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    code, _, stderr = invoke("scenario", "run", str(path))
    assert code == 2 and "broken.json" in stderr and "line 1" in stderr
    code, _, stderr = invoke("scenario", "run", str(tmp_path / "nope.json"))
    assert code == 5 and "cn-magnet-ban-us" in stderr  # lists the shipped names


def test_scenario_list_and_shipped_by_name() -> None:
    listed = json.loads(_run("scenario", "list", "--json"))["scenarios"]
    names = {s["name"] for s in listed}
    assert {"cn-magnet-ban-us", "cn-heavy-ree-ban-us", "japan-2010-replay"} <= names
    assert all(s["description"] and s["sources"] for s in listed)
    japan = json.loads(_run("scenario", "run", "japan-2010-replay", "--json"))
    # 90 a month short for 2 months = 180, less a 150 stockpile = 30 (index units)
    assert japan["unmet_t"] == pytest.approx(30)
    assert japan["stock_used"]["Dy"] == pytest.approx(150)
    heavy = json.loads(_run("scenario", "run", "cn-heavy-ree-ban-us", "--json"))
    # defense Dy 1.28 x 12 + Tb 0.33 x 12 = 19.32 t, less 6 + 1.5 t of stockpile = 11.82 t
    assert heavy["unmet_t"] == pytest.approx(11.82, abs=1e-6)
    assert all(r["unmet_t"] == 0 for r in heavy["rows"] if r["segment"] == "civil")


def test_dependence_shows_seed_beside_computed() -> None:
    out = json.loads(_run("dependence", "--json"))
    stages = {r["stage"]: r for r in out["stages"]}
    assert stages["mining"]["china_share"] == pytest.approx(270_000 / 393_950)
    assert stages["mining"]["seed_share"] == 0.7
    assert all(r["within_tolerance"] for r in stages.values())
    assert out["us_import_sources"]["shares"]["CN"] == 0.7
    text = _run("dependence")
    assert "68.5%" in text and "70.0%" in text


def test_economics_command(invoke: Invoke) -> None:
    out = json.loads(_run("economics", "--json", "--members", "10", "--volume", "1000"))
    assert out["floor"]["per_member_usd_low"] == pytest.approx(55 * 1e6 / 10)
    assert out["floor"]["members"] == 10
    default = json.loads(_run("economics", "--json"))
    assert default["floor"]["members"] == 14  # the consortium regime's member list
    code, _, stderr = invoke("economics", "--members", "0")
    assert code == 2 and "--members" in stderr


def test_forecast_json_is_seeded_and_compares_estimates() -> None:
    a = json.loads(_run("forecast", "--paths", "300", "--seed", "5", "--json"))
    b = json.loads(_run("forecast", "--paths", "300", "--seed", "5", "--json"))
    assert a == b
    lines = {(line["commodity"], line["segment"]): line for line in a["lines"]}
    assert set(lines) == {(c, s) for c in ("NdPr", "Dy", "Tb", "NdFeB") for s in ("defense", "all")}
    defense = lines[("NdFeB", "defense")]
    assert {e["label"] for e in defense["estimates"]} == {"12-24 months", "2027 defense goal"}
    assert lines[("NdFeB", "all")]["demand_rests_on_assumption"] is True
    assert lines[("Dy", "defense")]["demand_rests_on_assumption"] is False


def test_forecast_with_a_bad_model_file(tmp_path: Path, invoke: Invoke) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"start": "2026-1"}), encoding="utf-8")
    code, _, stderr = invoke("forecast", "--model", str(path), "--paths", "10")
    assert code == 2 and "model.json" in stderr and "start" in stderr


def test_report_writes_html_json_and_csv(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    _run(
        "report", "--out", str(out), "--json", str(tmp_path / "j"), "--csv", str(tmp_path / "c"),
        "--paths", "100", "--scenario", "japan-2010-replay",
    )  # fmt: skip
    html = out.read_text(encoding="utf-8")
    assert html.count('class="plotly-graph-div"') >= 9
    names = {p.stem for p in (tmp_path / "j").glob("*.json")}
    assert names == {p.stem for p in (tmp_path / "c").glob("*.csv")}
    assert {"dependence", "forecast", "economics_sensitivity", "scenario_japan-2010-replay_flows"} <= names
    forecast = json.loads((tmp_path / "j" / "forecast.json").read_text(encoding="utf-8"))
    assert len(forecast) == 8
    assert not list(tmp_path.rglob("*.tmp"))


def test_report_rejects_a_bad_scenario_before_writing(tmp_path: Path, invoke: Invoke) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**_hand_scenario(), "exporter": "China"}), encoding="utf-8")
    out = tmp_path / "r.html"
    code, _, stderr = invoke("report", "--out", str(out), "--scenario", str(bad), "--paths", "10")
    assert code == 2 and "bad.json" in stderr and "scenario.exporter" in stderr
    assert not out.exists()


def test_every_command_help_ends_with_an_example() -> None:
    for args in (
        ["scenario", "run"],
        ["scenario", "list"],
        ["forecast"],
        ["dependence"],
        ["economics"],
        ["report"],
    ):
        text = _run(*args, "--help")
        assert "Example: raretrace" in text, args


def test_magnet_ban_shortfall_by_hand() -> None:
    out = json.loads(_run("scenario", "run", "cn-magnet-ban-us", "--json"))
    # allied plants: 83.3 + 166.7 + 166.7 = 416.7 t/month, + 100 from April; the US wants 27.8 + 805.6 = 833.4
    # civil is short 416.7 for 3 months and 316.7 for 9: 4,100.4 t; defense, served first, is never short
    assert out["unmet_t"] == pytest.approx(3 * 416.7 + 9 * 316.7, abs=1e-6)
    assert all(r["unmet_t"] == 0 for r in out["rows"] if r["segment"] == "defense")


def test_docs_walkthrough_runs(tmp_path: Path) -> None:
    from tests.doc_blocks import ROOT, bash_blocks, run_script

    result = run_script(
        bash_blocks(ROOT / "docs" / "analytics.md", "## Walk-through", first_only=True),
        tmp_path,
        copy=("src/raretrace/data/scenarios",),
    )
    assert json.loads((tmp_path / "japan.json").read_text(encoding="utf-8"))["unmet_t"] == pytest.approx(30)
    assert (tmp_path / "report.html").stat().st_size > 1_000_000
    assert (tmp_path / "tables" / "forecast.csv").exists() and (
        tmp_path / "tables" / "forecast.json"
    ).exists()
    assert "68.5%" in result.stdout
