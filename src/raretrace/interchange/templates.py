"""The import templates: CSV files shipped as package data, and an Excel workbook made from the same
column definitions (``columns.py``) whenever one is asked for, so the two can never drift apart.

The workbook has one sheet per template, named after it (the importer reads the sheet named after the
kind), and a README sheet listing every column with whether it is required, its units and its meaning.
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

from raretrace.errors import ValidationError
from raretrace.interchange.columns import KINDS, describe, template_headers

TEMPLATE_PACKAGE = "raretrace"
TEMPLATE_DIR = ("data", "templates", "import")


def csv_text(kind: str) -> str:
    """The header line of a kind's CSV template, as the shipped file holds it."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(template_headers(kind))
    return buffer.getvalue()


def shipped_csv(kind: str) -> str:
    """The CSV template shipped in the package (tests check it equals ``csv_text``)."""
    return (
        resources.files(TEMPLATE_PACKAGE).joinpath(*TEMPLATE_DIR, f"{kind}.csv").read_text(encoding="utf-8")
    )


def write_workbook(path: Path) -> Path:
    """An .xlsx with a sheet per template (header row, bold, frozen) and a README sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    readme = workbook.active
    readme.title = "README"
    readme.append(
        ["raretrace import template: fill one sheet, keep its header row; see docs/import-export.md"]
    )
    for kind in KINDS:
        sheet = workbook.create_sheet(kind)
        sheet.append(template_headers(kind))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        readme.append([])
        readme.append([f"sheet {kind}", "required", "units", "description"])
        for row in describe(kind):
            readme.append(list(row))
    workbook.save(path)
    return path


def write_templates(out: Path, formats: tuple[str, ...] = ("csv", "xlsx")) -> list[Path]:
    """Write the templates into folder ``out``: facilities.csv and events.csv, and/or import-template.xlsx."""
    unknown = [f for f in formats if f not in ("csv", "xlsx")]
    if unknown:
        raise ValidationError(f"{unknown[0]!r} is not csv or xlsx", field="format")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if "csv" in formats:
        for kind in KINDS:
            target = out / f"{kind}.csv"
            target.write_text(shipped_csv(kind), encoding="utf-8")
            written.append(target)
    if "xlsx" in formats:
        written.append(write_workbook(out / "import-template.xlsx"))
    return written
