"""A bill of material as people upload it: CSV, one row per lot, with the kilograms of that lot the
item takes. Every row is checked before anything is judged, and every problem is reported with its
row and column at once, so a user fixes the file in one pass (a row number counts the header as 1,
as a spreadsheet shows it)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

from raretrace.errors import ValidationError

#: Column names accepted, by what they hold.
LOT_COLUMNS = ("lot", "lot_id", "lot id")
QUANTITY_COLUMNS = ("quantity_kg", "quantity", "mass_kg", "kg")
MAX_ROWS = 1000
MAX_BYTES = 1024 * 1024
MAX_LISTED = 20  # problems listed before "and N more"


@dataclass(frozen=True)
class BomLine:
    row: int
    lot: str
    kg: float


class BomError(ValidationError):
    """A bill of material with problems: each names its row and column."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        shown = problems[:MAX_LISTED]
        more = f"; and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        super().__init__("; ".join(shown) + more, field="bom")


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    cleaned = [h.strip().lower() for h in header]
    for name in names:
        if name in cleaned:
            return cleaned.index(name)
    return None


def parse_bom(raw: bytes) -> list[BomLine]:
    """The lines of a bill of material (CSV, UTF-8, a header naming a lot column and a quantity in
    kg); raises ``BomError`` listing every bad row. A lot listed twice is an error, not a sum: a
    duplicated row is more often a mistake than an intent."""
    if len(raw) > MAX_BYTES:
        raise BomError([f"the file is {len(raw):,} bytes; a bill of material may have up to {MAX_BYTES:,}"])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BomError([f"the file is not UTF-8 text (byte {e.start})"]) from e
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise BomError(["the file is empty: give a header (lot,quantity_kg) and one row per lot"])
    header = rows[0]
    lot_at, kg_at = _column(header, LOT_COLUMNS), _column(header, QUANTITY_COLUMNS)
    missing = [
        f"the header has no {names[0]} column (found: {', '.join(h.strip() for h in header) or 'nothing'})"
        for names, at in ((LOT_COLUMNS, lot_at), (QUANTITY_COLUMNS, kg_at))
        if at is None
    ]
    if missing:
        raise BomError(missing)
    assert lot_at is not None  # both found: missing is empty
    assert kg_at is not None
    if len(rows) - 1 > MAX_ROWS:
        raise BomError([f"{len(rows) - 1:,} rows; a bill of material may have up to {MAX_ROWS:,}"])
    if len(rows) == 1:
        raise BomError(["no rows after the header: list at least one lot"])
    problems: list[str] = []
    lines: list[BomLine] = []
    first_row: dict[str, int] = {}
    lot_name, kg_name = header[lot_at].strip(), header[kg_at].strip()
    for number, cells in enumerate(rows[1:], start=2):
        lot = cells[lot_at].strip() if lot_at < len(cells) else ""
        text_kg = cells[kg_at].strip() if kg_at < len(cells) else ""
        if not lot:
            problems.append(f"row {number}, column {lot_name}: no lot id")
        elif len(lot) > 200:
            problems.append(f"row {number}, column {lot_name}: a lot id has up to 200 characters")
        elif lot in first_row:
            problems.append(f"row {number}: lot {lot} is already listed in row {first_row[lot]}")
        try:
            kg = float(text_kg) if text_kg else math.nan
        except ValueError:
            kg = math.nan
        if not text_kg:
            problems.append(f"row {number}, column {kg_name}: no quantity")
        elif not math.isfinite(kg):
            problems.append(f"row {number}, column {kg_name}: {text_kg!r} is not a number of kilograms")
        elif kg <= 0:
            problems.append(f"row {number}, column {kg_name}: {text_kg} kg; a quantity is a positive mass")
        if lot and lot not in first_row:
            first_row[lot] = number
        lines.append(BomLine(number, lot, kg))
    if problems:
        raise BomError(problems)
    return lines
