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

Traces are redacted from the typed answer itself (``redact_typed_trace``), for the API (written by
orjson) and the web lot page alike: no JSON object is made of the whole trace first, and the edges and
summaries the caller may see are given as they are. It once worked on the JSON object of a trace
(``redact_trace``, kept in ``tests/trace_reference.py``): ``tests/test_redact_typed.py`` holds the two
to the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import replace

from raretrace.jsontypes import JSONObject, JSONValue
from raretrace.ledger.trace_answers import LotSummary, Path, Trace, TraceEdge, TraceSource, UpTrace
from raretrace.render.jsonable import json_ready, ready_object
from raretrace.roles import sees_credential, sees_custody

KEPT = ("form", "mass_kg", "stage")


class HiddenNames:
    """Placeholder names for the lots outside ``visible``, one per lot, numbered in order of first use."""

    def __init__(self, visible: Set[str], prefix: str = "hidden-") -> None:
        self.visible = visible
        self.prefix = prefix
        self.hidden: dict[str, str] = {}

    def __call__(self, lot_id: JSONValue) -> str:
        lot = str(lot_id)
        if lot in self.visible:
            return lot
        name = self.hidden.get(lot)
        if name is None:
            name = self.hidden[lot] = f"{self.prefix}{len(self.hidden) + 1}"
        return name


def _object(value: JSONValue) -> JSONObject:
    """A member the services always answer as an object (a programming error otherwise)."""
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _array(value: JSONValue) -> list[JSONValue]:
    """A member the services always answer as an array (a programming error otherwise)."""
    if not isinstance(value, list):
        raise TypeError(f"expected a JSON array, got {type(value).__name__}")
    return value


HIDDEN = "hidden"
#: the fields of a lot that say where it is now and how much of it its holder has used
CUSTODY = ("custodian", "in_transit_to", "remaining_kg")


def redact_custody(lot: JSONObject, facilities: Set[str]) -> JSONObject:
    """The lot (a listing row or ``Lot.to_dict``) with its current custody hidden unless one of
    ``facilities`` holds it or is receiving it."""
    if sees_custody(facilities, lot.get("custodian"), lot.get("in_transit_to")):
        return lot
    hidden: JSONObject = {"custodian": HIDDEN, "in_transit_to": HIDDEN, "remaining_kg": None}
    return lot | {k: v for k, v in hidden.items() if k in lot}


def _hidden(summary: LotSummary) -> dict[str, object]:
    """A summary of a lot the caller may not see: the ``KEPT`` members and the mark."""
    return {"form": summary["form"], "mass_kg": summary["mass_kg"], "stage": summary["stage"], "hidden": True}


def _typed_lots(
    lots: Mapping[str, LotSummary], name: HiddenNames, facilities: Set[str] | None
) -> dict[str, object]:
    """``lots`` renamed, summarized (the ``KEPT`` members of a hidden lot) and with custody hidden."""
    visible = name.visible
    shown: dict[str, object] = {}
    for lot_id, summary in lots.items():
        if lot_id not in visible:
            shown[name(lot_id)] = _hidden(summary)
        elif facilities is None or sees_custody(facilities, summary["custodian"], None):
            shown[lot_id] = summary
        else:
            shown[lot_id] = summary | {"custodian": HIDDEN}
    return shown


def _typed_edges(edges: tuple[TraceEdge, ...], name: HiddenNames) -> list[object]:
    """The edges, those touching a lot the caller may not see with its placeholder."""
    visible = name.visible
    return [
        edge
        if edge["child"] in visible and edge["parent"] in visible
        else edge | {"child": name(edge["child"]), "parent": name(edge["parent"])}
        for edge in edges
    ]


def _typed_path(path: Path, name: HiddenNames) -> dict[str, object]:
    return {"lots": [name(x) for x in path.lots], "input_kg": path.input_kg, "share": path.share}


def _typed_source(source: TraceSource, name: HiddenNames) -> dict[str, object]:
    """One source, its lot and the lots of its paths named by ``name``: members in the order of its JSON."""
    summary = source.summary
    lot = source.lot
    if lot in name.visible:
        out: dict[str, object] = dict(summary)
        out["share"] = source.share
        out["path_count"] = source.path_count
        if source.element_shares is not None:
            out["element_shares"] = json_ready(source.element_shares)
        out["lot"] = lot
    else:
        out = _hidden(summary)
        out["lot"] = name(lot)
        out["share"] = source.share
        out["path_count"] = source.path_count
        if source.element_shares is not None:
            out["element_shares"] = json_ready(source.element_shares)
    out["paths"] = [_typed_path(path, name) for path in source.paths]
    return out


def redact_typed_trace(
    answer: Trace,
    visible: Set[str],
    facilities: Set[str] | None = None,
    names: HiddenNames | None = None,
) -> dict[str, object]:
    """The same trace with every lot outside ``visible`` replaced by a placeholder from ``names`` (pass
    the same ``names`` for traces shown together; ``hidden_lots`` counts this trace's own), and (given
    the caller's ``facilities``) the custody of the visible lots the caller does not hold hidden: the
    value to give orjson (``render.jsonable.json_ready``'s kind), members in the order of the JSON."""
    name = names if names is not None else HiddenNames(visible)
    # the members replaced below left empty, so that they are not converted only to be dropped
    out = ready_object(replace(answer, sources=()) if isinstance(answer, UpTrace) else answer)
    out["lots"] = _typed_lots(answer.lots, name, facilities)
    if answer.edges is not None:
        out["edges"] = _typed_edges(answer.edges, name)
    if isinstance(answer, UpTrace):
        out["sources"] = [_typed_source(source, name) for source in answer.sources]
    else:
        out["reached"] = [name(x) for x in answer.reached]
        out["end_items"] = [name(x) for x in answer.end_items]
    out["hidden_lots"] = sum(1 for lot_id in answer.lots if lot_id not in name.visible)
    return out


def redact_lot(details: JSONObject, visible: Set[str], facilities: Set[str]) -> JSONObject:
    """``lot show`` for an operator: inputs it may not see become placeholders, its custody is hidden
    unless the caller holds or is receiving it, and only the shipments the caller sent or received are
    listed (those between two other participants are left out, not merely unnamed: their number and
    dates would say the lot moved on)."""
    name = HiddenNames(visible)
    out = dict(details)
    out["lot"] = redact_custody(_object(details["lot"]), facilities)
    inputs: list[JSONValue] = []
    for item in _array(details["inputs"]):
        entry = _object(item)
        inputs.append(entry | {"lot": name(entry["lot"])})
    out["inputs"] = inputs
    out["transfers"] = [
        item
        for item in _array(details["transfers"])
        if _object(item).get("from") in facilities or _object(item).get("to") in facilities
    ]
    return out


def redact_certificate(summary: JSONObject, visible: Set[str]) -> JSONObject:
    """A certificate (``queries.certificate_summary``, with or without its ``credential``) for a caller
    who may see only ``visible`` of its lots: the others become placeholders, and the credential is
    withheld when it names any of them."""
    lots = [str(lot_id) for lot_id in _array(summary["lots"])]
    name = HiddenNames(visible)
    out = summary | {"lots": [name(lot_id) for lot_id in lots]}
    if not sees_credential(lots, visible) and "credential" in out:
        out["credential"] = None
        out["credential_withheld"] = "it names lots of other participants; ask the issuer or the secretariat"
    return out
