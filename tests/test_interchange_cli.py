"""The import, export and template commands: the guide's walk-through as written, the templates'
single source of truth, exit codes and JSON output, and an example in every --help."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from raretrace.interchange.columns import KINDS, columns_for, template_headers
from raretrace.interchange.templates import csv_text, shipped_csv
from tests.doc_blocks import ROOT, bash_blocks, run_script
from tests.test_cli import Cli
from tests.test_interchange_support import every_row

GUIDE = ROOT / "docs" / "import-export.md"
EXAMPLES = ROOT / "docs" / "examples" / "import"


def test_the_guide_walkthrough_runs_as_written(tmp_path: Path) -> None:
    script = bash_blocks(GUIDE, "## Walk-through", first_only=True)
    result = run_script(script, tmp_path, copy=("docs",), timeout=300)
    out, err = result.stdout, result.stderr
    assert "mine-events.csv: would record 2 event(s); tree size 2; nothing written" in " ".join(out.split())
    assert "separator-mes.jsonld: recorded 2 event(s)" in out
    assert "skipped (nothing raretrace records): event 3: AggregationEvent bizStep packing" in out
    assert "refused with exit code 5" in out
    guide = GUIDE.read_text(encoding="utf-8")
    for line in err.splitlines():  # the refusal printed in the guide is the one the command prints
        if "mine-events-broken.csv, row" in line or line.startswith("error:"):
            assert line.strip() in guide, line
    assert (tmp_path / "import-templates" / "import-template.xlsx").exists()
    lots = pq.read_table(tmp_path / "lots.parquet").to_pylist()
    oxide = next(
        r for r in lots if r["id"] == "urn:raretrace:lot:urn:epc:id:sgln:0614141.00001.0:ndpr-oxide-0001"
    )
    assert oxide["mass_kg"] == 14500.0 and oxide["custodian"] == "urn:epc:id:sgln:0614141.00001.0"
    with (tmp_path / "verdicts.csv").open(newline="") as handle:
        verdicts = list(csv.DictReader(handle))
    assert {v["outcome"] for v in verdicts} and all(v["as_of"] == "2027-01-01" for v in verdicts)
    epcis = json.loads((tmp_path / "events.jsonld").read_text())
    assert len(epcis["epcisBody"]["eventList"]) == 4
    traces = json.loads((tmp_path / "traces.json").read_text())
    assert traces["items"][0]["source"] == "urn:raretrace:lot:US-MP-MINE:ore-0001"


def test_shipped_csv_templates_match_the_column_definitions() -> None:
    for kind in KINDS:
        assert shipped_csv(kind) == csv_text(kind)
        assert (ROOT / "src" / "raretrace" / "data" / "templates" / "import" / f"{kind}.csv").exists()


def test_the_workbook_has_the_same_headers_and_the_guide_every_column(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    cli = Cli(tmp_path, capsysbinary, "")
    code, _, err = cli("template", "--format", "xlsx", "--out", str(tmp_path), db=False)
    assert code == 0, err
    workbook = load_workbook(tmp_path / "import-template.xlsx", read_only=True)
    for kind in KINDS:
        header = next(workbook[kind].iter_rows(values_only=True))
        assert list(header) == template_headers(kind)
    readme = [r[0] for r in workbook["README"].iter_rows(values_only=True) if r and r[0]]
    workbook.close()
    guide = GUIDE.read_text(encoding="utf-8")
    for kind in KINDS:
        for column in columns_for(kind):
            assert column.header() in readme
            assert f"| `{column.header()}` |" in guide, column.header()


@pytest.fixture
def cli(db_url: str, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> Cli:
    runner = Cli(tmp_path, capsysbinary, db_url)
    code, _, err = runner("init", "--origin", "cli.example/log")
    assert code == 0, err
    code, _, err = runner("import", str(EXAMPLES / "facilities.csv"))
    assert code == 0, err
    return runner


def test_a_broken_file_exits_non_zero_naming_file_row_and_column(cli: Cli) -> None:
    from raretrace.ledger.registry import Registry
    from raretrace.store.db import make_engine

    registry = Registry(make_engine(cli.db, must_exist=True))
    before = every_row(registry)
    key = str(EXAMPLES / "keys" / "mine-key.pem")
    code, out, err = cli("import", str(EXAMPLES / "mine-events-broken.csv"), "--key", key)
    assert code == 5 and out == b""
    assert "mine-events-broken.csv, row 5, column 'mass (t)': 'one thousand' is not a number" in err
    code, out, _ = cli("import", str(EXAMPLES / "mine-events-broken.csv"), "--key", key, "--json")
    report = json.loads(out)
    assert code == 5 and report["ok"] is False and report["total"] == 3
    assert report["problems"][0] == {
        "file": "mine-events-broken.csv",
        "row": 3,
        "column": "lot_id",
        "reason": "lot urn:raretrace:lot:US-MP-MINE:ore-0101 is already produced on row 2",
    }
    assert every_row(registry) == before


def test_import_and_export_report_in_json(cli: Cli, tmp_path: Path) -> None:
    key = str(EXAMPLES / "keys" / "mine-key.pem")
    done = json.loads(cli("import", str(EXAMPLES / "mine-events.csv"), "--key", key, "--json")[1])
    assert (done["events"], done["kind"], done["first_index"], done["tree_size"]) == (2, "events", 2, 4)
    for what, fmt in (("lots", "csv"), ("lots", "json"), ("events", "parquet"), ("certificates", "csv")):
        out = tmp_path / f"{what}.{fmt}"
        code, text, err = cli("export", what, "--out", str(out), "--format", fmt, "--json")
        assert code == 0, err
        assert json.loads(text)["records"] == {"lots": 2, "events": 3, "certificates": 0}[what]
    code, _, err = cli("export", "lots", "--format", "epcis", "--out", str(tmp_path / "x.jsonld"))
    assert code == 2 and "only events can be exported as EPCIS" in err


@pytest.mark.parametrize("command", ["import", "export", "template"])
def test_every_help_ends_with_an_example(
    command: str, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, out, _ = Cli(tmp_path, capsysbinary, "")(command, "--help", db=False)
    assert code == 0
    assert re.search(r"Example: raretrace .*" + command, " ".join(out.decode().split()))
