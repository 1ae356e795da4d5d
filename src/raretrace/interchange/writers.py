"""Writing tables as CSV, JSON or Parquet, row by row (Parquet in record batches).

Every export is a stream of records (plain dicts) plus the list of its columns with their types; a
record may hold nested values (composition, origin vectors, findings). CSV and Parquet hold them as
compact JSON text in their column; JSON keeps them as they are. Files are written to a temporary name
and renamed when complete, so a failed export never leaves a half-written file behind.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, TypeAlias

from raretrace.errors import ValidationError

TABLE_FORMATS = ("csv", "json", "parquet")
BATCH_ROWS = 4096
#: column types: text, float, int, bool (Parquet's string, double, int64, bool)
Columns = Sequence[tuple[str, str]]
#: One exported row: column (or JSON member) name to value; nested values are flattened for tables.
Record: TypeAlias = dict[str, object]


def _flat(value: object) -> object:
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, separators=(",", ":"), sort_keys=False)
    return value


#: What a spreadsheet may take for the start of a formula (OWASP, "CSV Injection"): = + - @, tab, CR.
FORMULA_STARTS = frozenset("=+-@\t\r")
QUOTE = "'"


def inert(text: str) -> str:
    """Text a spreadsheet shows as text: one ``'`` put before a cell that could start a formula
    (OWASP's advice), and before one that starts with ``'`` already, so ``plain`` undoes it exactly."""
    if text and (text[0] in FORMULA_STARTS or text[0] == QUOTE):
        return QUOTE + text
    return text


def plain(text: str) -> str:
    """The text ``inert`` was given (a CSV cell as read back by the importer)."""
    if len(text) > 1 and text[0] == QUOTE and (text[1] in FORMULA_STARTS or text[1] == QUOTE):
        return text[1:]
    return text


def _csv_cell(value: object) -> str:
    """A CSV cell; text is made ``inert`` (numbers, written by ``repr``, stay numbers)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | int):
        return repr(value)
    return inert(str(_flat(value)))


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_table(
    path: Path,
    fmt: str,
    columns: Columns,
    records: Iterable[Record],
    *,
    meta: dict[str, object] | None = None,
    nested: bool = True,
) -> int:
    """Write ``records`` to ``path`` as ``fmt``; returns how many were written."""
    if fmt not in TABLE_FORMATS:
        raise ValidationError(f"{fmt!r} is not one of {', '.join(TABLE_FORMATS)}", field="format")
    with _atomic(path) as tmp:
        if fmt == "csv":
            with tmp.open("w", encoding="utf-8", newline="") as handle:
                return _csv(handle, columns, records)
        if fmt == "json":
            with tmp.open("w", encoding="utf-8") as handle:
                return _json(handle, records, meta or {}, columns, nested)
        return _parquet(tmp, columns, records)


def _csv(handle: TextIO, columns: Columns, records: Iterable[Record]) -> int:
    writer = csv.writer(handle, lineterminator="\n")
    # the csv module quotes a field holding "\n" (the line terminator) but not one holding a lone "\r",
    # which every reader takes for the end of the row: such rows are written with every field quoted
    quoted = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_ALL)
    names = [name for name, _ in columns]
    writer.writerow(names)
    count = 0
    for record in records:
        cells = [_csv_cell(record.get(name)) for name in names]
        (quoted if any("\r" in cell for cell in cells) else writer).writerow(cells)
        count += 1
    return count


def _json(
    handle: TextIO,
    records: Iterable[Record],
    meta: dict[str, object],
    columns: Columns,
    nested: bool,
) -> int:
    head = json.dumps(meta)[:-1]
    handle.write(head + (", " if meta else "") + '"items": [')
    count = 0
    names = [name for name, _ in columns]
    for record in records:
        item = record if nested else {name: record.get(name) for name in names}
        handle.write(("," if count else "") + "\n" + json.dumps(item, separators=(",", ":")))
        count += 1
    handle.write("\n]}\n")
    return count


def _parquet(path: Path, columns: Columns, records: Iterable[Record]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"text": pa.string(), "float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}
    schema = pa.schema([(name, types[kind]) for name, kind in columns])
    count = 0
    batch: list[dict[str, object]] = []
    with pq.ParquetWriter(str(path), schema) as writer:
        for record in records:
            batch.append({name: _typed(record.get(name), kind) for name, kind in columns})
            if len(batch) >= BATCH_ROWS:
                writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
                count += len(batch)
                batch = []
        if batch or not count:
            writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
            count += len(batch)
    return count


def _typed(value: Any, kind: str) -> object:
    if value is None:
        return None
    if kind == "text":
        return value if isinstance(value, str) else _flat(value)
    if kind == "float":
        return float(value)
    if kind == "int":
        return int(value)
    return bool(value)
