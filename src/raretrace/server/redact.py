"""Answers for a caller who may not see every lot in them (docs/security.md).

Lots the caller may not see become ``hidden-1``, ``hidden-2`` … (numbered in order of first
appearance, so the numbers say nothing about the real ids). Their summaries keep form, mass and stage
— how much came from elsewhere, and at which stage — but not who produced or holds them, nor the
deposit. Shares, masses and path structure are unchanged.

A lot the caller may see is shown with its current custody (custodian, destination of a shipment,
remaining mass) only while one of the caller's facilities holds it or is receiving it: a participant
sees the custody chain only as far as it took part in it, so once the lot has moved on, where it went
next and how much of it was used there are ``hidden`` — the same whether it stayed or moved again.
Certificates are shown with the lots the caller may not see as placeholders, and without the signed
credential (which names every lot and cannot be altered) unless the caller may see all its lots.

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


HIDDEN = "hidden"
#: the fields of a lot that say where it is now and how much of it its holder has used
CUSTODY = ("custodian", "in_transit_to", "remaining_kg")


def redact_custody(lot: dict[str, Any], facilities: Set[str]) -> dict[str, Any]:
    """The lot (a listing row or ``Lot.to_dict``) with its current custody hidden unless one of
    ``facilities`` holds it or is receiving it."""
    if lot.get("custodian") in facilities or lot.get("in_transit_to") in facilities:
        return lot
    hidden = {"custodian": HIDDEN, "in_transit_to": HIDDEN, "remaining_kg": None}
    return lot | {k: v for k, v in hidden.items() if k in lot}


def redact_trace(
    result: dict[str, Any],
    visible: Set[str],
    facilities: Set[str] | None = None,
    names: HiddenNames | None = None,
) -> dict[str, Any]:
    """The same trace with every lot outside ``visible`` replaced by a placeholder from ``names`` (pass
    the same ``names`` for traces shown together; ``hidden_lots`` counts this trace's own), and (given
    the caller's ``facilities``) the custody of the visible lots the caller does not hold hidden."""
    name = names if names is not None else HiddenNames(visible)
    out = dict(result)
    out["lots"] = {name(k): _summary(name, k, v) for k, v in result["lots"].items()}
    if facilities is not None:
        out["lots"] = {k: redact_custody(v, facilities) for k, v in out["lots"].items()}
    out["edges"] = [e | {"child": name(e["child"]), "parent": name(e["parent"])} for e in result["edges"]]
    if "sources" in result:
        out["sources"] = [
            _summary(name, s["lot"], {k: v for k, v in s.items() if k not in ("lot", "paths")})
            | {"lot": name(s["lot"]), "share": s["share"], "path_count": s["path_count"]}
            | ({"element_shares": s["element_shares"]} if "element_shares" in s else {})
            | {"paths": [p | {"lots": [name(x) for x in p["lots"]]} for p in s["paths"]]}
            for s in result["sources"]
        ]
    for key in ("reached", "end_items"):
        if key in result:
            out[key] = [name(x) for x in result[key]]
    out["hidden_lots"] = sum(1 for lot_id in result["lots"] if lot_id not in name.visible)
    return out


def redact_lot(details: dict[str, Any], visible: Set[str], facilities: Set[str]) -> dict[str, Any]:
    """``lot show`` for an operator: inputs it may not see become placeholders, its custody is hidden
    unless the caller holds or is receiving it, and only the shipments the caller sent or received are
    listed (those between two other participants are left out, not merely unnamed: their number and
    dates would say the lot moved on)."""
    name = HiddenNames(visible)
    out = dict(details)
    out["lot"] = redact_custody(details["lot"], facilities)
    out["inputs"] = [item | {"lot": name(item["lot"])} for item in details["inputs"]]
    out["transfers"] = [
        item for item in details["transfers"] if item["from"] in facilities or item["to"] in facilities
    ]
    return out


def redact_certificate(summary: dict[str, Any], visible: Set[str]) -> dict[str, Any]:
    """A certificate (``queries.certificate_summary``, with or without its ``credential``) for a caller
    who may see only ``visible`` of its lots: the others become placeholders, and the credential is
    withheld when it names any of them."""
    name = HiddenNames(visible)
    out = summary | {"lots": [name(lot_id) for lot_id in summary["lots"]]}
    if name.hidden and "credential" in out:
        out["credential"] = None
        out["credential_withheld"] = "it names lots of other participants; ask the issuer or the secretariat"
    return out
