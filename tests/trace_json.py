"""Traces in the JSON form the interfaces give (``render.jsonable`` of the typed answer), for the tests
that read a trace as its users do: by member name (this module holds no tests)."""

from __future__ import annotations

from typing import Any

from raretrace.ledger.lineage import trace_down, trace_up
from raretrace.ledger.registry import Registry
from raretrace.render.jsonable import as_object


def up_json(registry: Registry, lot_id: str, **options: Any) -> dict[str, Any]:
    """``trace_up`` as ``trace --up --json`` and the API write it."""
    return as_object(trace_up(registry, lot_id, **options))


def down_json(registry: Registry, lot_id: str, **options: Any) -> dict[str, Any]:
    """``trace_down`` as ``trace --down --json`` and the API write it."""
    return as_object(trace_down(registry, lot_id, **options))
