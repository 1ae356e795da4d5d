"""Reading CSV and Excel files row by row, without holding the file in memory.

CSV goes through the standard ``csv`` reader over an open file (a BOM, as Excel writes, is
dropped); Excel through openpyxl's read-only mode, which parses the sheet's XML as it is iterated.
Either way the caller gets the header row and then one row at a time, numbered as a spreadsheet
numbers them (the header is row 1), and a position for a progress bar.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from io import BufferedReader, TextIOWrapper
from pathlib import Path
from typing import Any

from raretrace.errors import ValidationError
from raretrace.interchange.writers import plain

FORMATS = ("csv", "xlsx", "epcis")
_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "epcis",
    ".jsonld": "epcis",
}


def detect_format(path: Path, given: str | None) -> str:
    if given is not None:
        if given not in FORMATS:
            raise ValidationError(f"{given!r} is not one of {', '.join(FORMATS)}", field="format")
        return given
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise ValidationError(
            f"cannot tell the format of {path.name} from its extension; give --format ({', '.join(FORMATS)})",
            field="format",
        )
    return found


@dataclass
class Sheet:
    """A table being read: its header, then its rows as (row number, cells)."""

    name: str
    header: Sequence[object]
    rows: Iterator[tuple[int, Sequence[object]]]
    #: (done, total) in the units the source knows (bytes of a CSV, rows of a sheet); total may be None
    position: Callable[[], tuple[int, int | None]]


def _blank(cells: Sequence[object]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def rows_from(cells: Iterator[Sequence[object]], name: str, start: int = 1) -> Sheet:
    """A sheet over any iterator of rows (the first non-blank one is the header): what the CSV and
    Excel readers build on, and what a caller with rows from elsewhere (a generator) can use."""
    number = start - 1
    header: Sequence[object] = ()
    for row in cells:
        number += 1
        if not _blank(row):
            header = row
            break
    header_row = number

    def body() -> Iterator[tuple[int, Sequence[object]]]:
        n = header_row
        for row in cells:
            n += 1
            if not _blank(row):
                yield n, row

    done = [0]

    def counting() -> Iterator[tuple[int, Sequence[object]]]:
        for n, row in body():
            done[0] = n
            yield n, row

    return Sheet(name, header, counting(), lambda: (done[0], None))


@contextmanager
def open_sheet(path: Path, fmt: str, kind: str | None = None) -> Iterator[Sheet]:
    """The table in a CSV file or an Excel workbook (the sheet named after ``kind`` if there is one,
    else the first sheet). Raises a ValidationError naming the file if it cannot be read at all."""
    if fmt == "csv":
        with _open_text(path) as (handle, raw):
            size = path.stat().st_size
            cells = ([plain(cell) for cell in row] for row in csv.reader(handle))  # exports are inert
            sheet = rows_from(cells, path.name)
            sheet.position = lambda: (raw.tell(), size)
            yield sheet
        return
    if fmt == "xlsx":
        with _open_workbook(path) as workbook:
            names = workbook.sheetnames
            chosen = kind if kind in names else names[0]
            sheet_obj = workbook[chosen]
            total = sheet_obj.max_row if isinstance(sheet_obj.max_row, int) else None
            sheet = rows_from(sheet_obj.iter_rows(values_only=True), f"{path.name} [{chosen}]")
            counted = sheet.position
            sheet.position = lambda: (counted()[0], total)
            yield sheet
        return
    raise ValidationError(f"{fmt!r} is not a table format (csv, xlsx)", field="format")


@contextmanager
def _open_text(path: Path) -> Iterator[tuple[TextIOWrapper, BufferedReader]]:
    """The file as text for the csv reader, and its byte stream (whose position a progress bar shows)."""
    try:
        raw = path.open("rb")
    except OSError as e:
        raise ValidationError(f"cannot read {path}: {e.strerror}", field="file") from e
    handle = TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    try:
        yield handle, raw
    except UnicodeDecodeError as e:
        raise ValidationError(f"{path.name} is not UTF-8 text (save the CSV as UTF-8)", field="file") from e
    except csv.Error as e:
        raise ValidationError(f"{path.name} is not a readable CSV file: {e}", field="file") from e
    finally:
        handle.close()


@contextmanager
def _open_workbook(path: Path) -> Iterator[Any]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except OSError as e:
        raise ValidationError(f"cannot read {path}: {e.strerror}", field="file") from e
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise ValidationError(
            f"{path.name} is not an Excel workbook (.xlsx) openpyxl can read: {e}", field="file"
        ) from e
    try:
        yield workbook
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError) as e:
        raise ValidationError(f"{path.name}: the workbook is damaged: {e}", field="file") from e
    finally:
        workbook.close()


# --- cell values ---------------------------------------------------------------------------------------


def cell_text(value: object) -> str | None:
    """A cell as text (None when empty). Numbers that are whole print without '.0'."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        raise ValidationError(
            "a spreadsheet date carries no UTC offset; write the time as text, e.g. 2026-01-05T08:00:00Z",
            field="time",
        )
    text = str(value).strip()
    return text or None


def cell_number(value: object) -> float | None:
    """A cell as a number (None when empty); text must be a plain decimal number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationError("must be a number, not true/false", field="value")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError as e:
        raise ValidationError(f"{value!r} is not a number (use '.' for decimals)", field="value") from e
