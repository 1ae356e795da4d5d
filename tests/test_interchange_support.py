"""Shared pieces of the interchange tests: a full-table snapshot and CSV writing.

(Named test_* so it sits with the files it serves; it holds no tests itself.)
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from raretrace.ledger.registry import Registry
from raretrace.store import schema as t

EVENT_HEADER = [
    "event_id",
    "kind",
    "time",
    "facility_id",
    "role",
    "lot_id",
    "form",
    "mass (kg)",
    "stage",
    "deposit",
    "to_facility",
    "La (fraction)",
    "Ce (fraction)",
    "Pr (fraction)",
    "Nd (fraction)",
    "Fe (fraction)",
    "other (fraction)",
]


def every_row(registry: Registry) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: 'nothing written' means this is unchanged."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with registry.engine.connect() as conn:
        for name, table in t.metadata.tables.items():
            rows = [tuple(r) for r in conn.execute(select(table)).all()]
            out[name] = sorted(rows, key=repr)
    return out


def write_csv(path: Path, header: Sequence[str], rows: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(name, "") for name in header])
    return path


def event_row(event_id: str, kind: str, facility: str, role: str, **cells: Any) -> dict[str, Any]:
    """One row of the events template (the header above), with the usual time."""
    return {
        "event_id": event_id,
        "kind": kind,
        "time": "2026-02-01T08:00:00Z",
        "facility_id": facility,
        "role": role,
        **cells,
    }
