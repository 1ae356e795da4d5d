"""Lineage queries: up a lot's history to the mines and deposits, and down to everything it reached.

The graph is the ``lot_inputs`` table: one edge per (output lot, input lot) of a process, assemble or
recycle event, weighted by the input mass allotted to that output. Walking is breadth-first with one
IN query per level, so a trace costs a query per generation, not per lot.

Shares up: an edge's share is its mass over all input mass of the child; a path's share is the
product of its edges' shares, and a source's share the sum over its paths. Shares are of the traced
input mass (additions such as iron have no lot and no share); per-element origin is the job of the
origin vectors. Paths are enumerated, which suits real chains (about 8 deep, modest fan-in).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from raretrace.errors import ValidationError
from raretrace.ledger.registry import Registry
from raretrace.store import schema as t
from raretrace.store.raw import fetch_in

MAX_DEPTH = 64  # a real chain is ~8 deep; this only guards against a corrupted graph
_EDGE_COLUMNS = [t.lot_inputs.c.child, t.lot_inputs.c.parent, t.lot_inputs.c.mass_kg, t.lot_inputs.c.seq]


def _lot_summary(registry: Registry, lot_ids: list[str]) -> dict[str, dict[str, Any]]:
    with registry.engine.connect() as conn:
        lots = registry.store.lots(conn, lot_ids)
    return {
        lot_id: {
            "form": lot.spec.form.value,
            "mass_kg": lot.spec.mass_kg,
            "producer": lot.producer,
            "stage": lot.stage.value,
            "deposit": lot.deposit,
            "custodian": lot.custodian,
        }
        for lot_id, lot in lots.items()
    }


def _walk(registry: Registry, start: str, *, up: bool) -> list[Any]:
    """All edges reachable from ``start`` (towards inputs if ``up``, else towards outputs)."""
    key, other = (t.lot_inputs.c.child, "parent") if up else (t.lot_inputs.c.parent, "child")
    edges: list[Any] = []
    seen = {start}
    frontier = [start]
    with registry.engine.connect() as conn:
        for _ in range(MAX_DEPTH):
            if not frontier:
                return edges
            rows = fetch_in(conn, _EDGE_COLUMNS, key, frontier)
            edges.extend(rows)
            frontier = sorted({getattr(r, other) for r in rows} - seen)
            seen.update(frontier)
    raise ValidationError(f"lineage of {start} is deeper than {MAX_DEPTH} generations", field="lot")


def trace_up(registry: Registry, lot_id: str) -> dict[str, Any]:
    """Every lot upstream of ``lot_id``, the edges, and each source lot (a mine's output) with its share."""
    registry.lot(lot_id)  # raises if unknown
    edges = _walk(registry, lot_id, up=True)
    parents: dict[str, list[Any]] = defaultdict(list)
    for edge in edges:
        parents[edge.child].append(edge)
    share: dict[str, float] = defaultdict(float)
    paths: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # (lot, share of the root carried by this path, lots on the path, input masses on its edges)
    stack: list[tuple[str, float, list[str], list[float]]] = [(lot_id, 1.0, [lot_id], [])]
    while stack:
        node, weight, path, masses = stack.pop()
        incoming = parents.get(node)
        if not incoming:
            share[node] += weight
            paths[node].append({"lots": path, "input_kg": masses, "share": weight})
            continue
        total = sum(e.mass_kg for e in incoming)
        for edge in incoming:
            stack.append(
                (edge.parent, weight * edge.mass_kg / total, [*path, edge.parent], [*masses, edge.mass_kg])
            )
    lots = _lot_summary(registry, sorted({lot_id} | {e.parent for e in edges}))
    sources = [
        {"lot": s, **lots[s], "share": share[s], "paths": paths[s]}
        for s in sorted(share, key=lambda s: -share[s])
    ]
    return {
        "lot": lot_id,
        "direction": "up",
        "lots": lots,
        "sources": sources,
        "edges": [
            {"child": e.child, "parent": e.parent, "mass_kg": e.mass_kg, "event_index": e.seq} for e in edges
        ],
    }


def trace_down(registry: Registry, lot_id: str) -> dict[str, Any]:
    """Every lot made from ``lot_id`` (a recall list), and the end items: lots nothing was made from."""
    registry.lot(lot_id)
    edges = _walk(registry, lot_id, up=False)
    reached = sorted({e.child for e in edges})
    lots = _lot_summary(registry, [lot_id, *reached])
    made_from = {e.parent for e in edges}
    end_items = [lot for lot in reached if lot not in made_from]
    return {
        "lot": lot_id,
        "direction": "down",
        "lots": lots,
        "reached": reached,
        "end_items": end_items,
        "edges": [
            {"child": e.child, "parent": e.parent, "mass_kg": e.mass_kg, "event_index": e.seq} for e in edges
        ],
    }
