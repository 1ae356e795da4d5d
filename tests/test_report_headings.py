"""The report's tables have headings people read ("Demand (t) per year", "HHI low"), not field names."""

from __future__ import annotations

import re
from pathlib import Path

from raretrace.world.report import column_heading

TEMPLATE = Path(__file__).resolve().parents[1] / "src" / "raretrace" / "data" / "templates" / "report.html.j2"


def test_every_table_column_of_the_report_has_a_heading_for_people() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    columns = {
        c
        for group in re.findall(r"\{\{ table\([^,]+, \[([^\]]+)\]\) \}\}", text)
        for c in re.findall(r'"(\w+)"', group)
    }
    assert len(columns) > 20
    for column in columns:
        heading = column_heading(column)
        assert "_" not in heading and heading[0].isupper(), (column, heading)
    assert "<th>{{ c|heading }}</th>" in text


def test_headings_spell_units_and_acronyms() -> None:
    assert column_heading("demand_t_per_year") == "Demand (t) per year"
    assert column_heading("hhi_low") == "HHI low"
    assert column_heading("month_p90") == "Month P90"
    assert column_heading("per_member_usd_high") == "Per member USD high"
