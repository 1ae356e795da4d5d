"""Lineage answers for a caller who may not see every lot in them.

Lots the caller may not see become ``hidden-1``, ``hidden-2`` … (numbered in order of first
appearance, so the numbers say nothing about the real ids). Their summaries keep form, mass and stage
— how much came from elsewhere, and at which stage — but not who produced or holds them, nor the
deposit. Shares, masses and path structure are unchanged.

One ``HiddenNames`` numbers every answer that is shown together: the web lot page redacts its up and
down traces with the same one, so one hidden lot has one name on the page and two hidden lots never
share one. The API answers each direction on its own, with its own prefix (``hidden-up-1`` …,
``hidden-down-1`` …), so a client merging the two answers cannot merge two lots either.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

KEPT = ("form", "mass_kg", "stage")


class HiddenNames:
    """Placeholder names for the lots outside ``visible``, one per lot, numbered in order of first use."""

    def __init__(self, visible: Set[str], prefix: str = "hidden-") -> None:
        self.visible = visible
        self.prefix = prefix
        self.hidden: dict[str, str] = {}

    def __call__(self, lot_id: str) -> str:
        if lot_id in self.visible:
            return lot_id
        name = self.hidden.get(lot_id)
        if name is None:
            name = self.hidden[lot_id] = f"{self.prefix}{len(self.hidden) + 1}"
        return name


def _summary(name: HiddenNames, lot_id: str, summary: dict[str, Any]) -> dict[str, Any]:
    if lot_id in name.visible:
        return summary
    return {k: v for k, v in summary.items() if k in KEPT} | {"hidden": True}


def redact_trace(
    result: dict[str, Any], visible: Set[str], names: HiddenNames | None = None
) -> dict[str, Any]:
    """The same trace with every lot outside ``visible`` replaced by a placeholder from ``names`` (pass
    the same ``names`` for traces shown together); ``hidden_lots`` counts this trace's own."""
    name = names if names is not None else HiddenNames(visible)
    out = dict(result)
    out["lots"] = {name(k): _summary(name, k, v) for k, v in result["lots"].items()}
    out["edges"] = [e | {"child": name(e["child"]), "parent": name(e["parent"])} for e in result["edges"]]
    if "sources" in result:
        out["sources"] = [
            _summary(name, s["lot"], {k: v for k, v in s.items() if k not in ("lot", "paths")})
            | {"lot": name(s["lot"]), "share": s["share"], "path_count": s["path_count"]}
            | {"paths": [p | {"lots": [name(x) for x in p["lots"]]} for p in s["paths"]]}
            for s in result["sources"]
        ]
    for key in ("reached", "end_items"):
        if key in result:
            out[key] = [name(x) for x in result[key]]
    out["hidden_lots"] = sum(1 for lot_id in result["lots"] if lot_id not in name.visible)
    return out


def redact_lot(details: dict[str, Any], visible: Set[str], facilities: Set[str]) -> dict[str, Any]:
    """``lot show`` for an operator: inputs it may not see become placeholders, and shipments between
    two other participants' facilities name neither."""
    name = HiddenNames(visible)
    out = dict(details)
    out["inputs"] = [item | {"lot": name(item["lot"])} for item in details["inputs"]]
    out["transfers"] = [
        item
        if item["from"] in facilities or item["to"] in facilities
        else item | {"from": "hidden", "to": "hidden"}
        for item in details["transfers"]
    ]
    return out
